// The status page's history: every `interval` (10 s) the sampler reads the pipeline's counters
// from the metrics registry and keeps, in a ring buffer of the last hour, what happened in that
// interval — messages in, alerts decided and notifications delivered per second, the ACK latency
// (mean and p95) and the processing time per message, errors. A freshly opened status page shows
// the whole hour at once (GET /status/data).
//
// status_sampler is the pure part (no thread, no clock of its own: tests give it instants and
// counter readings); sampler_thread runs it on a thread of its own. Neither reads the store: the
// counters are in memory, so a sample costs a few microseconds and never waits.
//
// Threads: add() and samples() may be called from any thread (one mutex). sampler_thread: start
// in its constructor, joined by its destructor (which returns within one wake-up).
#pragma once

#include "gateway/obs/metrics.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace carebridge::gateway::ops {

/// What happened in one interval.
struct status_sample {
  std::int64_t at_s = 0;              // end of the interval, unix seconds
  double seconds = 0;                 // its length
  double messages_per_s = 0;          // inbound messages (MLLP and FHIR), any disposition
  double alerts_per_s = 0;            // alerts the groups want (care stage decisions)
  double notifications_per_s = 0;     // event notifications delivered (2xx)
  std::optional<double> ack_mean_ms;  // MLLP ACK latency; none when no ACK was sent
  std::optional<double> ack_p95_ms;   // upper bound of the bucket holding the 95th percentile
  std::optional<double> processing_mean_ms;  // pipeline stages per message
  std::uint64_t errors = 0;                  // error_kinds() events counted in the interval
};

/// The cumulative counters a sample is the difference of.
struct status_counters {
  double messages = 0;
  double alerts = 0;
  double notifications = 0;
  double errors = 0;
  obs::histogram::snapshot ack;  // carebridge_mllp_ack_seconds
  double processing_sum_s = 0;   // every stage
  double processed = 0;          // messages through the first stage (conversion)
};

/// One kind of error the status page counts: a name and the metric (with optional label match)
/// it sums.
struct error_kind {
  const char* name;
  const char* metric;
  const char* label = nullptr;  // with `value`: only series with this label value
  const char* value = nullptr;
};
const std::vector<error_kind>& error_kinds();
/// The total of one error kind now.
double error_count(const obs::registry& metrics, const error_kind& k);

/// Reads the counters from the registry.
status_counters read_counters(const obs::registry& metrics);

class status_sampler {
 public:
  /// 360 samples of 10 s: one hour.
  explicit status_sampler(std::size_t capacity = 360);

  /// Takes a reading at `now`. The first reading only sets the baseline; each later one adds the
  /// sample of the interval since the previous reading. Counters that went back (a reset) count
  /// as 0 for that interval.
  void add(std::chrono::system_clock::time_point now, const status_counters& c);
  /// The samples, oldest first.
  std::vector<status_sample> samples() const;
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  std::size_t capacity_;
  mutable std::mutex mu_;
  std::deque<status_sample> ring_;
  std::optional<std::pair<std::chrono::system_clock::time_point, status_counters>> last_;
};

/// Upper bound, in ms, of the bucket holding quantile q of the observations between two
/// snapshots of one histogram; none when there were none. The +Inf bucket reports the last bound.
std::optional<double> quantile_ms(const obs::histogram::snapshot& before,
                                  const obs::histogram::snapshot& after, double q);

/// Runs a sampler: a reading at start, then one every `interval`, on a thread of its own.
class sampler_thread {
 public:
  sampler_thread(const obs::registry& metrics, status_sampler& sampler,
                 std::chrono::milliseconds interval = std::chrono::seconds(10));
  ~sampler_thread();
  sampler_thread(const sampler_thread&) = delete;
  sampler_thread& operator=(const sampler_thread&) = delete;

 private:
  void run();
  const obs::registry& metrics_;
  status_sampler& sampler_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace carebridge::gateway::ops
