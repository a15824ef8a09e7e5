#include "gateway/ingest/pipeline_worker.hpp"

#include "gateway/obs/log.hpp"
#include "gateway/store/deferred_priority.hpp"
#include "mappings/hl7v2/message.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>

namespace carebridge::gateway::ingest {

namespace hl7 = mappings::hl7v2;

namespace {

constexpr std::size_t scan_batch = 256;

stage_outcome check_header(const store::stored_message& m, store::processing_result&) {
  auto parsed = hl7::parse(m.raw);
  if (!parsed) return {stage_outcome::kind::error, "not an HL7 v2 message: " + parsed.error().describe()};
  return {};
}

}  // namespace

pipeline_worker::pipeline_worker(store::message_store& store, obs::registry& metrics,
                                 std::chrono::milliseconds poll, processor process)
    : pipeline_worker(store, metrics, poll, std::move(process), options{}) {}

pipeline_worker::pipeline_worker(store::message_store& store, obs::registry& metrics,
                                 std::chrono::milliseconds poll, processor process, options opts)
    : store_(store),
      process_(process ? std::move(process) : processor(check_header)),
      poll_(poll),
      opts_(opts),
      processed_(metrics
                     .counters("carebridge_pipeline_messages_total",
                               "Messages the pipeline finished, by outcome")
                     .series(obs::labels({{"outcome", "processed"}}))),
      errored_(metrics
                   .counters("carebridge_pipeline_errors_total",
                             "Messages the pipeline could not process (kept as errored)")
                   .series()),
      overflowed_(metrics
                      .counters("carebridge_pipeline_queue_overflows_total",
                                "Accepted messages left to the store scan because the in-memory "
                                "queue was full")
                      .series()) {}

pipeline_worker::~pipeline_worker() { stop(); }

void pipeline_worker::start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "cb-pipeline");
    if (opts_.idle_class) {
      store::deferred_priority::enroll(opts_.nice);
      loop();
      store::deferred_priority::leave();
      return;
    }
    if (opts_.nice != 0) {
      // Linux applies nice per thread; errors (a limit) leave the priority as it was.
      errno = 0;
      const int current = getpriority(PRIO_PROCESS, 0);
      if (errno == 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), current + opts_.nice);
    }
    loop();
  });
}

void pipeline_worker::wake() {
  {
    std::lock_guard lock(mu_);
    scan_wanted_ = true;
  }
  cv_.notify_one();
}

void pipeline_worker::enqueue(store::stored_message m) {
  bool notify = false;
  {
    std::lock_guard lock(mu_);
    if (stop_) return;  // it stays pending in the store
    if (queue_.size() >= opts_.max_queued_messages ||
        queued_bytes_ + m.raw.size() > opts_.max_queued_bytes) {
      // Too far behind: the store keeps the message pending; a scan picks it up.
      overflowed_.inc();
      notify = !scan_wanted_;
      scan_wanted_ = true;
    } else {
      // The worker only needs a wake-up when this is the first message it will find.
      notify = queue_.empty();
      queued_bytes_ += m.raw.size();
      queue_.push_back(std::move(m));
    }
  }
  if (notify) cv_.notify_one();
}

void pipeline_worker::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    queue_.clear();
    queued_bytes_ = 0;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Settlement callbacks refer to this worker: none may be left when it goes.
  wait_settled();
}

void pipeline_worker::wait_settled() {
  std::unique_lock lock(settle_mu_);
  settled_cv_.wait(lock, [&] { return settling_ == 0; });
}

void pipeline_worker::run_one(const store::stored_message& m) {
  store::processing_result result;
  stage_outcome o;
  try {
    o = process_(m, result);
  } catch (const std::exception& e) {
    // A bug in a stage must not stop the pipeline: the message is kept as errored.
    o = {stage_outcome::kind::error, std::string("internal error: ") + e.what()};
  }
  const bool ok = o.what != stage_outcome::kind::error;
  if (ok) {
    processed_.inc();
  } else {
    errored_.inc();
    obs::warn("pipeline.errored",
              {{"id", m.id}, {"control_id", m.control_id}, {"reason", o.reason}});
  }
  {
    std::unique_lock lock(settle_mu_);
    settled_cv_.wait(lock, [&] { return settling_ < opts_.max_unsettled; });
    ++settling_;
  }
  // Runs on the store's writer thread once the settlement is committed (or has failed).
  const bool alerts = ok && !result.alerts.empty();
  auto settled = [this, id = m.id, alerts](bool done) {
    if (done && alerts && opts_.alerts_settled) opts_.alerts_settled();
    if (!done) {
      obs::error("pipeline.settle_failed", {{"id", id}});
      {
        std::lock_guard lock(mu_);
        scan_wanted_ = true;  // the message is still pending: a scan runs it again
      }
      cv_.notify_one();
    }
    std::lock_guard lock(settle_mu_);
    --settling_;
    settled_cv_.notify_all();
  };
  if (ok) {
    store_.settle_processed(m.id, std::move(result), std::move(settled));
  } else {
    store_.settle(m.id, store::message_state::errored, o.reason, std::move(settled));
  }
}

void pipeline_worker::scan() {
  // Everything processed so far must be settled in the store first, or the scan would find it
  // pending and run it again.
  wait_settled();
  last_scan_ = std::chrono::steady_clock::now();
  std::int64_t after = 0;
  while (true) {
    std::vector<store::stored_message> batch;
    try {
      batch = store_.pending(after, scan_batch);
    } catch (const std::exception& e) {
      obs::error("pipeline.read_failed", {{"error", e.what()}});
      return;
    }
    for (const auto& m : batch) {
      {
        std::lock_guard lock(mu_);
        if (stop_) return;
      }
      run_one(m);
    }
    if (!batch.empty()) {
      after = batch.back().id;
      scanned_upto_ = std::max(scanned_upto_, after);
    }
    if (batch.size() < scan_batch) return;
  }
}

void pipeline_worker::loop() {
  std::deque<store::stored_message> batch;
  while (true) {
    bool do_scan = false;
    {
      std::unique_lock lock(mu_);
      if (!stop_ && !scan_wanted_ && queue_.empty()) {
        const bool woken =
            cv_.wait_for(lock, poll_, [&] { return stop_ || scan_wanted_ || !queue_.empty(); });
        if (!woken) scan_wanted_ = true;  // idle for a whole interval: look at the store
      }
      if (stop_) return;
      // Busy for a long while: look at the store anyway (messages set back to pending).
      if (!scan_wanted_ &&
          std::chrono::steady_clock::now() - last_scan_ >= opts_.busy_scan_interval)
        scan_wanted_ = true;
      if (scan_wanted_) {
        scan_wanted_ = false;
        do_scan = true;
      } else {
        batch.swap(queue_);
        queued_bytes_ = 0;
      }
    }
    if (do_scan) {
      scan();
      continue;
    }
    for (const auto& m : batch) {
      if (m.id <= scanned_upto_) continue;  // a scan found it pending and ran it already
      {
        std::lock_guard lock(mu_);
        if (stop_) return;
      }
      run_one(m);
    }
    batch.clear();
  }
}

}  // namespace carebridge::gateway::ingest
