// A subscription's numbered events as notification events: what each is about, read from the
// outbox entry it came from. Shared by delivery (adapters/notify) and `$events`.
//
// Focus and context by topic: readmission-risk — focus the RiskAssessment, context the Encounter,
// the Patient and the Task; attributed-discharge — focus the Encounter, context the Patient, the
// RiskAssessment and the Task when there are any; attributed-admission — focus the Encounter,
// context the Patient and the Task (an admission or ED visit has no RiskAssessment). A retraction
// points at the same resources (now entered-in-error / cancelled). For full-resource payloads each
// resource's current JSON is read from the store (a resource it does not have goes by reference
// only).
#pragma once

#include "gateway/alerts/notification.hpp"
#include "gateway/store/message_store.hpp"
#include "gateway/store/subscription_store.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace carebridge::gateway::alerts {

/// A stored subscription read back as a request, owned by its row's group; nullopt when its JSON
/// no longer parses. It was checked when accepted: reading it again depends neither on the clock
/// nor on a loopback allowance that may have changed since.
std::optional<subscription_request> read_stored(const store::subscription_row& row);

/// The stored row's state as the alerts core wants it (status, events counted, error text; in
/// error, the subscription-error code the error text starts with). Views into `row`'s strings or
/// static ones: the row must outlive it.
subscription_state state_of(const store::subscription_row& row);

/// read_stored() once per version of each subscription (its updated_us), for the passes that look
/// at every subscription again and again (fan-out, notifier). One thread at a time.
class request_cache {
 public:
  /// The request of `row`, or nullptr when it does not parse (logged once per version).
  const subscription_request* get(const store::subscription_row& row);
  /// Forgets the subscriptions not in `rows` (deleted).
  void keep_only(std::span<const store::subscription_row> rows);

 private:
  struct cached {
    std::int64_t updated_us = -1;
    std::optional<subscription_request> request;
  };
  std::map<std::string, cached, std::less<>> cache_;  // by subscription id
};

/// FHIR instant (UTC, milliseconds) of microseconds since the epoch.
std::string instant_of_us(std::int64_t us);

/// The notification events of `events` (in order); an event whose outbox entry is gone is left
/// out. `content` decides whether the resources' JSON is read (full-resource).
std::vector<notification_event> notification_events(const subscription_request& s,
                                                     std::span<const store::subscription_event> events,
                                                     store::message_store& st,
                                                     payload_content content);

}  // namespace carebridge::gateway::alerts
