// Reading JSON that comes from outside: RapidJSON's iterative parser (no recursion however deeply
// the input nests) with UTF-8 checked, then a nesting limit checked without recursion — RapidJSON's
// writers and CopyFrom recurse, so input nested deeper than the limit is refused before anything
// else touches it. No I/O.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace carebridge::mappings::fhir {

/// Deepest nesting of arrays and objects under `root` (a scalar is 0, `[]` is 1), counting no
/// further than `limit + 1`; without recursion.
inline std::size_t json_depth(const rapidjson::Value& root, std::size_t limit) {
  std::vector<std::pair<const rapidjson::Value*, std::size_t>> stack{{&root, 1}};
  std::size_t deepest = 0;
  while (!stack.empty()) {
    const auto [v, d] = stack.back();
    stack.pop_back();
    if (!v->IsObject() && !v->IsArray()) continue;
    if (d > deepest) deepest = d;
    if (d > limit) return d;
    if (v->IsObject()) {
      for (const auto& m : v->GetObject()) stack.emplace_back(&m.value, d + 1);
    } else {
      for (const auto& e : v->GetArray()) stack.emplace_back(&e, d + 1);
    }
  }
  return deepest;
}

enum class json_read : std::uint8_t { ok, not_json, too_deep };

/// Parses `text` into `d` (iteratively, UTF-8 checked) and checks its nesting against `max_depth`.
inline json_read read_json(rapidjson::Document& d, std::string_view text,
                           std::size_t max_depth = 64) {
  d.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(text.data(),
                                                                                  text.size());
  if (d.HasParseError()) return json_read::not_json;
  if (json_depth(d, max_depth) > max_depth) return json_read::too_deep;
  return json_read::ok;
}

}  // namespace carebridge::mappings::fhir
