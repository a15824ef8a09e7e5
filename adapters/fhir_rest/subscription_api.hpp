// FHIR Subscriptions (R4 Backport IG) for the physician groups, under /fhir:
//
//   POST   /fhir/Subscription                 create (status requested; the notifier handshakes)
//   GET    /fhir/Subscription                 search the caller's own (status, _id)
//   GET    /fhir/Subscription/{id}            read
//   PUT    /fhir/Subscription/{id}            update (a client re-activates one in error here)
//   DELETE /fhir/Subscription/{id}            delete
//   GET    /fhir/Subscription/{id}/$status    one status (query-status)
//   GET    /fhir/Subscription/$status         the caller's subscriptions' status (searchset)
//   GET    /fhir/Subscription/{id}/$events    replay from the event log (eventsSinceNumber,
//                                             eventsUntilNumber, content)
//   GET    /fhir/Basic/{topic}                the SubscriptionTopics as Basic resources
//
// and the groups' follow-up work:
//
//   PUT    /fhir/Task/{id}                    update the group's own follow-up Task (status and
//                                             the work's fields; the rest stays the gateway's)
//   PATCH  /fhir/Task/{id}                    the same, as a JSON Patch (RFC 6902,
//                                             application/json-patch+json; FHIRPath Patch: 415);
//                                             a patch of any other element is 422, a failed test
//                                             409, a malformed patch 400
//   GET    /fhir/Task                         search the group's own Tasks (status, owner, patient)
//   GET    /fhir/RiskAssessment               search the RiskAssessments its alerts name (patient)
//
// Searches are strict (an unknown or repeated parameter is 400) unless `Prefer: handling=lenient`;
// _count is at most 100 and there are no further pages (Bundle.total says how many match).
// Every interaction is scoped to the caller's physician group (the request's principal, set by
// the /fhir guard of access.hpp from its SMART access token or client certificate): a caller that
// is no group's client gets 403; a subscription of another group answers 404, as if it did not
// exist. Refusals are
// OperationOutcomes naming elements and rules, never values (header values are credentials).
// Header values are shown as `Name: ***`; a PUT that sends `***` back keeps the stored value.
#pragma once

#include "adapters/fhir_rest/fhir_api.hpp"
#include "adapters/fhir_rest/http_server.hpp"
#include "gateway/alerts/subscription.hpp"
#include "gateway/store/message_store.hpp"
#include "gateway/store/subscription_store.hpp"

#include <functional>
#include <optional>
#include <string>

namespace carebridge::adapters::fhir_rest {

struct subscription_api_options {
  /// The physician group the caller acts for, or nullopt (not a group's client). Empty: the
  /// request's principal says (group_of_request).
  std::function<std::optional<std::string>(const http_request&)> group_of;
  gateway::alerts::parse_options parse;  // limits; allow_insecure_loopback for the demo
  /// Absolute FHIR base for references and Location; empty: from the Host header.
  std::string base_url;
  /// Called after a subscription was created, updated or deleted (the notifier's cue to
  /// handshake or stop). Any thread.
  std::function<void()> changed;
};

void register_subscription_api(http_server& server, gateway::store::subscription_store& subs,
                               gateway::store::message_store& store,
                               subscription_api_options options);

/// The read policy for GET /fhir/{type}/{id}: a group's client reads only the resources its own
/// alerts name (Patient, Encounter, RiskAssessment, Task), and the Conditions and Coverages of
/// those Patients (Condition.subject, Coverage.beneficiary); anything else answers 404, as if it
/// did not exist. Operators read any resource (every read is in the audit trail); a sender reads
/// nothing (403). A request without a principal (no guard: tests of the routes alone) reads all.
read_policy group_read_policy(std::function<std::optional<std::string>(const http_request&)> group_of,
                              gateway::store::message_store& store);

}  // namespace carebridge::adapters::fhir_rest
