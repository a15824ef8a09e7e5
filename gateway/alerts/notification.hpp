// The Bundles CareBridge sends to subscribers and answers $status / $events with (Subscriptions R5
// Backport IG for FHIR R4, ../shared/spec/fhir.md §1.4–1.7), and the Da Vinci Alerts admit and
// discharge messages for the $process-message channel (§2). Pure: no I/O, no clock — the caller
// passes the times (notification_context::timestamp, each event's timestamp) so output is
// reproducible.
//
// Backport notification (handshake, heartbeat, event-notification, query-event): a Bundle of
// type history, profile backport-subscription-notification-r4; entry[0] is the status, a
// Parameters (profile backport-subscription-status-r4) with fullUrl urn:uuid:<its id> and a
// request `GET <base>/Subscription/<id>/$status` (response 200). Parameters in this order:
// subscription (absolute reference), topic (not for content empty), status, type,
// events-since-subscription-start (valueString), one notification-event per event (event-number
// as valueString, timestamp, and for id-only / full-resource the focus and additional-context as
// absolute references), error (subscription-error codes). Then, per event, an entry for the focus
// and each additional context (once per reference across the Bundle): fullUrl `<base>/Type/id`,
// request (the event_resource's method: GET Type/id by default, POST Type, PUT Type/id) and
// response; for full-resource the entry carries the resource when its JSON is given (the IG's
// fallback when a resource cannot be included is request/response only). `empty` has the status
// entry only. Every entry has request and response (R4 bdl-3/bdl-4 for history Bundles).
//
// $status answers a searchset Bundle with one status Parameters (type query-status) per
// subscription, search.mode match, no request (bdl-3 forbids it outside batch/transaction/history).
//
// Da Vinci message: a Bundle of type message (profile notifications-bundle, identifier urn:uuid of
// its id, timestamp), entry[0] the MessageHeader (for a discharge profile
// discharge-notification-messageheader and eventCoding notification-event#notification-discharge;
// for an admission or ED visit admit-notification-messageheader and notification-admit — the
// topic's message_event; source = our base, destination = the recipient's base, focus = the
// Encounter), then the
// Encounter and the other resources, each with fullUrl `<base>/Type/id` so the relative references
// inside them resolve to entries of the Bundle. Da Vinci wants every referenced resource in the
// Bundle: the caller passes Patient, Coverage, Conditions, RiskAssessment, Task… with their JSON.
//
// Ids: the Bundle's and the status's ids are UUIDs derived from the subscription, the type, the
// event numbers and the timestamp (mappings/fhir/ids.hpp), so building the same notification twice
// gives the same bytes and a receiver can de-duplicate on either.
#pragma once

#include "gateway/alerts/subscription.hpp"

#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::gateway::alerts {

enum class notification_type : std::uint8_t {
  handshake,
  heartbeat,
  event_notification,
  query_status,
  query_event,
};
std::string_view to_string(notification_type t) noexcept;

/// A resource an event is about: its relative reference and, for full-resource payloads and
/// messages, its JSON (the stored resource; its resourceType and id must agree with `reference`).
struct event_resource {
  std::string reference;  // "Type/id"
  std::string json;       // empty: not included (id-only, or not available)
  std::string method;     // what happened, for entry.request: "POST", "PUT" or "GET" (default)
};

/// One event of a subscription.
struct notification_event {
  std::uint64_t number = 0;  // eventNumber, 1-based, per subscription
  std::string timestamp;     // instant the event happened on the server
  event_resource focus;
  std::vector<event_resource> context;  // additional-context
};

struct notification_context {
  std::string base_url;   // our FHIR base, e.g. "https://carebridge.example/fhir" (no query)
  std::string timestamp;  // Bundle.timestamp: when the Bundle is built (instant)
};

enum class notification_errc {
  /// An event-notification needs at least one event.
  no_events = 1,
  /// More events than the subscription's maxCount.
  too_many_events,
  /// A handshake or heartbeat carries no events.
  events_not_allowed,
  /// query-status Bundles are built by status_bundle().
  wrong_builder,
  /// A reference is not Type/id.
  bad_reference,
  /// A timestamp is not an instant with a zone.
  bad_timestamp,
  /// A resource's JSON is not an object of the referenced type and id.
  bad_resource,
  /// The base URL is not an absolute http(s) URL without query or fragment.
  bad_base_url,
  /// The subscription id is not a FHIR id.
  bad_subscription_id,
  /// A Da Vinci message needs the Encounter's JSON.
  no_encounter,
};
const boost::system::error_category& notification_category() noexcept;
inline boost::system::error_code make_error_code(notification_errc e) noexcept {
  return {static_cast<int>(e), notification_category()};
}

/// A backport notification Bundle (history) of `type` (not query_status). `content` overrides
/// the subscription's payload content for query_event ($events' `content` hint) but never raises
/// it above the subscription's own level.
boost::system::result<std::string> notification_bundle(
    notification_type type, const subscription_request& s, const subscription_state& state,
    std::span<const notification_event> events, const notification_context& cx,
    std::optional<payload_content> content = std::nullopt);

/// One subscription's status for $status.
struct status_item {
  const subscription_request* request = nullptr;
  subscription_state state;
};
/// The $status answer: a searchset Bundle, one query-status Parameters per subscription.
boost::system::result<std::string> status_bundle(std::span<const status_item> items,
                                                 const notification_context& cx);

/// A Da Vinci Alerts admit or discharge notification (POST [destination]/$process-message).
struct davinci_message {
  message_event event = message_event::discharge;  // the subscription's topic's message_event
  std::string key;                   // what makes it unique (e.g. "<subscription>/<event number>")
  std::string destination_endpoint;  // the recipient's FHIR base (the channel endpoint)
  std::string source_name = "CareBridge";
  event_resource encounter;               // the focus; JSON required
  std::vector<event_resource> resources;  // Patient, Coverage, Condition…; JSON required
};
boost::system::result<std::string> davinci_message_bundle(const davinci_message& m,
                                                          const notification_context& cx);

}  // namespace carebridge::gateway::alerts

template <>
struct boost::system::is_error_code_enum<carebridge::gateway::alerts::notification_errc>
    : std::true_type {};
