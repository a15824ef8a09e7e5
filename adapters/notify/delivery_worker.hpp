// Per-subscription delivery of rest-hook notifications, in order, at least once: the scheduler
// between the outbox (which feeds it and records what was delivered) and rest_hook_client.
//
// Model: each subscription has a FIFO of pending deliveries, in the order of their `sequence`
// (event number or outbox row id; strictly increasing per subscription, enqueue() refuses
// anything else). At most one is in flight per subscription, always the head:
//   - delivered (2xx): events.delivered(); the head is removed; the next one goes.
//   - retry (network error, timeout, 408, 429, 5xx): wait retry_delay() — full-jitter backoff on
//     the number of consecutive failures, never less than a Retry-After — and send the SAME head
//     again. Nothing behind it overtakes it.
//   - permanent (3xx, other 4xx, untrusted certificate, bad channel), or `failure_threshold`
//     consecutive retry failures: events.subscription_failed() with the subscription-error code;
//     the subscription's queue is held (kept, not sent) until resume(id).
// Heartbeats and handshakes are the caller's: they are deliveries like any other.
//
// Threads: enqueue(), resume(), stop() and snapshot() may be called from any thread. The work and
// the delivery_events callbacks run on the client's strand (client.get_executor()); callbacks must
// not block, and may call enqueue() and resume(). Ownership: the client and the events object must
// outlive the worker's work — stop() the worker, shutdown() the client, then let the io_context
// finish before destroying them.
#pragma once

#include "adapters/notify/backoff.hpp"
#include "adapters/notify/rest_hook_client.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace carebridge::adapters::notify {

struct delivery {
  std::string subscription_id;
  std::uint64_t sequence = 0;  // strictly increasing per subscription
  delivery_request request;    // endpoint, body, content type, channel headers
};

/// Why a subscription stopped receiving: what to put into its `error` and SubscriptionStatus.
struct delivery_failure {
  subscription_error code = subscription_error::no_response;  // code_of(code) for the IG
  unsigned http_status = 0;                                   // with error_response
  std::string text;            // PHI-free, from delivery_result::error_text or the status
  std::uint64_t sequence = 0;  // the head delivery that could not be delivered
  bool permanent = false;      // false: the failure threshold was reached
};

class delivery_events {
 public:
  virtual ~delivery_events() = default;
  /// The delivery reached the subscriber (2xx): the outbox marks it done.
  virtual void delivered(const delivery& d, const delivery_result& r) = 0;
  /// The subscription's deliveries stopped; its queue is held until resume().
  virtual void subscription_failed(const std::string& subscription_id,
                                   const delivery_failure& f) = 0;
  /// Every attempt, after it completed; `retry_in` is the wait before the next try of the same
  /// delivery when one is scheduled. For logs, metrics and tests.
  virtual void attempted(const delivery& /*d*/, const delivery_result& /*r*/,
                         std::optional<std::chrono::milliseconds> /*retry_in*/) {}
};

struct worker_options {
  backoff_options backoff;
  unsigned failure_threshold = 15;                    // consecutive retry failures before `error`
  std::size_t max_backlog_per_subscription = 10'000;  // enqueue() refuses more (back-pressure)
  random_source random;                               // jitter; empty: default_random_source()
};

enum class enqueue_result : std::uint8_t {
  accepted,
  out_of_order,  // sequence not above the last one enqueued for the subscription
  backlog_full,  // max_backlog_per_subscription reached: keep it in the outbox, offer it later
  stopped,       // stop() was called
};

struct subscription_stats {
  std::string subscription_id;
  std::uint64_t attempts = 0;
  std::uint64_t delivered = 0;
  std::uint64_t failures = 0;  // attempts that did not deliver
  std::uint64_t retries = 0;   // of those, the ones followed by a scheduled retry
  std::size_t backlog = 0;     // queued, including the one in flight or waiting to be retried
  bool in_flight = false;
  bool held = false;  // failed, waiting for resume()
  unsigned consecutive_failures = 0;
};

struct worker_stats {
  std::uint64_t attempts = 0;
  std::uint64_t delivered = 0;
  std::uint64_t failures = 0;
  std::uint64_t retries = 0;
  std::uint64_t subscriptions_failed = 0;  // subscription_failed() calls
  std::size_t in_flight = 0;
  std::size_t backlog = 0;
  std::vector<subscription_stats> subscriptions;  // by subscription id
};

class delivery_worker {
 public:
  delivery_worker(rest_hook_client& client, delivery_events& events, worker_options options = {});
  ~delivery_worker();
  delivery_worker(const delivery_worker&) = delete;
  delivery_worker& operator=(const delivery_worker&) = delete;

  enqueue_result enqueue(delivery d);
  /// Lets a held subscription send again (its consecutive failures start from zero), from the
  /// head it failed on. No effect on a subscription that is not held.
  void resume(const std::string& subscription_id);
  /// Sends nothing more: backoff waits end, enqueue() refuses. An attempt in flight completes
  /// (or ends with the client's shutdown()); if it delivered, delivered() is still called, but a
  /// failure then neither schedules a retry nor fails the subscription (the outbox still has it).
  void stop();

  worker_stats snapshot() const;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace carebridge::adapters::notify
