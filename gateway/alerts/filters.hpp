// Does an alert event concern a subscription? Pure: no I/O.
//
// The caller (the outbox) already looks only at the subscriptions of the event's group; matches()
// checks the group again all the same (defence in depth: a wrong join must not send one group's
// member to another), then the topic and the AND-ed filters. Status (active, error…) is the
// caller's business: events are counted for a subscription in error too.
#pragma once

#include "gateway/alerts/subscription.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace carebridge::gateway::care {
struct care_outcome;
}

namespace carebridge::gateway::alerts {

/// What an event is, for matching.
struct alert_facts {
  topic_id topic = topic_id::readmission_risk;
  std::string group_id;              // the physician group the member is attributed to
  std::string patient_reference;     // "Patient/<id>"
  std::string risk_band;             // low, moderate, high; empty when not scored
  std::string encounter_event = {};  // admission, ed-visit (attributed-admission); else empty
};

/// The encounter_event filter value of an alert's event kind (store::alert_row::event_kind,
/// care_outcome::alert_kind): admission → "admission", ed_visit → "ed-visit"; empty for anything
/// else (a discharge is not an encounter start).
std::string_view encounter_event_of(std::string_view event_kind) noexcept;

/// True when the subscription belongs to the event's group (both non-empty and equal), is on the
/// event's topic and every filter holds: patient equal; risk: the event's band at or above the
/// filter's (an unscored or unknown band never passes a risk filter); event equal.
bool matches(const subscription_request& s, const alert_facts& event) noexcept;

/// The topic events one care outcome raises: attributed-discharge for every discharge of an
/// attributed member, readmission-risk when the care engine wants an alert for that discharge
/// (band at or above the group's threshold), attributed-admission when it wants an alert for an
/// admission or ED visit (the group's alert events include it); none for anything else.
std::vector<alert_facts> facts_of(const care::care_outcome& o);

}  // namespace carebridge::gateway::alerts
