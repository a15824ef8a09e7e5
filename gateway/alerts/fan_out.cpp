#include "gateway/alerts/fan_out.hpp"

#include "gateway/obs/log.hpp"

#include <pthread.h>

#include <future>

namespace carebridge::gateway::alerts {

std::vector<alert_facts> facts_of(const store::alert_row& a) {
  std::vector<alert_facts> out;
  if (a.group_id.empty()) return out;
  const std::string patient = a.patient_id.empty() ? std::string() : "Patient/" + a.patient_id;
  if (a.event_kind == "discharge") {
    out.push_back({topic_id::attributed_discharge, a.group_id, patient, a.risk_band, {}});
    const bool risk_alert = a.kind == "alert" || (a.kind == "retraction" && !a.task_id.empty());
    if (risk_alert)
      out.push_back({topic_id::readmission_risk, a.group_id, patient, a.risk_band, {}});
  } else if (const std::string_view event = encounter_event_of(a.event_kind);
             !event.empty() && (a.kind == "alert" || a.kind == "retraction")) {
    // Only what the group's alert events asked for (an alert) or its withdrawal: an encounter
    // start below the group's rules is not the group's business.
    out.push_back({topic_id::attributed_admission, a.group_id, patient, {}, std::string(event)});
  }
  return out;
}

fan_out::fan_out(store::message_store& outbox, store::subscription_store& subscriptions)
    : outbox_(outbox), subscriptions_(subscriptions) {}

fan_out::pass fan_out::run_once(std::size_t limit) {
  pass p;
  const std::int64_t from = subscriptions_.fanned_out_through();
  const auto entries = outbox_.alerts_after(from, limit);
  if (entries.empty()) return p;
  // The subscriptions by group, read once per pass.
  auto all = subscriptions_.subscriptions();
  requests_.keep_only(all);
  std::map<std::string, std::vector<store::subscription_row>, std::less<>> by_group;
  for (auto& s : all)
    if (s.status != "off") by_group[s.group_id].push_back(std::move(s));

  std::vector<std::pair<std::string, std::int64_t>> events;
  for (const auto& e : entries) {
    const auto group = by_group.find(e.alert.group_id);
    if (group == by_group.end()) continue;
    const auto facts = facts_of(e.alert);
    for (const auto& row : group->second) {
      if (e.seq <= row.start_seq) continue;
      const subscription_request* r = requests_.get(row);
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
      // Drain: a full pass may leave more behind it. The notifier hears of each pass's events at
      // once (under a steady stream of alerts the drain goes on, and they must not wait for it).
      for (int i = 0; i < 64; ++i) {
        const auto p = f_.run_once();
        recorded += p.events;
        if (p.events != 0 && recorded_) recorded_();
        if (p.failed || p.entries == 0) break;
      }
    } catch (const std::exception& e) {
      obs::error("fan_out.failed", {{"error", e.what()}});
    }
    lock.lock();
    events_ += recorded;
  }
}

}  // namespace carebridge::gateway::alerts
