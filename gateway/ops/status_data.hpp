// What ops see of the running gateway beyond the counters: the scrape-time gauges read from the
// store (subscription backlogs and states, follow-up of the alerts' Tasks) and the status page's
// JSON document (GET /status/data).
//
// Nothing here carries PHI: ids of configured senders, groups and subscriptions, counts, ages,
// states and subscription-error codes only — never a message, a patient or an endpoint URL.
//
// Threads: any; refresh_store_gauges() reads the store (a few short queries) and is serialised by
// its caller (ops_routes) with the exposition that follows it.
#pragma once

#include "gateway/obs/metrics.hpp"
#include "gateway/ops/status_sampler.hpp"
#include "gateway/store/message_store.hpp"
#include "gateway/store/subscription_store.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace carebridge::gateway::ops {

/// One subscription as the store has it, with its undelivered events.
struct subscription_state {
  std::string id;
  std::string group_id;
  std::string status;                  // requested | active | error | off
  std::string error;                   // the subscription-error code and HTTP status when in error
  std::int64_t events = 0;             // numbered for it
  std::int64_t delivered_through = 0;  // acknowledged by its endpoint
  std::int64_t backlog() const {
    return events > delivered_through ? events - delivered_through : 0;
  }
  /// When the oldest event its endpoint has not acknowledged was numbered (unix µs).
  std::optional<std::int64_t> oldest_undelivered_us;
};

/// Every subscription, with the creation time of its first unacknowledged event.
std::vector<subscription_state> read_subscriptions(store::subscription_store& subs);

/// Sets the scrape-time gauge families from the store (each family cleared first, so a deleted
/// subscription's series go):
///   carebridge_notify_subscription_backlog_events{group,subscription}
///   carebridge_notify_subscription_oldest_undelivered_age_seconds{group,subscription}
///   carebridge_notify_subscription_status{group,subscription,status}  1 for its status, else 0
///   carebridge_notify_group_backlog_events{group}, ..._group_oldest_undelivered_age_seconds{group}
///   carebridge_followup_* {group} (follow-up of the alerts' Tasks)
/// Returns the subscriptions read (the status page uses them too).
std::vector<subscription_state> refresh_store_gauges(obs::registry& metrics,
                                                     store::message_store& messages,
                                                     store::subscription_store& subs,
                                                     std::chrono::system_clock::time_point now);

struct health_state {
  bool store_writable = false;
  bool mllp_listening = false;
  bool http_listening = false;
  bool ready() const { return store_writable && mllp_listening && http_listening; }
};

/// Everything /status/data shows.
struct status_inputs {
  std::chrono::system_clock::time_point now{};
  std::chrono::system_clock::time_point started{};
  std::string version;
  health_state health;
  std::uint64_t pipeline_pending = 0;
  std::optional<std::int64_t> pipeline_oldest_us;
  std::vector<subscription_state> subscriptions;
  std::vector<status_sample> samples;
  std::int64_t interval_seconds = 10;
};

/// The /status/data document (JSON; its shape is described in deploy/OPERATIONS.md). Counts come
/// from `metrics`; the rest from `in`.
std::string status_json(const status_inputs& in, const obs::registry& metrics);

}  // namespace carebridge::gateway::ops
