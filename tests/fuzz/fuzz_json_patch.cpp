// Fuzz target: RFC 6902 JSON Patch (mappings/fhir/json_patch) on any document and any patch. The
// input is the document, a newline, then the patch; both are parsed as the FHIR code parses input
// (iterative, UTF-8 checked, at most 64 levels deep: RapidJSON's copy, compare and write recurse).
// check_patch() with the Task PATCH's 100-operation cap, then apply_patch() to a copy, and the
// promises of json_patch.hpp:
//   - a refused shape is 400 invalid or too-long, with a text that names no value;
//   - a refused operation is 409 conflict (a test), 422 processing (a target not there), 422
//     too-costly (copies over their budget) or 400 invalid (a move into its own child), and names
//     an operation of the patch;
//   - the original document is never changed (the patch goes to a copy);
//   - a patched document writes as valid JSON that reads back to the same document;
//   - when the last operation is an add (not "-") or a replace, its value is at its path;
//   - applying the same patch again gives the same bytes or the same refusal.
#include "tests/fuzz/fuzz_check.hpp"

#include "mappings/fhir/json_patch.hpp"

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace fhir = carebridge::mappings::fhir;

constexpr unsigned parse_flags =
    rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;
constexpr std::size_t max_depth = 64;

std::size_t depth_of(const rapidjson::Value& v, std::size_t depth = 1) {
  if (depth > max_depth) return depth;
  std::size_t deepest = depth;
  if (v.IsArray()) {
    for (const auto& e : v.GetArray()) {
      deepest = std::max(deepest, depth_of(e, depth + 1));
      if (deepest > max_depth) break;
    }
  } else if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      deepest = std::max(deepest, depth_of(m.value, depth + 1));
      if (deepest > max_depth) break;
    }
  }
  return deepest;
}

std::optional<rapidjson::Document> read(std::string_view json) {
  rapidjson::Document d;
  d.Parse<parse_flags>(json.data(), json.size());
  if (d.HasParseError() || depth_of(d) > max_depth) return std::nullopt;
  return d;
}

std::string text(const rapidjson::Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  CB_FUZZ_REQUIRE(v.Accept(w));
  return {b.GetString(), b.GetSize()};
}

// The patch applied to a copy of `doc`: the copy's JSON, or the refusal as "<status> <code>: text".
std::string applied(const rapidjson::Value& doc, const rapidjson::Value& ops,
                    rapidjson::Document& copy) {
  copy.CopyFrom(doc, copy.GetAllocator());
  if (const auto r = fhir::apply_patch(copy, ops, "Task"))
    return std::to_string(r->status) + " " + r->code + ": " + r->text;
  return text(copy);
}

bool names_an_operation(std::string_view t, rapidjson::SizeType count) {
  constexpr std::string_view prefix = "JSON Patch operation ";
  if (!t.starts_with(prefix)) return false;
  t.remove_prefix(prefix.size());
  std::size_t n = 0, digits = 0;
  while (digits < t.size() && t[digits] >= '0' && t[digits] <= '9')
    n = n * 10 + static_cast<std::size_t>(t[digits++] - '0');
  return digits > 0 && digits < 4 && n < count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = carebridge::fuzz::as_text(data, size);
  const std::size_t nl = input.find('\n');
  if (nl == std::string_view::npos) return 0;
  auto doc = read(input.substr(0, nl));
  auto ops = read(input.substr(nl + 1));
  if (!doc || !ops) return 0;

  if (const auto r = fhir::check_patch(*ops, 100)) {
    CB_FUZZ_REQUIRE(r->status == 400);
    CB_FUZZ_REQUIRE(r->code == "invalid" || r->code == "too-long");
    CB_FUZZ_REQUIRE(r->text.starts_with("a JSON Patch ") ||
                    (ops->IsArray() && names_an_operation(r->text, ops->Size())));
    return 0;
  }

  const std::string before = text(*doc);
  rapidjson::Document copy;
  copy.CopyFrom(*doc, copy.GetAllocator());
  const auto r = fhir::apply_patch(copy, *ops, "Task");
  CB_FUZZ_REQUIRE(text(*doc) == before);  // the original is untouched

  rapidjson::Document again;
  const std::string second = applied(*doc, *ops, again);
  if (r) {
    CB_FUZZ_REQUIRE(names_an_operation(r->text, ops->Size()));
    CB_FUZZ_REQUIRE((r->status == 409 && r->code == "conflict") ||
                    (r->status == 422 && (r->code == "processing" || r->code == "too-costly")) ||
                    (r->status == 400 && r->code == "invalid"));
    CB_FUZZ_REQUIRE(second == std::to_string(r->status) + " " + r->code + ": " + r->text);
    return 0;
  }

  const std::string after = text(copy);
  CB_FUZZ_REQUIRE(second == after);
  rapidjson::Document back;  // full precision: the default parse may read a double 1 ulp off
  back.Parse<parse_flags | rapidjson::kParseFullPrecisionFlag>(after.data(), after.size());
  CB_FUZZ_REQUIRE(!back.HasParseError());
  CB_FUZZ_REQUIRE(text(back) == after);  // as text: == ignores member order and trips on duplicates

  const auto& last = (*ops)[ops->Size() - 1];
  const std::string_view op(last["op"].GetString(), last["op"].GetStringLength());
  const std::string_view path(last["path"].GetString(), last["path"].GetStringLength());
  if (op == "replace" || (op == "add" && !path.ends_with("/-"))) {
    const rapidjson::Value* at = rapidjson::Pointer(path.data(), path.size()).Get(copy);
    CB_FUZZ_REQUIRE(at != nullptr && text(*at) == text(last["value"]));
  }
  return 0;
}
