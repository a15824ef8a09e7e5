// The SQLite store: durability semantics, duplicates, states, stats, resume after reopen.
#include "gateway/store/sqlite_store.hpp"
#include "tests/e2e/process.hpp"

#include <gtest/gtest.h>

#include <future>

namespace {

using namespace carebridge::gateway::store;
using carebridge::test::temp_dir;

inbound_record record(std::string facility, std::string control_id,
                      message_state state = message_state::pending) {
  inbound_record r;
  r.sending_application = "EPIC";
  r.sending_facility = std::move(facility);
  r.control_id = std::move(control_id);
  r.message_type = "ADT^A03";
  r.state = state;
  r.ack_code = state == message_state::pending ? "AA" : "AR";
  r.ack = "MSH|^~\\&|ack-of-" + r.control_id + "\rMSA|" + r.ack_code + "|" + r.control_id + "\r";
  r.raw = "MSH|^~\\&|EPIC|" + r.sending_facility + "|||||ADT^A03|" + r.control_id + "|P|2.5\r";
  r.received_at_us = 1'000'000;
  return r;
}

commit_result submit_and_wait(message_store& s, inbound_record r) {
  std::promise<commit_result> p;
  s.submit(std::move(r), [&p](commit_result c) { p.set_value(std::move(c)); });
  return p.get_future().get();
}

TEST(SqliteStore, StoresAndAnswersDuplicatesWithTheStoredAck) {
  temp_dir dir;
  auto s = sqlite_store::open(dir.path(), {});
  const auto first = submit_and_wait(*s, record("MERCY", "C1"));
  ASSERT_EQ(first.what, commit_result::outcome::stored);
  auto again = record("MERCY", "C1");
  again.ack = "a different ack that must not be used";
  const auto dup = submit_and_wait(*s, std::move(again));
  ASSERT_EQ(dup.what, commit_result::outcome::duplicate);
  EXPECT_EQ(dup.id, first.id);
  EXPECT_EQ(dup.ack, "MSH|^~\\&|ack-of-C1\rMSA|AA|C1\r");
  EXPECT_EQ(dup.ack_code, "AA");
  // Same control id from another facility or application is another message.
  EXPECT_EQ(submit_and_wait(*s, record("OTHER", "C1")).what, commit_result::outcome::stored);
  const auto st = s->stats();
  EXPECT_EQ(st.total, 2u);
  EXPECT_EQ(st.duplicates, 1u);
  EXPECT_EQ(st.pending, 2u);
}

TEST(SqliteStore, RejectedMessagesAreKeptButNeverDeduplicate) {
  temp_dir dir;
  auto s = sqlite_store::open(dir.path(), {});
  EXPECT_EQ(submit_and_wait(*s, record("MERCY", "R1", message_state::rejected)).what,
            commit_result::outcome::stored);
  EXPECT_EQ(submit_and_wait(*s, record("MERCY", "R1", message_state::rejected)).what,
            commit_result::outcome::stored);
  // A later accepted copy is a new message, not a duplicate of the rejected ones.
  EXPECT_EQ(submit_and_wait(*s, record("MERCY", "R1")).what, commit_result::outcome::stored);
  const auto st = s->stats();
  EXPECT_EQ(st.rejected, 2u);
  EXPECT_EQ(st.accepted, 1u);
}

TEST(SqliteStore, DuplicatesInsideOneGroupCommit) {
  temp_dir dir;
  auto s = sqlite_store::open(dir.path(), {});
  std::vector<std::promise<commit_result>> ps(50);
  for (int i = 0; i < 50; ++i)
    s->submit(record("MERCY", "G" + std::to_string(i % 10)),
              [&ps, i](commit_result c) { ps[static_cast<std::size_t>(i)].set_value(std::move(c)); });
  int stored = 0, dups = 0;
  for (auto& p : ps) {
    const auto c = p.get_future().get();
    stored += c.what == commit_result::outcome::stored;
    dups += c.what == commit_result::outcome::duplicate;
  }
  EXPECT_EQ(stored, 10);
  EXPECT_EQ(dups, 40);
  EXPECT_LT(s->commits(), 50u);  // group commit: fewer transactions than records
}

TEST(SqliteStore, PendingSettleAndResumeAfterReopen) {
  temp_dir dir;
  std::int64_t first_id = 0;
  {
    auto s = sqlite_store::open(dir.path(), {});
    first_id = submit_and_wait(*s, record("MERCY", "P1")).id;
    submit_and_wait(*s, record("MERCY", "P2"));
    submit_and_wait(*s, record("MERCY", "P3"));
    std::promise<bool> done;
    s->settle(first_id, message_state::processed, "", [&](bool ok) { done.set_value(ok); });
    EXPECT_TRUE(done.get_future().get());
    s->close();
  }
  auto s = sqlite_store::open(dir.path(), {});
  const auto pending = s->pending(0, 10);
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].control_id, "P2");
  EXPECT_EQ(pending[1].control_id, "P3");
  EXPECT_GT(pending[0].id, first_id);
  EXPECT_EQ(s->pending(pending[0].id, 10).size(), 1u);
  const auto b = s->backlog();
  EXPECT_EQ(b.pending, 2u);
  ASSERT_TRUE(b.oldest_us.has_value());
  // An errored message leaves the duplicate key, so a resend is accepted again.
  std::promise<bool> done;
  s->settle(pending[0].id, message_state::errored, "mapping failed", [&](bool ok) { done.set_value(ok); });
  EXPECT_TRUE(done.get_future().get());
  EXPECT_EQ(submit_and_wait(*s, record("MERCY", "P2")).what, commit_result::outcome::stored);
  const auto st = s->stats();
  EXPECT_EQ(st.errored, 1u);
  EXPECT_EQ(st.processed, 1u);
  EXPECT_EQ(st.by_sender.at("MERCY").errored, 1u);
}

TEST(SqliteStore, ReadOnlyOpenOfAMissingStoreSaysSo) {
  temp_dir dir;
  try {
    sqlite_store::open_read_only(dir.path() / "nothing-here");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no store"), std::string::npos);
  }
}

TEST(SqliteStore, SubmitAfterCloseFailsCleanly) {
  temp_dir dir;
  auto s = sqlite_store::open(dir.path(), {});
  s->close();
  EXPECT_EQ(submit_and_wait(*s, record("MERCY", "X")).what, commit_result::outcome::failed);
  EXPECT_FALSE(s->writable());
}

}  // namespace
