// Prometheus metrics: counters, gauges and histograms, exposed in the text format (version 0.0.4).
//
// Families are created at start-up (registry::counter(...) etc. return references that stay valid
// for the registry's life); the hot path only touches atomics. Labelled series are created on first
// use under a mutex and then cached by the caller. Callback gauges are read at scrape time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::gateway::obs {

class counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class gauge {
 public:
  void set(std::int64_t v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  void sub(std::int64_t n = 1) noexcept { v_.fetch_sub(n, std::memory_order_relaxed); }
  std::int64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

/// Cumulative histogram with fixed upper bounds (seconds).
class histogram {
 public:
  explicit histogram(std::vector<double> bounds);
  void observe(double seconds) noexcept;
  struct snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  snapshot read() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<std::uint64_t> sum_ns_{0};
  std::atomic<std::uint64_t> count_{0};
};

/// Bounds for latencies from 100 µs to 10 s.
std::vector<double> latency_bounds();

/// A label set written as Prometheus text: {code="AA",sender="MERCY"}; values are escaped.
std::string labels(std::initializer_list<std::pair<std::string_view, std::string_view>> kv);

/// The label text labels() writes, read back: {k="v",...} → (k, v) pairs, escapes undone. Text
/// that is not such a set gives what could be read up to the fault.
std::vector<std::pair<std::string, std::string>> parse_labels(std::string_view label_text);
/// The value of one label of a label text, or "" when it has none.
std::string label_value(std::string_view label_text, std::string_view name);

class registry {
 public:
  /// A family of series with one name; `series("...")` gives the series for a label set.
  template <typename T>
  class family {
   public:
    T& series(const std::string& label_text = {});
    /// Drops every series. Only for families whose series are set afresh at each scrape and
    /// whose references nobody keeps (the scrape-time gauges of gateway/ops): the series of a
    /// subscription deleted since the last scrape must go.
    void clear();

   private:
    friend class registry;
    std::mutex mu_;
    std::map<std::string, std::unique_ptr<T>> series_;
    std::vector<double> bounds_;  // histograms only
  };

  family<counter>& counters(std::string name, std::string help);
  family<gauge>& gauges(std::string name, std::string help);
  family<histogram>& histograms(std::string name, std::string help, std::vector<double> bounds);
  /// A gauge computed when scraped (backlogs, open connections of a component…).
  void callback_gauge(std::string name, std::string help, std::function<double()> read);

  /// The whole registry in Prometheus text format.
  std::string expose() const;

  /// The current values of a counter or gauge family (a callback gauge: one value with no
  /// labels), as (label text, value), in label order; empty when there is no such family. For the
  /// status page (gateway/ops), which reads what /metrics shows rather than keeping counts twice.
  std::vector<std::pair<std::string, double>> values(std::string_view name) const;
  /// The same for a histogram family.
  std::vector<std::pair<std::string, histogram::snapshot>> histogram_values(
      std::string_view name) const;
  /// Sum of values(name) over the series whose labels include every (name, value) of `match`.
  double sum(std::string_view name,
             std::initializer_list<std::pair<std::string_view, std::string_view>> match = {}) const;

 private:
  struct entry {
    std::string name;
    std::string help;
    std::string type;
    std::unique_ptr<family<counter>> c;
    std::unique_ptr<family<gauge>> g;
    std::unique_ptr<family<histogram>> h;
    std::function<double()> cb;
  };
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<entry>> entries_;
};

}  // namespace carebridge::gateway::obs
