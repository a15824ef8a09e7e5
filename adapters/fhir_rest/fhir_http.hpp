// Small pieces every FHIR route file of this folder answers with: the FHIR JSON media type, an
// OperationOutcome answer, the query split into decoded parameters, a searchset entry. Private to
// adapters/fhir_rest (the public entry points are the *_api.hpp and http_server.hpp); no I/O.
#pragma once

#include "adapters/fhir_rest/http_server.hpp"
#include "mappings/fhir/fhir_json.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::adapters::fhir_rest {

inline constexpr std::string_view fhir_json = "application/fhir+json; charset=utf-8";

/// An OperationOutcome answer (FHIR JSON) with one issue: `code` is the issue type, `text` the
/// peer-facing text (never PHI), `expression` the FHIRPath of the element at fault, if any.
http_response outcome(unsigned status, std::string code, std::string text,
                      std::string expression = {}, std::string_view severity = "error");

/// One parameter of a query (or form body): name and value percent-decoded ('+' is a space).
struct query_pair {
  std::string name;
  std::string value;
  std::string_view raw;  // "name=value" as sent (for a self or next link); views the input
};

/// The query's parameters in order, empty pairs skipped; nullopt for a malformed escape.
std::optional<std::vector<query_pair>> split_query(std::string_view q);

/// The route parameter `name` ("{name}" in the pattern), or "" when the route has none.
std::string param(const http_request& r, std::string_view name);

/// One entry of a searchset Bundle: a resource that matched the search.
void match_entry(mappings::fhir::json_out& j, const std::string& full_url,
                 std::string_view resource_json);

}  // namespace carebridge::adapters::fhir_rest
