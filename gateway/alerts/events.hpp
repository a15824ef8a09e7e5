// A subscription's numbered events as notification events: what each is about, read from the
// outbox entry it came from. Shared by delivery (adapters/notify) and `$events`.
//
// Focus and context by topic: readmission-risk — focus the RiskAssessment, context the Encounter,
// the Patient and the Task; attributed-discharge — focus the Encounter, context the Patient, the
// RiskAssessment and the Task when there are any. A retraction points at the same resources (now
// entered-in-error / cancelled). For full-resource payloads each resource's current JSON is read
// from the store (a resource it does not have goes by reference only).
#pragma once

#include "gateway/alerts/notification.hpp"
#include "gateway/store/message_store.hpp"
#include "gateway/store/subscription_store.hpp"

#include <span>
#include <string>
#include <vector>

namespace carebridge::gateway::alerts {

/// FHIR instant (UTC, milliseconds) of microseconds since the epoch.
std::string instant_of_us(std::int64_t us);

/// The notification events of `events` (in order); an event whose outbox entry is gone is left
/// out. `content` decides whether the resources' JSON is read (full-resource).
std::vector<notification_event> notification_events(const subscription_request& s,
                                                     std::span<const store::subscription_event> events,
                                                     store::message_store& st,
                                                     payload_content content);

}  // namespace carebridge::gateway::alerts
