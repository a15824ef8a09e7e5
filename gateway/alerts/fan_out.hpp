// The fan-out: from the alert outbox to each subscription's numbered events.
//
// The care stage writes one outbox entry per decision (store::alert_row: alert, notice,
// retraction) with the message's settlement. The fan-out reads the entries after its position, in
// order, works out which topic events each raises (facts_of), and which subscriptions of the
// entry's group they concern (matches(): owner, topic, filters), and records those as the next
// events of those subscriptions — numbered per subscription, counted even when a subscription is
// in error or not yet active, never for one that is off — moving its position in the same
// transaction (subscription_store::record_events). A crash between two passes repeats nothing and
// skips nothing. Delivery (adapters/notify) reads each subscription's events from there.
//
// Topics per entry: a discharge alert (a Task was made) → readmission-risk and
// attributed-discharge; a discharge notice → attributed-discharge; an admission or ED-visit alert
// → attributed-admission (with its `event`, admission or ed-visit); a retraction → the topics of
// what it withdraws (attributed-discharge, and readmission-risk when it had a Task; for an
// admission or ED visit, which an A11 of the stay withdraws, attributed-admission). Admission and
// ED-visit notices raise nothing (the topic carries only what the group's alert events ask for;
// the care engine makes none).
//
// Threads: run_once() from one thread at a time (the notifier's); it blocks on the store's writer.
#pragma once

#include "gateway/alerts/events.hpp"
#include "gateway/alerts/filters.hpp"
#include "gateway/store/message_store.hpp"
#include "gateway/store/subscription_store.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace carebridge::gateway::alerts {

/// The topic events an outbox entry raises (see above).
std::vector<alert_facts> facts_of(const store::alert_row& a);

class fan_out {
 public:
  fan_out(store::message_store& outbox, store::subscription_store& subscriptions);

  struct pass {
    std::size_t entries = 0;  // outbox entries handled
    std::size_t events = 0;   // subscription events recorded
    bool failed = false;      // the store did not take it (it is tried again next pass)
  };
  /// Handles up to `limit` outbox entries after the fan-out's position.
  pass run_once(std::size_t limit = 512);

 private:
  store::message_store& outbox_;
  store::subscription_store& subscriptions_;
  request_cache requests_;
};

/// Runs a fan_out on a thread of its own: a pass every `interval`, or at once after cue() (a
/// settlement that queued alerts, a subscription created). Stops (after the pass in progress) on
/// stop() or destruction.
class fan_out_loop {
 public:
  /// `recorded` (optional) is called after a pass that recorded events (the notifier's cue).
  fan_out_loop(fan_out& f, std::chrono::milliseconds interval,
               std::function<void()> recorded = {});
  ~fan_out_loop();
  fan_out_loop(const fan_out_loop&) = delete;
  fan_out_loop& operator=(const fan_out_loop&) = delete;
  void cue();
  void stop();
  std::uint64_t events_recorded() const;

 private:
  void run();
  fan_out& f_;
  std::chrono::milliseconds interval_;
  std::function<void()> recorded_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool cued_ = false;
  bool stop_ = false;
  std::uint64_t events_ = 0;
  std::thread thread_;
};

}  // namespace carebridge::gateway::alerts
