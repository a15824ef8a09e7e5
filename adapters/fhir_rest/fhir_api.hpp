// The FHIR R4 REST API of the gateway, on the HTTP server (http_server.hpp). The one public entry
// point of the FHIR side of adapters/fhir_rest is register_fhir_api(); everything else is private.
//
//   POST /fhir                    transaction or batch Bundle           →
//   transaction-/batch-response POST /fhir/Encounter          an Encounter (create) → 201 (200 when
//   it existed) + Location PUT  /fhir/Encounter/{id}     an Encounter (update; id = Encounter.id) →
//   200 (201 when new) POST /fhir/$process-message   Da Vinci notification message Bundle  → 200 +
//   OperationOutcome GET  /fhir/metadata           the CapabilityStatement GET  /fhir/{type}/{id}
//   a stored resource, meta.versionId/lastUpdated set, ETag W/"v"
//
// Store, then answer: every request to an input route whose body was read is stored through
// message_store::submit() before anything is answered — accepted ones `pending` (the pipeline turns
// them into resources and events with mappings/fhir/fhir_ingest, as conversion_stage does), refused
// ones `rejected` with the reason — and the 2xx is sent only after the commit. The control id is
// the SHA-256 of route and body, so a resend is a duplicate and gets the stored answer again. After
// the commit of an accepted request the answer also waits (at most `processing_wait`) until the
// pipeline has stored the resources, so that they are readable when the 2xx arrives.
//
// The sending facility of a request is the one facility its sender is registered for — the
// principal's (a SMART client of role sender, set by the /fhir guard: access.hpp), else the sender
// rule(s) its connection matches (client certificate names, peer address:
// gateway/ingest/sender_policy) — else `default_facility` when that is one of them; a caller that
// is no sender gets 403.
//
// Reads go through `read_policy` — the one place for the per-organization access check.
//
// Threads: the routes run on the connection's strand; store callbacks on the store's writer thread
// post back to `executor` (the API's own strand on the I/O context) before touching anything.
#pragma once

#include "adapters/fhir_rest/http_server.hpp"
#include "gateway/ingest/sender_policy.hpp"
#include "gateway/obs/metrics.hpp"
#include "gateway/store/message_store.hpp"
#include "mappings/fhir/v2_to_fhir.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace carebridge::adapters::fhir_rest {

/// Who reads what.
struct read_request {
  const http_request& request;  // its principal (who), connection (peer address, certificate)
  std::string_view type;
  std::string_view id;
};

enum class read_decision : std::uint8_t {
  allow,
  forbid,  // 403 forbidden
  hide,    // 404, as if the resource did not exist
};

/// The per-organization access check of the read path: called for every read of a stored resource,
/// after it was found and before any of it is sent (group_read_policy). Empty: everything is
/// allowed.
using read_policy =
    std::function<read_decision(const read_request&, const gateway::store::stored_resource&)>;

struct fhir_api_options {
  /// The facility (MSH-4.1 equivalent) of requests whose sender rules name none or several.
  std::string default_facility = "FHIR";
  /// Absolute base URL for Location headers ("https://gw.example.org/fhir"); empty: the Host header
  /// of the request and its scheme.
  std::string base_url;
  /// How long an accepted request's answer waits for the pipeline to store its resources.
  std::chrono::milliseconds processing_wait{std::chrono::seconds(5)};
  std::size_t max_entries = 1000;  // Bundle entries at the most
  read_policy can_read;
  /// The CapabilityStatement lists Subscription (R4 Backport, its topics) and Basic (the topics):
  /// set when subscription_api.hpp's routes are registered too.
  bool advertise_subscriptions = false;
  /// The CapabilityStatement lists AuditEvent (read, search-type): set when audit_api.hpp's routes
  /// are registered too.
  bool advertise_audit = false;
  /// SMART Backend Services' token endpoint, advertised in rest.security (service SMART-on-FHIR,
  /// the oauth-uris extension); empty: the request's origin + "/auth/token". `smart_security`
  /// false: the security section names TLS and client certificates only (auth mode certificate).
  bool smart_security = true;
  std::string token_endpoint;
};

/// What the API uses of the gateway. All must outlive the server.
struct fhir_api_ports {
  gateway::store::message_store& store;
  const gateway::ingest::sender_policy& senders;
  /// Facility profiles (config `facilities`), by facility: the same the pipeline converts with.
  const std::map<std::string, mappings::fhir::sender_profile, std::less<>>& facilities;
  gateway::obs::registry& metrics;
  boost::asio::any_io_executor executor;  // where store completions are handled (timers too)
  /// Hands an accepted request over to the pipeline once its commit is durable (pipeline_worker::
  /// enqueue), on the store's writer thread: must not block. Empty: the pipeline's scan finds it.
  std::function<void(gateway::store::stored_message)> on_accepted = {};
};

/// Adds the FHIR routes (and OperationOutcome errors under /fhir) to `server`, before its start().
void register_fhir_api(http_server& server, fhir_api_ports ports, fhir_api_options options);

/// A stored resource as the API serves it: meta.versionId and meta.lastUpdated from the store (for
/// the searchsets of subscription_api.hpp).
std::string resource_with_meta(const gateway::store::stored_resource& r);

}  // namespace carebridge::adapters::fhir_rest
