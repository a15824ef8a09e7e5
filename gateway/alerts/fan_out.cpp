#include "gateway/alerts/fan_out.hpp"

#include "gateway/obs/log.hpp"

#include <pthread.h>

#include <future>
#include <set>

namespace carebridge::gateway::alerts {

std::vector<alert_facts> facts_of(const store::alert_row& a) {
  std::vector<alert_facts> out;
  if (a.event_kind != "discharge" || a.group_id.empty()) return out;
  const std::string patient = a.patient_id.empty() ? std::string() : "Patient/" + a.patient_id;
  out.push_back({topic_id::attributed_discharge, a.group_id, patient, a.risk_band});
  const bool risk_alert = a.kind == "alert" || (a.kind == "retraction" && !a.task_id.empty());
  if (risk_alert) out.push_back({topic_id::readmission_risk, a.group_id, patient, a.risk_band});
  return out;
}

fan_out::fan_out(store::message_store& outbox, store::subscription_store& subscriptions,
                 parse_options options)
    : outbox_(outbox), subscriptions_(subscriptions), options_(std::move(options)) {
  // A stored subscription was checked when it was accepted; reading it again must not depend on
  // the clock or on a loopback allowance that changed since.
  options_.now.reset();
  options_.allow_insecure_loopback = true;
}

const subscription_request* fan_out::request_of(const store::subscription_row& row) {
  cached& c = cache_[row.id];
  if (c.updated_us != row.updated_us) {
    c.updated_us = row.updated_us;
    auto parsed = parse_subscription(row.json, options_);
    if (parsed) {
      c.request = std::move(*parsed);
      c.request->owner_group = row.group_id;
    } else {
      c.request.reset();
      obs::error("subscription.unreadable", {{"subscription", row.id}});
    }
  }
  return c.request ? &*c.request : nullptr;
}

fan_out::pass fan_out::run_once(std::size_t limit) {
  pass p;
  const std::int64_t from = subscriptions_.fanned_out_through();
  const auto entries = outbox_.alerts_after(from, limit);
  if (entries.empty()) return p;
  // The subscriptions by group, read once per pass.
  std::map<std::string, std::vector<store::subscription_row>, std::less<>> by_group;
  std::set<std::string, std::less<>> live;
  for (auto& s : subscriptions_.subscriptions()) {
    live.insert(s.id);
    if (s.status != "off") by_group[s.group_id].push_back(std::move(s));
  }
  for (auto it = cache_.begin(); it != cache_.end();)  // deleted ones
    it = live.contains(it->first) ? std::next(it) : cache_.erase(it);

  std::vector<std::pair<std::string, std::int64_t>> events;
  for (const auto& e : entries) {
    const auto group = by_group.find(e.alert.group_id);
    if (group == by_group.end()) continue;
    const auto facts = facts_of(e.alert);
    for (const auto& row : group->second) {
      if (e.seq <= row.start_seq) continue;
      const subscription_request* r = request_of(row);
      if (r == nullptr) continue;
      for (const auto& f : facts)
        if (matches(*r, f)) {
          events.emplace_back(row.id, e.seq);
          break;  // one event per entry and subscription
        }
    }
  }
  const std::size_t recorded = events.size();
  std::promise<bool> done;
  subscriptions_.record_events(entries.back().seq, std::move(events),
                               [&done](bool ok) { done.set_value(ok); });
  if (!done.get_future().get()) {
    p.failed = true;
    return p;
  }
  p.entries = entries.size();
  p.events = recorded;
  return p;
}

fan_out_loop::fan_out_loop(fan_out& f, std::chrono::milliseconds interval,
                           std::function<void()> recorded)
    : f_(f), interval_(interval), recorded_(std::move(recorded)), thread_([this] { run(); }) {}

fan_out_loop::~fan_out_loop() { stop(); }

void fan_out_loop::cue() {
  {
    std::lock_guard lock(mu_);
    cued_ = true;
  }
  cv_.notify_one();
}

void fan_out_loop::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t fan_out_loop::events_recorded() const {
  std::lock_guard lock(mu_);
  return events_;
}

void fan_out_loop::run() {
  pthread_setname_np(pthread_self(), "cb-fan-out");
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, interval_, [&] { return stop_ || cued_; });
    if (stop_) break;
    cued_ = false;
    lock.unlock();
    std::size_t recorded = 0;
    try {
      // Drain: a full pass may leave more behind it.
      for (int i = 0; i < 64; ++i) {
        const auto p = f_.run_once();
        recorded += p.events;
        if (p.failed || p.entries == 0) break;
      }
    } catch (const std::exception& e) {
      obs::error("fan_out.failed", {{"error", e.what()}});
    }
    if (recorded != 0 && recorded_) recorded_();
    lock.lock();
    events_ += recorded;
  }
}

}  // namespace carebridge::gateway::alerts
