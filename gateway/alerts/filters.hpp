// Does an alert event concern a subscription? Pure: no I/O.
//
// The caller (the outbox) already looks only at the subscriptions of the event's group; matches()
// checks the group again all the same (defence in depth: a wrong join must not send one group's
// member to another), then the topic and the AND-ed filters. Status (active, error…) is the
// caller's business: events are counted for a subscription in error too.
#pragma once

#include "gateway/alerts/subscription.hpp"

#include <string>
#include <vector>

namespace carebridge::gateway::care {
struct care_outcome;
}

namespace carebridge::gateway::alerts {

/// What an event is, for matching.
struct alert_facts {
  topic_id topic = topic_id::readmission_risk;
  std::string group_id;           // the physician group the member is attributed to
  std::string patient_reference;  // "Patient/<id>"
  std::string risk_band;          // low, moderate, high; empty when not scored
};

/// True when the subscription belongs to the event's group (both non-empty and equal), is on the
/// event's topic and every filter holds: patient equal; risk: the event's band at or above the
/// filter's (an unscored or unknown band never passes a risk filter).
bool matches(const subscription_request& s, const alert_facts& event) noexcept;

/// The topic events one care outcome raises: attributed-discharge for every discharge of an
/// attributed member, readmission-risk when the care engine wants an alert for that discharge
/// (band at or above the group's threshold); none for anything else.
std::vector<alert_facts> facts_of(const care::care_outcome& o);

}  // namespace carebridge::gateway::alerts
