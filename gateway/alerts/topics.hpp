// CareBridge's SubscriptionTopics, as data (Subscriptions R5 Backport IG for FHIR R4, see
// ../shared/spec/fhir.md §1.2). Pure: no I/O.
//
// Three topics, each about a plan member attributed to the subscribing physician group (the group
// scoping is not a filter: a group only ever sees its own members):
//   readmission-risk      the alert: the RiskAssessment (and follow-up Task) of a discharge whose
//                         risk reaches the group's threshold (care_outcome::alert_wanted);
//                         focus RiskAssessment.
//   attributed-discharge  every discharge of an attributed member, whatever the score; focus
//                         Encounter.
//   attributed-admission  an encounter start the group's alert events ask for: an inpatient
//                         admission (A01) or an ED visit (A04 of an emergency visit), with its
//                         follow-up Task; focus Encounter, context Patient and Task.
// Filters a client may set (backport-filter-criteria): `patient` (= `Patient/<id>`) on all three,
// `risk` (`low|moderate|high`, meaning "at or above") on readmission-risk only, `event`
// (`admission|ed-visit`) on attributed-admission only. Anything else is refused by the
// Subscription parser.
//
// What each topic's trigger is (resourceTrigger interactions and queryCriteria, the HL7 v2 events
// that mean the same) and which Da Vinci Alerts event its notifications are on the message
// channel (notification-discharge, notification-admit) are fields of the table, not code.
//
// An R4 server has no SubscriptionTopic resource: topics are advertised by canonical on the
// CapabilityStatement (capability_topic_canonicals) and served as Basic resources carrying the
// R5 cross-version extensions (topic_basic_json), option (c) of the IG.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace carebridge::gateway::alerts {

enum class topic_id : std::uint8_t { readmission_risk, attributed_discharge, attributed_admission };

inline constexpr std::string_view readmission_risk_url =
    "https://carebridge.example/fhir/SubscriptionTopic/readmission-risk";
inline constexpr std::string_view attributed_discharge_url =
    "https://carebridge.example/fhir/SubscriptionTopic/attributed-discharge";
inline constexpr std::string_view attributed_admission_url =
    "https://carebridge.example/fhir/SubscriptionTopic/attributed-admission";

/// The CapabilityStatement extension (on rest.resource[type=Subscription]) that names a topic.
inline constexpr std::string_view capability_topic_extension_url =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
    "capabilitystatement-subscriptiontopic-canonical";

/// How a filter's value is read and compared.
enum class filter_kind : std::uint8_t {
  patient_reference,  // `Patient/<id>`; equal
  risk_at_least,      // `low|moderate|high`; the event's band ranks at or above it
  encounter_event,    // `admission|ed-visit` (encounter_events); equal
};

/// The values of an encounter_event filter: an inpatient admission, an emergency department visit.
inline constexpr std::array<std::string_view, 2> encounter_events{"admission", "ed-visit"};

/// The Da Vinci Alerts event (CodeSystem notification-event) a topic's notifications announce on
/// the message channel.
enum class message_event : std::uint8_t { admit, discharge };

/// An HL7 v2 trigger event (table 0003) that means the same as a topic's resource trigger
/// (SubscriptionTopic.eventTrigger).
struct v2_trigger {
  std::string_view code;  // "A03"
  std::string_view display;
  std::string_view description;
};

struct filter_definition {
  std::string_view parameter;   // the name clients use: "patient", "risk"
  std::string_view resource;    // the resource type it filters (canFilterBy.resource)
  std::string_view definition;  // canFilterBy.filterDefinition (a SearchParameter), may be empty
  std::string_view description;
  filter_kind kind;
};

/// A topic: what triggers it, what a client may filter on, what a notification carries.
struct topic {
  topic_id id;
  std::string_view key;  // the id of its Basic resource and the last path segment of its url
  std::string_view url;
  std::string_view version;
  std::string_view name;  // computer-friendly (SubscriptionTopic.name)
  std::string_view title;
  std::string_view description;
  std::string_view trigger_description;
  std::string_view focus_type;                      // notification focus resource type
  std::span<const std::string_view> context_types;  // additional-context resource types
  std::span<const filter_definition> filters;
  std::span<const std::string_view> shape_include;      // notificationShape.include (hints)
  std::span<const std::string_view> shape_rev_include;  // notificationShape.revInclude (hints)
  // resourceTrigger on focus_type: the interactions and, when `query_current` is set, the
  // queryCriteria (previous / current, test-passes on create, requireBoth).
  std::span<const std::string_view> interactions;
  std::string_view query_previous;
  std::string_view query_current;
  std::span<const v2_trigger> event_triggers;  // eventTrigger, one per HL7 v2 event
  message_event message;                       // what a Da Vinci message announces
};

/// Every topic, in a fixed order (readmission-risk, attributed-discharge, attributed-admission).
std::span<const topic> topics() noexcept;
const topic& topic_of(topic_id id) noexcept;
/// The topic with this canonical (`url` or `url|version` with the topic's version); null if none.
const topic* find_topic(std::string_view canonical) noexcept;
/// The topic whose Basic resource has this id; null if none.
const topic* find_topic_by_key(std::string_view key) noexcept;
/// The topic's filter named `parameter`; null if it has none.
const filter_definition* find_filter(const topic& t, std::string_view parameter) noexcept;

/// "low" 0 < "moderate" 1 < "high" 2; -1 for anything else (unknown is never "at or above").
int risk_rank(std::string_view band) noexcept;

/// The topic as an R4 Basic resource (code fhir-types#SubscriptionTopic, R5 cross-version
/// extensions), as `GET [base]/Basic/<key>` serves it.
std::string topic_basic_json(const topic& t);

/// The canonicals to list on the CapabilityStatement, in topics() order.
std::span<const std::string_view> capability_topic_canonicals() noexcept;
/// The same as a JSON array of extensions, ready to insert as
/// rest.resource[type=Subscription].extension.
std::string capability_topic_extensions_json();

}  // namespace carebridge::gateway::alerts
