// The pipeline worker against a real store: messages handed over in memory and found in the store
// are each processed once, what a previous run left pending is resumed, an overflowing queue falls
// back to the store, and a message whose settlement failed is run again.
#include "gateway/ingest/pipeline_worker.hpp"
#include "gateway/store/sqlite_store.hpp"
#include "tests/e2e/process.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <thread>

namespace {

using namespace carebridge::gateway;
using carebridge::test::temp_dir;
using namespace std::chrono_literals;

store::inbound_record record(const std::string& control_id) {
  store::inbound_record r;
  r.sending_application = "EPIC";
  r.sending_facility = "MERCY";
  r.control_id = control_id;
  r.message_type = "ADT^A03";
  r.ack_code = "AA";
  r.ack = "MSA|AA|" + control_id;
  r.raw = "MSH|^~\\&|EPIC|MERCY|||||ADT^A03|" + control_id + "|P|2.5\r";
  r.received_at_us = 1;
  return r;
}

// What ingest hands over after a commit.
store::stored_message handed_over(store::commit_result c) {
  store::stored_message m;
  m.id = c.id;
  m.raw = std::move(c.record.raw);
  m.sending_facility = std::move(c.record.sending_facility);
  m.control_id = std::move(c.record.control_id);
  m.message_type = std::move(c.record.message_type);
  m.received_at_us = c.record.received_at_us;
  return m;
}

store::commit_result submit(store::message_store& s, const std::string& control_id) {
  std::promise<store::commit_result> p;
  s.submit(record(control_id), [&p](store::commit_result c) { p.set_value(std::move(c)); });
  return p.get_future().get();
}

// Counts how often each message is processed.
struct counting_processor {
  std::mutex mu;
  std::map<std::int64_t, int> runs;
  std::chrono::microseconds delay{0};

  ingest::processor fn() {
    return [this](const store::stored_message& m, store::processing_result&) {
      if (delay.count() > 0) std::this_thread::sleep_for(delay);
      std::lock_guard lock(mu);
      ++runs[m.id];
      if (m.control_id.starts_with("BAD"))
        return ingest::stage_outcome{ingest::stage_outcome::kind::error, "bad"};
      return ingest::stage_outcome{};
    };
  }
  std::size_t distinct() {
    std::lock_guard lock(mu);
    return runs.size();
  }
  int max_runs() {
    std::lock_guard lock(mu);
    int m = 0;
    for (const auto& [id, n] : runs) m = std::max(m, n);
    return m;
  }
};

// Waits (up to 10 s) until the store has no pending message left.
bool drained(store::message_store& s) {
  for (int i = 0; i < 1000; ++i) {
    if (s.backlog().pending == 0) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(IngestPipelineWorker, HandedOverMessagesAreProcessedOnceAndSettled) {
  temp_dir dir;
  auto s = store::sqlite_store::open(dir.path(), {});
  obs::registry metrics;
  counting_processor p;
  ingest::pipeline_worker w(*s, metrics, 50ms, p.fn());
  w.start();
  for (int i = 0; i < 40; ++i) {
    const std::string id = (i % 10 == 9 ? "BAD" : "OK") + std::to_string(i);
    w.enqueue(handed_over(submit(*s, id)));
  }
  ASSERT_TRUE(drained(*s));
  w.stop();
  EXPECT_EQ(p.distinct(), 40u);
  EXPECT_EQ(p.max_runs(), 1);
  const auto st = s->stats();
  EXPECT_EQ(st.processed, 36u);
  EXPECT_EQ(st.errored, 4u);
  EXPECT_EQ(w.processed(), 36u);
}

TEST(IngestPipelineWorker, ResumesWhatAPreviousRunLeftPending) {
  temp_dir dir;
  {
    auto s = store::sqlite_store::open(dir.path(), {});
    for (int i = 0; i < 7; ++i) submit(*s, "LEFT" + std::to_string(i));
  }
  auto s = store::sqlite_store::open(dir.path(), {});
  obs::registry metrics;
  counting_processor p;
  ingest::pipeline_worker w(*s, metrics, 10s, p.fn());  // no poll: the start alone must do it
  w.start();
  ASSERT_TRUE(drained(*s));
  w.stop();
  EXPECT_EQ(p.distinct(), 7u);
  EXPECT_EQ(p.max_runs(), 1);
}

TEST(IngestPipelineWorker, AMessageBothPendingInTheStoreAndHandedOverRunsOnce) {
  temp_dir dir;
  auto s = store::sqlite_store::open(dir.path(), {});
  obs::registry metrics;
  counting_processor p;
  ingest::pipeline_worker w(*s, metrics, 10s, p.fn());
  // Committed and handed over before the worker starts: its first scan finds them too.
  for (int i = 0; i < 20; ++i) w.enqueue(handed_over(submit(*s, "BOTH" + std::to_string(i))));
  w.start();
  for (int i = 0; i < 20; ++i) w.enqueue(handed_over(submit(*s, "LATER" + std::to_string(i))));
  ASSERT_TRUE(drained(*s));
  w.stop();
  EXPECT_EQ(p.distinct(), 40u);
  EXPECT_EQ(p.max_runs(), 1);
}

TEST(IngestPipelineWorker, AnOverflowingQueueFallsBackToTheStore) {
  temp_dir dir;
  auto s = store::sqlite_store::open(dir.path(), {});
  obs::registry metrics;
  counting_processor p;
  p.delay = 500us;
  ingest::pipeline_worker::options o;
  o.max_queued_messages = 3;
  ingest::pipeline_worker w(*s, metrics, 10s, p.fn(), o);
  // Thirty handed over before the worker runs: the queue holds three, the rest overflow.
  std::vector<store::commit_result> committed;
  for (int i = 0; i < 30; ++i) committed.push_back(submit(*s, "MANY" + std::to_string(i)));
  for (auto& c : committed) w.enqueue(handed_over(std::move(c)));
  w.start();
  // And thirty more while it works (slowly): some fit, some may not.
  for (int i = 30; i < 60; ++i) w.enqueue(handed_over(submit(*s, "MANY" + std::to_string(i))));
  ASSERT_TRUE(drained(*s));
  w.stop();
  EXPECT_EQ(p.distinct(), 60u);
  EXPECT_EQ(p.max_runs(), 1);
  const std::string text = metrics.expose();
  EXPECT_NE(text.find("carebridge_pipeline_queue_overflows_total "), std::string::npos);
  EXPECT_EQ(text.find("carebridge_pipeline_queue_overflows_total 0\n"), std::string::npos);
}

// A store whose first settlement fails (as a full disk would make it).
class failing_first_settle final : public store::message_store {
 public:
  explicit failing_first_settle(store::message_store& s) : s_(s) {}
  void submit(store::inbound_record r, commit_handler done) override {
    s_.submit(std::move(r), std::move(done));
  }
  std::vector<store::stored_message> pending(std::int64_t a, std::size_t l) override {
    return s_.pending(a, l);
  }
  void settle(std::int64_t id, store::message_state st, std::string reason,
              std::function<void(bool)> done) override {
    s_.settle(id, st, std::move(reason), std::move(done));
  }
  void settle_processed(std::int64_t id, store::processing_result r,
                        std::function<void(bool)> done) override {
    if (!failed_.exchange(true)) {
      if (done) done(false);
      return;
    }
    s_.settle_processed(id, std::move(r), std::move(done));
  }
  std::optional<store::stored_resource> read_resource(std::string_view t,
                                                      std::string_view i) override {
    return s_.read_resource(t, i);
  }
  std::vector<store::stored_event> events_for_patient(std::string_view p) override {
    return s_.events_for_patient(p);
  }
  store::store_stats stats() override { return s_.stats(); }
  backlog_info backlog() override { return s_.backlog(); }
  bool writable() const override { return s_.writable(); }
  std::size_t queued() const override { return s_.queued(); }
  void close() override { s_.close(); }

 private:
  store::message_store& s_;
  std::atomic<bool> failed_{false};
};

TEST(IngestPipelineWorker, AMessageWhoseSettlementFailedIsRunAgain) {
  temp_dir dir;
  auto s = store::sqlite_store::open(dir.path(), {});
  failing_first_settle flaky(*s);
  obs::registry metrics;
  counting_processor p;
  ingest::pipeline_worker w(flaky, metrics, 10s, p.fn());
  w.start();
  const auto first = submit(*s, "FLAKY");
  const std::int64_t id = first.id;
  w.enqueue(handed_over(first));
  ASSERT_TRUE(drained(*s));
  w.stop();
  std::lock_guard lock(p.mu);
  EXPECT_EQ(p.runs[id], 2);
  EXPECT_EQ(s->stats().processed, 1u);
}

// A message an operator sets back to pending from another process (`carebridge store reprocess`,
// a connection of its own) is run again by a running worker: while idle, by the poll's scan (it
// starts from the lowest id, below what the worker has seen), and while messages keep arriving
// and the worker is never idle for a whole poll interval, by the busy scan.
TEST(IngestPipelineWorker, AMessageSetBackToPendingIsRunAgainIdleOrBusy) {
  temp_dir dir;
  store::sqlite_store::options so;
  so.fsync = false;  // the feeder below must never leave the worker a whole poll interval idle
  auto s = store::sqlite_store::open(dir.path(), so);
  obs::registry metrics;
  counting_processor p;
  ingest::pipeline_worker::options o;
  o.busy_scan_interval = 300ms;
  ingest::pipeline_worker w(*s, metrics, 1s, p.fn(), o);
  w.start();
  const auto bad = submit(*s, "BAD1");
  w.enqueue(handed_over(bad));
  for (int i = 0; i < 5; ++i) w.enqueue(handed_over(submit(*s, "OK" + std::to_string(i))));
  ASSERT_TRUE(drained(*s));
  auto runs_of_bad = [&] {
    std::lock_guard lock(p.mu);
    return p.runs[bad.id];
  };
  auto runs_become = [&](int n) {
    for (int i = 0; i < 500 && runs_of_bad() < n; ++i) std::this_thread::sleep_for(10ms);
    return runs_of_bad() == n;
  };
  ASSERT_EQ(runs_of_bad(), 1);
  EXPECT_EQ(s->stats().errored, 1u);

  store::reprocess_request again;
  again.ids = {bad.id};
  ASSERT_EQ(store::sqlite_store::reprocess(dir.path(), again).reprocessed, 1u);
  EXPECT_TRUE(runs_become(2)) << "idle: not run again";

  // A message every 20 ms: never a second idle.
  std::atomic<bool> stop{false};
  std::thread feeder([&] {
    for (int n = 0; !stop; ++n) {
      w.enqueue(handed_over(submit(*s, "FEED" + std::to_string(n))));
      std::this_thread::sleep_for(20ms);
    }
  });
  ASSERT_TRUE(drained(*s));  // the errored settlement of run 2 is committed
  std::this_thread::sleep_for(100ms);
  ASSERT_EQ(store::sqlite_store::reprocess(dir.path(), again).reprocessed, 1u);
  const bool busy_ok = runs_become(3);
  stop = true;
  feeder.join();
  EXPECT_TRUE(busy_ok) << "busy: not run again";
  ASSERT_TRUE(drained(*s));
  w.stop();
  EXPECT_EQ(s->stats().errored, 1u);
  EXPECT_EQ(s->stats().pending, 0u);
}

}  // namespace

// A settlement that queued alerts cues the fan-out once it has committed (the outbox entry is then
// readable); settlements without alerts, and errored messages, do not.
TEST(IngestPipelineWorker, ASettlementWithAlertsCallsAlertsSettledAfterItsCommit) {
  temp_dir dir;
  auto s = store::sqlite_store::open(dir.path(), {});
  obs::registry metrics;
  std::atomic<int> cues{0};
  std::atomic<bool> readable_when_cued{true};
  ingest::pipeline_worker::options o;
  o.alerts_settled = [&] {
    if (s->alerts_after(0, 10).empty()) readable_when_cued = false;
    ++cues;
  };
  ingest::pipeline_worker w(
      *s, metrics, 50ms,
      [](const store::stored_message& m, store::processing_result& out) {
        if (m.control_id.starts_with("BAD"))
          return ingest::stage_outcome{ingest::stage_outcome::kind::error, "bad"};
        if (m.control_id.starts_with("ALERT")) {
          store::alert_row a;
          a.kind = "notice";
          a.event_kind = "discharge";
          a.group_id = "G1";
          a.patient_id = "p-" + m.control_id;
          a.encounter_id = "e-" + m.control_id;
          out.alerts.push_back(a);
        }
        return ingest::stage_outcome{};
      },
      o);
  w.start();
  for (const char* id : {"OK1", "ALERT1", "BAD1", "OK2", "ALERT2"})
    w.enqueue(handed_over(submit(*s, id)));
  ASSERT_TRUE(drained(*s));
  w.stop();
  EXPECT_EQ(cues.load(), 2);
  EXPECT_TRUE(readable_when_cued.load());
  EXPECT_EQ(s->alerts_after(0, 10).size(), 2u);
}
