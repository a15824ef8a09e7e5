#include "adapters/fhir_rest/fhir_http.hpp"

#include "mappings/fhir/fhir_ingest.hpp"

#include <utility>

namespace carebridge::adapters::fhir_rest {

http_response outcome(unsigned status, std::string code, std::string text, std::string expression,
                      std::string_view severity) {
  mappings::fhir::fhir_input_error e{status, std::move(code), std::move(text),
                                     std::move(expression)};
  return {status, std::string(fhir_json), mappings::fhir::operation_outcome(e, severity), {}};
}

std::optional<std::vector<query_pair>> split_query(std::string_view q) {
  std::vector<query_pair> out;
  while (!q.empty()) {
    const std::size_t amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    if (!pair.empty()) {
      const std::size_t eq = pair.find('=');
      auto name = percent_decode(pair.substr(0, eq), true);
      auto value = percent_decode(
          eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
      if (!name || !value) return std::nullopt;
      out.push_back({std::move(*name), std::move(*value), pair});
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

std::string param(const http_request& r, std::string_view name) {
  const auto it = r.params.find(name);
  return it == r.params.end() ? std::string() : it->second;
}

void match_entry(mappings::fhir::json_out& j, const std::string& full_url,
                 std::string_view resource_json) {
  j.begin_object();
  j.field("fullUrl", full_url);
  j.key("resource");
  j.raw(resource_json);
  j.begin_object("search");
  j.field("mode", "match");
  j.end_object();
  j.end_object();
}

}  // namespace carebridge::adapters::fhir_rest
