// The operators' admin side of the SQLite store: listing messages (sqlite_store::messages) and
// setting them back to pending (sqlite_store::reprocess) — on its own connection, beside a store
// that is open and writing, with the counts by state kept right.
#include "gateway/store/sqlite_store.hpp"
#include "tests/e2e/process.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <future>
#include <map>
#include <thread>

namespace {

using namespace carebridge::gateway::store;
using carebridge::test::temp_dir;

inbound_record record(std::string facility, std::string control_id, std::int64_t received_s,
                      message_state state = message_state::pending) {
  inbound_record r;
  r.sending_application = "EPIC";
  r.sending_facility = std::move(facility);
  r.control_id = std::move(control_id);
  r.message_type = "ADT^A03";
  r.state = state;
  r.reason = state == message_state::rejected ? "MSH-9 (message type) is empty" : "";
  r.ack_code = state == message_state::pending ? "AA" : "AR";
  r.ack = "MSA|" + r.ack_code + "|" + r.control_id + "\r";
  r.raw = "MSH|^~\\&|EPIC|" + r.sending_facility + "|||||ADT^A03|" + r.control_id +
          "|P|2.5\rPID|1||SECRET-MRN||Body^Secret\r";
  r.received_at_us = received_s * 1'000'000;
  return r;
}

std::int64_t submit(message_store& s, inbound_record r) {
  std::promise<commit_result> p;
  s.submit(std::move(r), [&p](commit_result c) { p.set_value(std::move(c)); });
  auto c = p.get_future().get();
  EXPECT_EQ(c.what, commit_result::outcome::stored);
  return c.id;
}

bool settle(message_store& s, std::int64_t id, message_state state, std::string reason = {}) {
  std::promise<bool> p;
  s.settle(id, state, std::move(reason), [&p](bool ok) { p.set_value(ok); });
  return p.get_future().get();
}

// message_counts as the indexer keeps them, and the same counted row by row: they must agree.
std::map<std::string, std::int64_t> counted(const std::filesystem::path& dir, bool from_table) {
  sqlite3* db = nullptr;
  sqlite3_open_v2((dir / "carebridge.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* q = nullptr;
  sqlite3_prepare_v2(db,
                     from_table ? "SELECT state || '/' || sending_facility, n FROM message_counts "
                                  "WHERE state <> 'duplicate' AND n <> 0"
                                : "SELECT state || '/' || sending_facility, count(*) FROM messages "
                                  "GROUP BY 1",
                     -1, &q, nullptr);
  std::map<std::string, std::int64_t> out;
  while (sqlite3_step(q) == SQLITE_ROW)
    out[reinterpret_cast<const char*>(sqlite3_column_text(q, 0))] = sqlite3_column_int64(q, 1);
  sqlite3_finalize(q);
  sqlite3_close(db);
  return out;
}

std::vector<std::int64_t> ids_of(const std::vector<message_summary>& rows) {
  std::vector<std::int64_t> out;
  for (const auto& m : rows) out.push_back(m.id);
  return out;
}

TEST(StoreAdmin, ListsMessagesByStateFacilityAndTimeWithoutBodies) {
  temp_dir dir;
  auto s = sqlite_store::open(dir.path(), {});
  const auto a = submit(*s, record("MERCY", "A", 100));
  const auto b = submit(*s, record("MERCY", "B", 200));
  const auto c = submit(*s, record("STJOHN", "C", 300));
  const auto d = submit(*s, record("MERCY", "D", 400, message_state::rejected));
  ASSERT_TRUE(settle(*s, b, message_state::errored, "cannot map to FHIR: missing segment"));
  ASSERT_TRUE(settle(*s, c, message_state::errored, "cannot map to FHIR: missing segment"));
  ASSERT_TRUE(settle(*s, a, message_state::processed));

  EXPECT_EQ(ids_of(s->messages({})), (std::vector<std::int64_t>{a, b, c, d}));
  message_filter f;
  f.state = message_state::errored;
  const auto errored = s->messages(f);
  ASSERT_EQ(ids_of(errored), (std::vector<std::int64_t>{b, c}));
  EXPECT_EQ(errored[0].reason, "cannot map to FHIR: missing segment");
  EXPECT_EQ(errored[0].control_id, "B");
  EXPECT_EQ(errored[0].sending_facility, "MERCY");
  EXPECT_EQ(errored[0].message_type, "ADT^A03");
  EXPECT_EQ(errored[0].received_at_us, 200'000'000);
  EXPECT_EQ(errored[0].state, message_state::errored);
  f.sending_facility = "STJOHN";
  EXPECT_EQ(ids_of(s->messages(f)), (std::vector<std::int64_t>{c}));

  message_filter window;
  window.since_us = 200'000'000;  // inclusive
  window.until_us = 400'000'000;  // exclusive
  EXPECT_EQ(ids_of(s->messages(window)), (std::vector<std::int64_t>{b, c}));
  window.limit = 1;
  EXPECT_EQ(ids_of(s->messages(window)), (std::vector<std::int64_t>{b}));
  message_filter rejected;
  rejected.state = message_state::rejected;
  const auto r = s->messages(rejected);
  ASSERT_EQ(ids_of(r), (std::vector<std::int64_t>{d}));
  EXPECT_EQ(r[0].ack_code, "AR");
  EXPECT_EQ(r[0].reason, "MSH-9 (message type) is empty");

  // The read-only store `carebridge store messages` opens sees the same.
  EXPECT_EQ(ids_of(sqlite_store::open_read_only(dir.path())->messages(f)),
            (std::vector<std::int64_t>{c}));
}

TEST(StoreAdmin, ReprocessSetsErroredMessagesBackToPendingBesideAnOpenStore) {
  temp_dir dir;
  auto s = sqlite_store::open(dir.path(), {});  // the running gateway's store
  const auto a = submit(*s, record("MERCY", "A", 100));
  const auto b = submit(*s, record("MERCY", "B", 200));
  const auto c = submit(*s, record("STJOHN", "C", 300));
  const auto d = submit(*s, record("MERCY", "D", 400));
  ASSERT_TRUE(settle(*s, a, message_state::errored, "cannot map to FHIR: missing segment"));
  ASSERT_TRUE(settle(*s, b, message_state::errored, "cannot map to FHIR: missing segment"));
  ASSERT_TRUE(settle(*s, c, message_state::errored, "cannot map to FHIR: missing segment"));
  ASSERT_TRUE(settle(*s, d, message_state::processed));

  reprocess_request r;
  r.errored.sending_facility = "MERCY";
  r.errored.since_us = 150'000'000;
  auto done = sqlite_store::reprocess(dir.path(), r);
  EXPECT_EQ(done.reprocessed, 1u);  // b: a is too old, c from another facility
  EXPECT_TRUE(done.skipped.empty());

  // The open store's pipeline scan finds it pending, body and all.
  const auto pending = s->pending(0, 10);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].id, b);
  EXPECT_EQ(pending[0].control_id, "B");
  EXPECT_NE(pending[0].raw.find("ADT^A03|B|"), std::string::npos);
  message_filter f;
  f.state = message_state::pending;
  const auto listed = s->messages(f);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].reason, "");  // cleared

  auto st = s->stats();
  EXPECT_EQ(st.pending, 1u);
  EXPECT_EQ(st.errored, 2u);
  EXPECT_EQ(st.processed, 1u);
  EXPECT_EQ(st.by_sender.at("MERCY").pending, 1u);
  EXPECT_EQ(st.by_sender.at("MERCY").errored, 1u);
  EXPECT_EQ(counted(dir.path(), true), counted(dir.path(), false));

  // The open store settles it again: the counts follow.
  ASSERT_TRUE(settle(*s, b, message_state::processed));
  st = s->stats();
  EXPECT_EQ(st.pending, 0u);
  EXPECT_EQ(st.processed, 2u);
  EXPECT_EQ(counted(dir.path(), true), counted(dir.path(), false));

  // Every errored message, whatever its facility.
  done = sqlite_store::reprocess(dir.path(), reprocess_request{});
  EXPECT_EQ(done.reprocessed, 2u);
  EXPECT_EQ(s->backlog().pending, 2u);
  EXPECT_EQ(s->stats().errored, 0u);
  EXPECT_EQ(counted(dir.path(), true), counted(dir.path(), false));
  EXPECT_TRUE(s->writable());
}

TEST(StoreAdmin, ReprocessByIdTakesProcessedAndRejectedOnlyWhenForced) {
  temp_dir dir;
  auto s = sqlite_store::open(dir.path(), {});
  const auto errored = submit(*s, record("MERCY", "E", 100));
  const auto processed = submit(*s, record("MERCY", "P", 200));
  const auto pending = submit(*s, record("MERCY", "Q", 300));
  const auto rejected = submit(*s, record("MERCY", "R", 400, message_state::rejected));
  ASSERT_TRUE(settle(*s, errored, message_state::errored, "bad"));
  ASSERT_TRUE(settle(*s, processed, message_state::processed));

  reprocess_request r;
  r.ids = {errored, processed, pending, rejected, 9999};
  auto done = sqlite_store::reprocess(dir.path(), r);
  EXPECT_EQ(done.reprocessed, 1u);
  const std::vector<std::pair<std::int64_t, std::string>> skipped{
      {processed, "processed (needs --force)"},
      {pending, "already pending"},
      {rejected, "rejected (needs --force)"},
      {9999, "not found"}};
  EXPECT_EQ(done.skipped, skipped);
  EXPECT_EQ(s->stats().processed, 1u);
  EXPECT_EQ(s->stats().rejected, 1u);

  r.ids = {processed, rejected, processed};
  r.force = true;
  done = sqlite_store::reprocess(dir.path(), r);
  EXPECT_EQ(done.reprocessed, 2u);
  EXPECT_TRUE(done.skipped.empty());
  const auto st = s->stats();
  EXPECT_EQ(st.pending, 4u);
  EXPECT_EQ(st.processed, 0u);
  EXPECT_EQ(st.rejected, 0u);
  EXPECT_EQ(counted(dir.path(), true), counted(dir.path(), false));
  // A forced rejected message comes back with its body, for the pipeline to run.
  const auto all = s->pending(0, 10);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[3].id, rejected);
  EXPECT_NE(all[3].raw.find("ADT^A03|R|"), std::string::npos);
}

// A processed message processed again replaces what it made (its events), rather than adding to
// it: reprocessing keeps its settled time, so the store's writer does not fail on its events.
TEST(StoreAdmin, AForcedProcessedMessageSettlesAgainWithItsEventsReplaced) {
  temp_dir dir;
  auto s = sqlite_store::open(dir.path(), {});
  const auto id = submit(*s, record("MERCY", "P", 100));
  auto settle_with_event = [&] {
    processing_result made;
    made.resources.push_back({"Patient", "p1", R"({"resourceType":"Patient"})"});
    made.events.push_back({"discharge", R"({"kind":"discharge"})", "p1", "e1"});
    std::promise<bool> p;
    s->settle_processed(id, std::move(made), [&p](bool ok) { p.set_value(ok); });
    return p.get_future().get();
  };
  ASSERT_TRUE(settle_with_event());
  reprocess_request r;
  r.ids = {id};
  r.force = true;
  ASSERT_EQ(sqlite_store::reprocess(dir.path(), r).reprocessed, 1u);
  ASSERT_TRUE(settle_with_event());
  EXPECT_EQ(s->events_for_patient("p1").size(), 1u);
  EXPECT_EQ(s->stats().processed, 1u);
  EXPECT_TRUE(s->writable());
}

// The gateway's writer keeps a transaction open across batches while messages arrive: reprocess
// waits for it (busy timeout) rather than failing, and neither loses a count.
TEST(StoreAdmin, ReprocessWhileTheStoreIsBusyWriting) {
  temp_dir dir;
  auto s = sqlite_store::open(dir.path(), {});
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(submit(*s, record("MERCY", "E" + std::to_string(i), i)));
  for (const auto id : ids) ASSERT_TRUE(settle(*s, id, message_state::errored, "bad"));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    int n = 0;
    while (!stop) {
      const auto id = submit(*s, record("STJOHN", "N" + std::to_string(n++), 1000));
      settle(*s, id, message_state::processed);
    }
  });
  std::uint64_t total = 0;
  for (int round = 0; round < 5; ++round) {
    total += sqlite_store::reprocess(dir.path(), reprocess_request{}).reprocessed;
    for (const auto& m : s->pending(0, 100))
      if (m.sending_facility == "MERCY") settle(*s, m.id, message_state::errored, "bad again");
  }
  stop = true;
  writer.join();
  EXPECT_EQ(total, 250u);
  EXPECT_TRUE(s->writable());
  s->close();
  EXPECT_EQ(counted(dir.path(), true), counted(dir.path(), false));
}

TEST(StoreAdmin, ReprocessOfAMissingStoreSaysSo) {
  temp_dir dir;
  try {
    sqlite_store::reprocess(dir.path() / "nothing", reprocess_request{});
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("carebridge.db not found"), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "nothing" / "carebridge.db"));
}

// `carebridge store reprocess --since`: a time range, in the states asked for; processed and
// rejected ones only with force (counted by state otherwise), pending ones never; a dry run
// lists and counts without changing anything.
TEST(StoreAdmin, ReprocessATimeRangeByStateWithForceAndDryRun) {
  temp_dir dir;
  auto s = sqlite_store::open(dir.path(), {});
  const auto old = submit(*s, record("MERCY", "OLD", 100));
  const auto e1 = submit(*s, record("MERCY", "E1", 200));
  const auto p1 = submit(*s, record("MERCY", "P1", 300));
  const auto r1 = submit(*s, record("MERCY", "R1", 400, message_state::rejected));
  const auto q1 = submit(*s, record("MERCY", "Q1", 500));  // stays pending
  const auto p2 = submit(*s, record("STJOHN", "P2", 600));
  const auto late = submit(*s, record("MERCY", "LATE", 900));
  ASSERT_TRUE(settle(*s, old, message_state::errored, "bad"));
  ASSERT_TRUE(settle(*s, e1, message_state::errored, "bad"));
  ASSERT_TRUE(settle(*s, p1, message_state::processed));
  ASSERT_TRUE(settle(*s, p2, message_state::processed));
  ASSERT_TRUE(settle(*s, late, message_state::processed));
  (void)q1;

  reprocess_request r;
  r.errored.since_us = 150'000'000;
  r.errored.until_us = 800'000'000;
  r.states = {message_state::errored, message_state::processed, message_state::pending};
  r.list_limit = 10;
  // Without force: the errored one; the processed ones counted as needing it.
  r.dry_run = true;
  auto done = sqlite_store::reprocess(dir.path(), r);
  EXPECT_EQ(done.reprocessed, 1u);
  EXPECT_EQ(done.by_state, (std::map<message_state, std::uint64_t>{{message_state::errored, 1}}));
  EXPECT_EQ(done.refused, (std::map<message_state, std::uint64_t>{{message_state::processed, 2}}));
  ASSERT_EQ(done.listed.size(), 1u);
  EXPECT_EQ(done.listed[0].id, e1);
  EXPECT_EQ(done.listed[0].control_id, "E1");
  EXPECT_EQ(done.listed[0].state, message_state::errored);
  EXPECT_EQ(s->stats().errored, 2u);  // a dry run changes nothing
  EXPECT_EQ(s->stats().pending, 1u);

  // Forced, one facility, dry run: what it would take, oldest first.
  r.force = true;
  r.errored.sending_facility = "MERCY";
  done = sqlite_store::reprocess(dir.path(), r);
  EXPECT_EQ(ids_of(done.listed), (std::vector<std::int64_t>{e1, p1}));
  EXPECT_TRUE(done.refused.empty());

  // For real, every facility; rejected only when named.
  r.errored.sending_facility.clear();
  r.dry_run = false;
  r.list_limit = 0;
  done = sqlite_store::reprocess(dir.path(), r);
  EXPECT_EQ(done.reprocessed, 3u);
  EXPECT_EQ(done.by_state, (std::map<message_state, std::uint64_t>{{message_state::errored, 1},
                                                                   {message_state::processed, 2}}));
  EXPECT_TRUE(done.listed.empty());
  std::vector<std::int64_t> pending_ids;
  for (const auto& m : s->pending(0, 10)) pending_ids.push_back(m.id);
  EXPECT_EQ(pending_ids, (std::vector<std::int64_t>{e1, p1, q1, p2}));
  auto st = s->stats();
  EXPECT_EQ(st.errored, 1u);    // OLD, before the range
  EXPECT_EQ(st.processed, 1u);  // LATE, after it
  EXPECT_EQ(st.rejected, 1u);
  EXPECT_EQ(counted(dir.path(), true), counted(dir.path(), false));

  r.states = {message_state::rejected};
  done = sqlite_store::reprocess(dir.path(), r);
  EXPECT_EQ(done.by_state, (std::map<message_state, std::uint64_t>{{message_state::rejected, 1}}));
  EXPECT_EQ(s->stats().rejected, 0u);
  pending_ids.clear();
  for (const auto& m : s->pending(0, 10)) pending_ids.push_back(m.id);
  EXPECT_EQ(pending_ids, (std::vector<std::int64_t>{e1, p1, r1, q1, p2}));
  EXPECT_EQ(counted(dir.path(), true), counted(dir.path(), false));
  EXPECT_TRUE(s->writable());
}

TEST(StoreAdmin, AcceptedWithKeyFindsTheMessageAResendWouldDuplicate) {
  temp_dir dir;
  auto s = sqlite_store::open(dir.path(), {});
  const auto a = submit(*s, record("MERCY", "A", 100));
  const auto e = submit(*s, record("MERCY", "E", 200));
  submit(*s, record("MERCY", "R", 300, message_state::rejected));
  ASSERT_TRUE(settle(*s, e, message_state::errored, "bad"));  // gives its key up
  s->stats();  // waits until SQLite holds them
  auto ro = sqlite_store::open_read_only(dir.path());
  EXPECT_EQ(ro->accepted_with_key("EPIC", "MERCY", "A"), a);
  EXPECT_EQ(ro->accepted_with_key("EPIC", "MERCY", "E"), std::nullopt);
  EXPECT_EQ(ro->accepted_with_key("EPIC", "MERCY", "R"), std::nullopt);
  EXPECT_EQ(ro->accepted_with_key("EPIC", "STJOHN", "A"), std::nullopt);
  EXPECT_EQ(ro->accepted_with_key("EPIC", "MERCY", ""), std::nullopt);
}

subscription_row sub_row(std::string id, std::string status) {
  subscription_row r;
  r.id = std::move(id);
  r.group_id = "G-SB";
  r.topic = "https://carebridge.example/fhir/SubscriptionTopic/readmission-risk";
  r.status = std::move(status);
  r.error = r.status == "error" ? "error-response: 400" : "";
  r.json = R"({"resourceType":"Subscription"})";
  return r;
}

template <typename F>
bool done_ok(F&& start) {
  std::promise<bool> p;
  start([&p](bool ok) { p.set_value(ok); });
  return p.get_future().get();
}

// `carebridge subscriptions deliveries|retry`: the backlog per subscription, and a subscription in
// error set back to requested from another connection while the store is open.
TEST(StoreAdmin, DeliveryBacklogsAndRetryOfSubscriptionsInError) {
  temp_dir dir;
  auto s = sqlite_store::open(dir.path(), {});
  const std::vector<std::pair<std::string, std::string>> subs{
      {"sub-a", "active"}, {"sub-e", "error"}, {"sub-f", "error"}, {"sub-n", "active"}};
  for (const auto& sub : subs)
    ASSERT_TRUE(
        done_ok([&](auto cb) { s->save_subscription(sub_row(sub.first, sub.second), cb); }));
  // Two outbox entries numbered as events of sub-a and sub-e; sub-a has the first delivered.
  ASSERT_TRUE(done_ok([&](auto cb) {
    s->record_events(2, {{"sub-a", 1}, {"sub-e", 1}, {"sub-a", 2}, {"sub-e", 2}}, cb);
  }));
  ASSERT_TRUE(done_ok([&](auto cb) { s->mark_delivered("sub-a", 1, cb); }));
  s->stats();

  auto ro = sqlite_store::open_read_only(dir.path());
  const auto all = ro->delivery_backlogs();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].subscription_id, "sub-a");
  EXPECT_EQ(all[0].highest_event, 2);
  ASSERT_TRUE(all[0].oldest_undelivered_us);  // event 2
  EXPECT_EQ(all[1].subscription_id, "sub-e");
  EXPECT_EQ(all[1].highest_event, 2);
  EXPECT_TRUE(all[1].oldest_undelivered_us);
  EXPECT_EQ(all[3].subscription_id, "sub-n");
  EXPECT_EQ(all[3].highest_event, 0);
  EXPECT_FALSE(all[3].oldest_undelivered_us);
  ASSERT_EQ(ro->delivery_backlogs("sub-e").size(), 1u);
  EXPECT_TRUE(ro->delivery_backlogs("nope").empty());

  ASSERT_TRUE(done_ok([&](auto cb) { s->mark_delivered("sub-a", 2, cb); }));
  s->stats();
  EXPECT_FALSE(ro->delivery_backlogs("sub-a")[0].oldest_undelivered_us);

  // By id: only one in error is taken.
  const auto before = s->subscription("sub-e")->updated_us;
  auto r = sqlite_store::retry_subscriptions(dir.path(), {"sub-e", "sub-a", "nope", "sub-e"});
  EXPECT_EQ(r.retried, (std::vector<std::string>{"sub-e"}));
  const std::vector<std::pair<std::string, std::string>> skipped{
      {"sub-a", "active (not in error)"}, {"nope", "not found"}};
  EXPECT_EQ(r.skipped, skipped);
  const auto e = s->subscription("sub-e");  // the open store reads it at once
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, "requested");
  EXPECT_EQ(e->error, "");
  EXPECT_GT(e->updated_us, before);
  EXPECT_EQ(e->delivered_through, 0);  // everything after it is sent again
  EXPECT_EQ(e->events_since_start, 2);

  // Every one in error.
  r = sqlite_store::retry_subscriptions(dir.path(), {});
  EXPECT_EQ(r.retried, (std::vector<std::string>{"sub-f"}));
  EXPECT_TRUE(r.skipped.empty());
  EXPECT_EQ(s->subscription("sub-f")->status, "requested");
  EXPECT_EQ(s->subscription("sub-a")->status, "active");
  r = sqlite_store::retry_subscriptions(dir.path(), {});
  EXPECT_TRUE(r.retried.empty());
  // The store's own writer goes on.
  ASSERT_TRUE(done_ok([&](auto cb) { s->set_status("sub-f", "active", "", cb); }));
  EXPECT_EQ(s->subscription("sub-f")->status, "active");
  EXPECT_TRUE(s->writable());
}

}  // namespace
