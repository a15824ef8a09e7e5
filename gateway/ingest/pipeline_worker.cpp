#include "gateway/ingest/pipeline_worker.hpp"

#include "gateway/obs/log.hpp"
#include "mappings/hl7v2/message.hpp"

#include <atomic>
#include <future>
#include <memory>

namespace carebridge::gateway::ingest {

namespace hl7 = mappings::hl7v2;

namespace {

stage_outcome check_header(const store::stored_message& m, store::processing_result&) {
  auto parsed = hl7::parse(m.raw);
  if (!parsed) return {stage_outcome::kind::error, "not an HL7 v2 message: " + parsed.error().describe()};
  return {};
}

}  // namespace

pipeline_worker::pipeline_worker(store::message_store& store, obs::registry& metrics,
                                 std::chrono::milliseconds poll, processor process)
    : store_(store),
      process_(process ? std::move(process) : processor(check_header)),
      poll_(poll),
      processed_(metrics
                     .counters("carebridge_pipeline_messages_total",
                               "Messages the pipeline finished, by outcome")
                     .series(obs::labels({{"outcome", "processed"}}))),
      errored_(metrics
                   .counters("carebridge_pipeline_errors_total",
                             "Messages the pipeline could not process (kept as errored)")
                   .series()) {}

pipeline_worker::~pipeline_worker() { stop(); }

void pipeline_worker::start() {
  thread_ = std::thread([this] { loop(); });
}

void pipeline_worker::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

void pipeline_worker::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void pipeline_worker::loop() {
  std::int64_t after = 0;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    std::vector<store::stored_message> batch;
    try {
      batch = store_.pending(after, 256);
    } catch (const std::exception& e) {
      obs::error("pipeline.read_failed", {{"error", e.what()}});
    }
    // Settle the whole batch in one group commit, then wait for the last one: the writer commits
    // in order, so when it is done, all are.
    auto failures = std::make_shared<std::atomic<int>>(0);
    std::promise<void> all_settled;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto& m = batch[i];
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
      const bool last = i + 1 == batch.size();
      auto settled = [failures, last, &all_settled](bool done) {
        if (!done) failures->fetch_add(1);
        if (last) all_settled.set_value();
      };
      if (ok) {
        store_.settle_processed(m.id, std::move(result), std::move(settled));
      } else {
        store_.settle(m.id, store::message_state::errored, o.reason, std::move(settled));
      }
    }
    if (!batch.empty()) {
      all_settled.get_future().wait();
      if (failures->load() != 0) {
        obs::error("pipeline.settle_failed", {{"messages", failures->load()}});
      } else {
        after = batch.back().id;
      }
    }
    if (batch.size() == 256) continue;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, poll_, [&] { return stop_ || woken_; });
    woken_ = false;
    if (stop_) return;
    after = 0;  // re-read from the start: a settle that failed leaves its message pending
  }
}

}  // namespace carebridge::gateway::ingest
