// The audit trail on the HTTP server: the observer that records every answered request under /fhir
// and /auth (gateway/audit/audit_log), and the ops' search of what it recorded:
//
//   GET /fhir/AuditEvent        search: date (eq/ge/gt/le/lt, repeatable, ANDed), agent (client
//                               id), entity (Type/id), entity-type, action, outcome, subtype,
//                               _count (default 100, at most 1000); oldest first, a `next` link
//                               pages by id (_after)
//   GET /fhir/AuditEvent/{id}   one record
//
// Only principals of role ops may call them: the guard of /fhir enforces that, and the routes
// check `http_request::principal` again (no principal, or another role: 403 OperationOutcome).
//
// What the observer records per request (audit_record_of): who (the principal's client id, role
// and group; none: anonymous), the peer address, the interaction worked out from the route pattern
// and method (GET {type}/{id} read, GET {type} search-type, POST {type} create, PUT update, PATCH
// patch, DELETE delete, POST /fhir transaction or batch, a `$name` segment the operation), the
// entity (type and id from the route's parameters; a create's id from its Location), a search's
// parameter names (values only for references and codes: patient=Patient/p1, status=requested),
// and the status. POST /auth/token is `token`; it names the client only when the token was issued
// (the form's client_id, else the subject of its client assertion — verified by then). Not
// recorded: /fhir/metadata and .well-known (no PHI), and what the server answers itself before a
// route matched (404, 405, 413). Never a body, a header value or a search value that could be PHI.
//
// Threads: the observer runs on the connection's strand and only queues the record (audit_log
// never blocks for long); the routes read audit.db on the strand (an indexed read by id).
#pragma once

#include "adapters/fhir_rest/http_server.hpp"
#include "gateway/audit/audit_log.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace carebridge::adapters::fhir_rest {

struct audit_api_options {
  /// Absolute FHIR base for fullUrl and links ("https://gw.example.org/fhir"); empty: from Host.
  std::string base_url;
  /// AuditEvent.source.observer's display.
  std::string observer = "CareBridge";
};

/// The completion observer (http_server::observe) that records each answered /fhir and /auth
/// request in `log`. `log` must outlive the server.
completion_observer make_audit_observer(gateway::audit::audit_log& log);

/// The record the observer writes for one answered request; nullopt for one it does not record.
std::optional<gateway::audit::audit_record> audit_record_of(const http_request& r,
                                                            const http_response& response,
                                                            std::string_view pattern);

/// A search's query string reduced to what may be kept: every parameter's name (decoded), with
/// its value only for reference parameters holding an id (patient=Patient/p1) and for code-like
/// parameters (status, _count…); "" for an empty query.
std::string phi_free_query(std::string_view query);

/// Adds GET /fhir/AuditEvent and GET /fhir/AuditEvent/{id}. `log` must outlive the server.
void register_audit_api(http_server& server, gateway::audit::audit_log& log,
                        audit_api_options options = {});

}  // namespace carebridge::adapters::fhir_rest
