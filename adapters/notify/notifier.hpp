// The notifier: FHIR Subscription lifecycle and delivery, from the durable event log to the
// groups' endpoints (R4 Backport rest-hook; Da Vinci $process-message for the message channel).
//
// A pass (its own thread, every `poll`, or at once on cue()) looks at every subscription:
//   - requested: a `handshake` notification; delivered → active; refused → error (the IG's
//     lifecycle). The message channel has no handshake: it becomes active at once.
//   - active: its events after what its endpoint acknowledged (subscription_store::
//     delivered_through), up to maxCount per notification, in event-number order — one
//     notification in flight per subscription, the next only once that one is delivered (so a
//     deleted or switched-off subscription gets nothing more than what was already on the wire);
//     a `heartbeat` when its heartbeat period passed without a notification.
//   - error, off: nothing. Events go on being numbered by the fan-out; a client that sets the
//     subscription back to requested gets a handshake, then everything after what was delivered.
// Delivery is delivery_worker's: retries with backoff (Retry-After honoured), in order; when it
// gives up (a permanent refusal, or too many failures in a row) the subscription goes to error
// with the subscription-error code. Delivered events move delivered_through (durably); after a
// restart everything after it is sent again — at least once, receivers de-duplicate on
// (subscription, event number).
//
// Each activation of a subscription is a fresh lane in the worker (id#generation), so a lane held
// by a failure never replays old notifications in front of a new handshake.
//
// Threads: the pass on the notifier's thread; the worker's callbacks on the client's strand (they
// only update the in-memory state and queue store writes). start()/stop()/cue() from any thread.
#pragma once

#include "adapters/notify/delivery_worker.hpp"
#include "adapters/notify/rest_hook_client.hpp"
#include "gateway/alerts/events.hpp"
#include "gateway/obs/metrics.hpp"
#include "gateway/store/message_store.hpp"
#include "gateway/store/subscription_store.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace carebridge::adapters::notify {

/// One finished delivery attempt, as the notifier saw it: for metrics, audit trails and tests.
/// Ids only (subscription, group, event numbers, the HTTP status, the subscription-error code):
/// never the endpoint's path, a header or the body.
struct delivery_record {
  enum class kind : std::uint8_t { handshake, heartbeat, event_notification };
  enum class result : std::uint8_t {
    delivered,  // the endpoint answered 2xx
    failed,     // it did not; the same notification is retried after a backoff
    gave_up,    // it did not, and will not be retried: the subscription goes to error (a
                // permanent refusal, or too many failures in a row), or the notifier is stopping
  };
  std::string subscription_id;
  std::string group_id;
  kind what = kind::event_notification;
  std::int64_t first_event = 0;  // event_notification: the event numbers it carries; else 0
  std::int64_t last_event = 0;
  result outcome = result::delivered;
  unsigned http_status = 0;  // 0: no HTTP answer (connect failure, timeout…)
  subscription_error error = subscription_error::none;  // code_of(): the IG's error code
  unsigned attempt = 1;  // 1 for the first try of this notification, 2 for its retry…
  std::chrono::milliseconds duration{0};  // this attempt, from the call to its completion
  std::chrono::system_clock::time_point finished_at{};
  std::string endpoint;  // the URL it went to (for its origin: never log the path or query)
};

/// "handshake", "heartbeat", "event-notification".
std::string_view to_string(delivery_record::kind k) noexcept;
/// "delivered", "failed", "gave-up".
std::string_view to_string(delivery_record::result r) noexcept;

struct notifier_options {
  std::string base_url = "http://localhost/fhir";  // our FHIR base, for the references sent
  std::chrono::milliseconds poll{200};
  client_options client;
  worker_options worker;
  /// Called once for every finished attempt (delivered or not), on the notify client's strand,
  /// after the notifier's own bookkeeping and metrics, before the delivery's consequences (the
  /// store's delivered_through, the subscription's move to error) are applied: it must not block
  /// (queue the work elsewhere) and must not call back into the notifier; an exception it throws
  /// is logged and ignored. An attempt abandoned because the client shuts down is not reported.
  /// For metrics, audit trails and tests. Empty: nobody is told.
  std::function<void(const delivery_record&)> on_attempt;
};

class notifier final : public delivery_events {
 public:
  notifier(boost::asio::io_context& ioc, gateway::store::subscription_store& subscriptions,
           gateway::store::message_store& messages, gateway::obs::registry& metrics,
           notifier_options options);
  ~notifier() override;
  notifier(const notifier&) = delete;
  notifier& operator=(const notifier&) = delete;

  /// Our FHIR base for the references sent (before start(): e.g. once the listener has its port).
  void set_base_url(std::string base_url) { options_.base_url = std::move(base_url); }
  void start();
  /// Sends nothing more (what is in flight completes or is abandoned) and stops the thread.
  void stop();
  /// Runs a pass now (new events, a new or changed subscription).
  void cue();
  /// One pass, on the caller's thread (tests).
  void run_once();

  // delivery_events (the client's strand)
  void delivered(const delivery& d, const delivery_result& r) override;
  void subscription_failed(const std::string& lane, const delivery_failure& f) override;
  void attempted(const delivery& d, const delivery_result& r,
                 std::optional<std::chrono::milliseconds> retry_in) override;

 private:
  enum class kind : std::uint8_t { handshake, heartbeat, events };
  struct in_flight {
    kind what = kind::events;
    std::int64_t first_event = 0;  // events: the lowest event number in it
    std::int64_t last_event = 0;   // events: the highest event number in it
    unsigned attempts = 0;         // finished attempts so far
  };
  // What the notifier knows of one subscription beyond the store.
  struct lane_state {
    std::uint64_t generation = 0;   // lane = id + "#" + generation
    std::string group_id;           // the owner (metrics and delivery records)
    std::uint64_t next_sequence = 1;
    std::optional<in_flight> pending;  // at most one notification in flight
    std::string status_seen;           // the store's status at the last pass
    std::chrono::steady_clock::time_point last_sent{};
    bool failed = false;               // the lane gave up; waits for the store to say error
    // What was delivered and is still being written to the store (a pass must not send it again
    // before the store shows it): the handshake, and events through this number.
    bool handshaken = false;
    std::int64_t acked_through = 0;
  };
  void pass();
  void run();
  std::string lane_of(const std::string& id, const lane_state& s) const;
  static std::string id_of_lane(const std::string& lane);

  gateway::store::subscription_store& subs_;
  gateway::store::message_store& messages_;
  notifier_options options_;
  std::unique_ptr<rest_hook_client> client_;
  std::unique_ptr<delivery_worker> worker_;

  std::mutex pass_mu_;  // one pass at a time
  gateway::alerts::request_cache requests_;  // the pass's
  std::mutex state_mu_;
  std::map<std::string, lane_state, std::less<>> lanes_;  // by subscription id

  std::mutex mu_;
  std::condition_variable cv_;
  bool cued_ = false;
  bool stop_ = false;
  std::thread thread_;

  gateway::obs::counter& sent_;
  gateway::obs::registry::family<gateway::obs::counter>& by_kind_;
  gateway::obs::counter& failures_;
  gateway::obs::counter& errors_;
  // Per subscription (labels group, subscription; configured ids only).
  gateway::obs::registry::family<gateway::obs::counter>& sub_delivered_;  // + kind
  gateway::obs::registry::family<gateway::obs::counter>& sub_failures_;   // + code
  gateway::obs::registry::family<gateway::obs::counter>& sub_retries_;
  gateway::obs::registry::family<gateway::obs::counter>& sub_gave_up_;
  gateway::obs::registry::family<gateway::obs::gauge>& sub_last_failure_;     // + code
  gateway::obs::registry::family<gateway::obs::histogram>& attempt_seconds_;  // group, outcome
  void record(const delivery_record& r);
};

}  // namespace carebridge::adapters::notify
