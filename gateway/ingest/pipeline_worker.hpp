// The pipeline worker: runs the processing stages on each accepted message and records the outcome
// (processed, or errored with the reason) in the store.
//
// It runs on its own thread. Messages reach it two ways:
//  - in memory: ingest hands over each accepted message once its commit is durable (enqueue(), from
//    the store's writer thread), so the body is not read back from the store. The queue is bounded
//    (messages and bytes); what does not fit is left to the store scan.
//  - from the store: a scan of the pending messages, oldest first, at start (it resumes whatever was
//    committed but not yet processed: a crash between commit and processing loses nothing), after
//    the queue overflowed or a settlement failed, on wake(), every `poll` interval while idle, and
//    every options::busy_scan_interval while busy. A scan starts from the lowest id each time, so
//    it also finds messages set back to pending by `carebridge store reprocess`.
// Each message is processed once per run: a scan waits until every settlement issued before it has
// committed, and a queued message that a scan already returned is skipped. Settlements are
// group-committed by the store without an fsync of their own (a lost one leaves the message
// pending, and it is processed again after a restart; stages are idempotent); at most
// options::max_unsettled are outstanding, so a slow store slows processing rather than memory.
//
// Processing is deferred work: the thread runs at a lower CPU priority (options::nice, and
// SCHED_IDLE: options::idle_class) so that, on a busy CPU, acknowledging goes first and the
// backlog (/metrics) absorbs the peak.
//
// Stages are given by the `processor` (the default parses and checks the header); each returns
// continue / stop / error. Lifecycle: construct, start(), stop() (or destroy) before the store.
#pragma once

#include "gateway/obs/metrics.hpp"
#include "gateway/store/message_store.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
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
  struct options {
    std::size_t max_queued_messages = 8192;  // in-memory hand-over queue
    std::size_t max_queued_bytes = 64u << 20;
    /// Settlements handed to the store and not yet committed, at most: past that, processing
    /// waits for the store (whose writer puts new messages first).
    std::size_t max_unsettled = 512;
    /// The worker thread's nice value, relative to the process: processing is deferred work, so
    /// on a busy CPU the threads that acknowledge messages go first and the backlog (visible in
    /// /metrics) absorbs the peak. 0 keeps the process's priority.
    int nice = 10;
    /// Also run the thread under SCHED_IDLE while the ACK path is busy
    /// (store/deferred_priority.hpp): a waking ACK-path thread then takes the CPU from it at once,
    /// rather than after the rest of a time slice.
    bool idle_class = true;
    /// Called (on the store's writer thread; must not block) once a settlement that queued alerts
    /// has committed: the fan-out's cue, so an alert does not wait for its next pass.
    std::function<void()> alerts_settled;
    /// While messages keep arriving (never a whole `poll` interval idle), a scan of the store
    /// still runs this often: messages an operator set back to pending (`carebridge store
    /// reprocess`, from another process) are found under steady traffic too.
    std::chrono::milliseconds busy_scan_interval = std::chrono::seconds(10);
  };

  pipeline_worker(store::message_store& store, obs::registry& metrics,
                  std::chrono::milliseconds poll = std::chrono::milliseconds(1000),
                  processor process = {});
  pipeline_worker(store::message_store& store, obs::registry& metrics,
                  std::chrono::milliseconds poll, processor process, options opts);
  ~pipeline_worker();
  pipeline_worker(const pipeline_worker&) = delete;
  pipeline_worker& operator=(const pipeline_worker&) = delete;

  void start();
  /// Asks for a scan of the store's pending messages.
  void wake();
  /// Hands over a message whose commit is durable. Any thread; never blocks on processing.
  void enqueue(store::stored_message m);
  /// Finishes the message in hand and stops; whatever is still queued stays pending in the store.
  /// Idempotent.
  void stop();

  std::uint64_t processed() const { return processed_.value(); }

 private:
  void loop();
  void scan();
  void run_one(const store::stored_message& m);
  void wait_settled();

  store::message_store& store_;
  processor process_;
  std::chrono::milliseconds poll_;
  options opts_;
  obs::counter& processed_;
  obs::counter& errored_;
  obs::counter& overflowed_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool scan_wanted_ = true;  // the first pass resumes what is pending in the store
  std::deque<store::stored_message> queue_;
  std::size_t queued_bytes_ = 0;

  std::mutex settle_mu_;
  std::condition_variable settled_cv_;
  std::size_t settling_ = 0;  // settlements issued and not yet committed

  std::int64_t scanned_upto_ = 0;  // worker thread only: the highest id a scan returned
  std::chrono::steady_clock::time_point last_scan_{};  // worker thread only
  std::thread thread_;
};

}  // namespace carebridge::gateway::ingest
