#include "gateway/ops/status_sampler.hpp"

#include <pthread.h>

#include <algorithm>

namespace carebridge::gateway::ops {

const std::vector<error_kind>& error_kinds() {
  static const std::vector<error_kind> kinds{
      {"mllp_framing_errors", "carebridge_mllp_framing_errors_total"},
      {"mllp_timeouts", "carebridge_mllp_timeouts_total"},
      {"tls_handshake_failures", "carebridge_tls_handshake_failures_total"},
      {"connections_refused", "carebridge_mllp_connections_refused_total"},
      {"messages_rejected", "carebridge_ingest_messages_total", "disposition", "rejected"},
      {"store_commit_failures", "carebridge_store_commit_failures_total"},
      {"pipeline_errors", "carebridge_pipeline_errors_total"},
      {"care_commit_failures", "carebridge_care_commit_failures_total"},
      {"roster_reload_failures", "carebridge_roster_reload_failures_total"},
      {"notify_failed_attempts", "carebridge_notify_attempt_failures_total"},
      {"subscriptions_failed", "carebridge_notify_subscriptions_failed_total"},
  };
  return kinds;
}

double error_count(const obs::registry& metrics, const error_kind& k) {
  if (k.label != nullptr && k.value != nullptr) return metrics.sum(k.metric, {{k.label, k.value}});
  return metrics.sum(k.metric);
}

status_counters read_counters(const obs::registry& metrics) {
  status_counters c;
  c.messages =
      metrics.sum("carebridge_ingest_messages_total") + metrics.sum("carebridge_fhir_inputs_total");
  c.alerts = metrics.sum("carebridge_care_alerts_total");
  c.notifications = metrics.sum("carebridge_notify_subscription_delivered_total",
                                {{"kind", "event-notification"}});
  for (const auto& k : error_kinds()) c.errors += error_count(metrics, k);
  for (auto& [labels, snap] : metrics.histogram_values("carebridge_mllp_ack_seconds")) {
    (void)labels;
    c.ack = std::move(snap);  // one series (no labels)
  }
  for (const auto& [labels, snap] : metrics.histogram_values("carebridge_pipeline_stage_seconds")) {
    c.processing_sum_s += snap.sum;
    if (obs::label_value(labels, "stage") == "conversion")
      c.processed += static_cast<double>(snap.count);
  }
  return c;
}

std::optional<double> quantile_ms(const obs::histogram::snapshot& before,
                                  const obs::histogram::snapshot& after, double q) {
  if (after.cumulative.empty()) return std::nullopt;
  const auto at = [](const obs::histogram::snapshot& s, std::size_t i) -> std::uint64_t {
    return i < s.cumulative.size() ? s.cumulative[i] : 0;
  };
  const std::size_t n = after.cumulative.size();
  const std::uint64_t total =
      at(after, n - 1) >= at(before, n - 1) ? at(after, n - 1) - at(before, n - 1) : 0;
  if (total == 0) return std::nullopt;
  const double rank = q * static_cast<double>(total);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t a = at(after, i), b = at(before, i);
    const std::uint64_t in = a >= b ? a - b : 0;
    if (static_cast<double>(in) >= rank) {
      const std::size_t bound = std::min(i, after.bounds.size() - 1);
      return after.bounds.empty() ? std::nullopt
                                  : std::optional<double>(after.bounds[bound] * 1000.0);
    }
  }
  return after.bounds.empty() ? std::nullopt : std::optional<double>(after.bounds.back() * 1000.0);
}

status_sampler::status_sampler(std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 1)) {}

void status_sampler::add(std::chrono::system_clock::time_point now, const status_counters& c) {
  std::lock_guard lock(mu_);
  if (last_) {
    const auto& [then, was] = *last_;
    const double secs = std::chrono::duration<double>(now - then).count();
    if (secs > 0) {
      const auto delta = [](double a, double b) { return a > b ? a - b : 0.0; };
      status_sample s;
      s.at_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
      s.seconds = secs;
      s.messages_per_s = delta(c.messages, was.messages) / secs;
      s.alerts_per_s = delta(c.alerts, was.alerts) / secs;
      s.notifications_per_s = delta(c.notifications, was.notifications) / secs;
      s.errors = static_cast<std::uint64_t>(delta(c.errors, was.errors));
      if (c.ack.count > was.ack.count) {
        s.ack_mean_ms = delta(c.ack.sum, was.ack.sum) * 1000.0 /
                        static_cast<double>(c.ack.count - was.ack.count);
        s.ack_p95_ms = quantile_ms(was.ack, c.ack, 0.95);
      }
      const double processed = delta(c.processed, was.processed);
      if (processed > 0)
        s.processing_mean_ms = delta(c.processing_sum_s, was.processing_sum_s) * 1000.0 / processed;
      ring_.push_back(s);
      while (ring_.size() > capacity_) ring_.pop_front();
    } else if (secs < 0) {
      return;  // the clock went back: keep the older baseline
    }
  }
  last_.emplace(now, c);
}

std::vector<status_sample> status_sampler::samples() const {
  std::lock_guard lock(mu_);
  return {ring_.begin(), ring_.end()};
}

sampler_thread::sampler_thread(const obs::registry& metrics, status_sampler& sampler,
                               std::chrono::milliseconds interval)
    : metrics_(metrics), sampler_(sampler), interval_(interval) {
  thread_ = std::thread([this] { run(); });
}

sampler_thread::~sampler_thread() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void sampler_thread::run() {
  pthread_setname_np(pthread_self(), "cb-status");
  // Readings on a steady schedule (not drifting by the reading's own time).
  auto next = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    sampler_.add(std::chrono::system_clock::now(), read_counters(metrics_));
    lock.lock();
    next += interval_;
    cv_.wait_until(lock, next, [this] { return stop_; });
  }
}

}  // namespace carebridge::gateway::ops
