// The pipeline worker: takes accepted (pending) messages from the store, oldest first, runs the
// processing stages on each, and records the outcome (processed, or errored with the reason).
//
// It runs on its own thread. On start it resumes whatever was committed but not yet processed (a
// crash between commit and processing loses nothing). wake() is called after each commit of an
// accepted message; without wake-ups it still polls every `poll` interval.
//
// Stages today: parse and check the header. Mapping to FHIR, matching, scoring and alerting are
// added here by the next issues; each stage returns continue / stop / error.
#pragma once

#include "gateway/obs/metrics.hpp"
#include "gateway/store/message_store.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace carebridge::gateway::ingest {

/// A stage's verdict on a message.
struct stage_outcome {
  enum class kind : std::uint8_t { proceed, stop, error };
  kind what = kind::proceed;
  std::string reason;  // PHI-free, for error
};

/// The processing stages: given a stored message, fill `out` (resources, clinical event) and say
/// whether it is processed (proceed/stop) or errored. Runs on the worker thread. The default, when
/// none is given, parses and checks the HL7 v2 header only.
using processor =
    std::function<stage_outcome(const store::stored_message& m, store::processing_result& out)>;

class pipeline_worker {
 public:
  pipeline_worker(store::message_store& store, obs::registry& metrics,
                  std::chrono::milliseconds poll = std::chrono::milliseconds(1000),
                  processor process = {});
  ~pipeline_worker();
  pipeline_worker(const pipeline_worker&) = delete;
  pipeline_worker& operator=(const pipeline_worker&) = delete;

  void start();
  void wake();
  /// Finishes the message in hand and stops. Idempotent.
  void stop();

  std::uint64_t processed() const { return processed_.value(); }

 private:
  void loop();
  store::message_store& store_;
  processor process_;
  std::chrono::milliseconds poll_;
  obs::counter& processed_;
  obs::counter& errored_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace carebridge::gateway::ingest
