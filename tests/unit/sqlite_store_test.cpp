// The SQLite store: durability semantics, duplicates, states, stats, resume after reopen.
#include "gateway/store/sqlite_store.hpp"
#include "tests/e2e/process.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <future>
#include <cerrno>
#include <thread>
#include <set>
#include <atomic>
#include <map>
#include <stdexcept>

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
  for (int i = 0; i < 50; ++i) {
    const auto c = ps[static_cast<std::size_t>(i)].get_future().get();
    stored += c.what == commit_result::outcome::stored;
    dups += c.what == commit_result::outcome::duplicate;
    // The original may be in the same batch, not yet in the log: its ACK comes back all the same.
    if (c.what == commit_result::outcome::duplicate) {
      EXPECT_EQ(c.ack, "MSH|^~\\&|ack-of-G" + std::to_string(i % 10) + "\rMSA|AA|G" +
                           std::to_string(i % 10) + "\r");
    }
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


// --- schema migrations -------------------------------------------------------------------------

void sql(const std::filesystem::path& db, const std::string& text) {
  sqlite3* h = nullptr;
  if (sqlite3_open(db.c_str(), &h) != SQLITE_OK) throw std::runtime_error("open");
  char* err = nullptr;
  const int rc = sqlite3_exec(h, text.c_str(), nullptr, nullptr, &err);
  const std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(h);
  if (rc != SQLITE_OK) throw std::runtime_error(msg);
}

std::int64_t sql_int(const std::filesystem::path& db, const char* query) {
  sqlite3* h = nullptr;
  sqlite3_open(db.c_str(), &h);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(h, query, -1, &st, nullptr);
  const std::int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

// Schema 1 (the first release): bodies in `messages`, a partial key index on state.
constexpr const char* schema_v1 = R"sql(
CREATE TABLE messages(
  id INTEGER PRIMARY KEY, received_at_us INTEGER NOT NULL,
  sending_application TEXT NOT NULL DEFAULT '', sending_facility TEXT NOT NULL DEFAULT '',
  control_id TEXT NOT NULL DEFAULT '', message_type TEXT NOT NULL DEFAULT '',
  sender TEXT NOT NULL DEFAULT '', peer TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL CHECK (state IN ('pending','processed','rejected','errored')),
  reason TEXT NOT NULL DEFAULT '', ack_code TEXT NOT NULL DEFAULT '',
  ack BLOB, raw BLOB NOT NULL,
  duplicates INTEGER NOT NULL DEFAULT 0, settled_at_us INTEGER);
CREATE UNIQUE INDEX messages_key ON messages(sending_application, sending_facility, control_id)
  WHERE control_id <> '' AND state IN ('pending','processed');
CREATE INDEX messages_pending ON messages(id) WHERE state = 'pending';
CREATE INDEX messages_state ON messages(state, sending_facility);
PRAGMA user_version = 1;
)sql";

// Schema 2: bodies apart; resources and events (one per message).
constexpr const char* schema_v2 = R"sql(
CREATE TABLE messages(
  id INTEGER PRIMARY KEY, received_at_us INTEGER NOT NULL,
  sending_application TEXT NOT NULL DEFAULT '', sending_facility TEXT NOT NULL DEFAULT '',
  control_id TEXT NOT NULL DEFAULT '', message_type TEXT NOT NULL DEFAULT '',
  sender TEXT NOT NULL DEFAULT '', peer TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL CHECK (state IN ('pending','processed','rejected','errored')),
  reason TEXT NOT NULL DEFAULT '', ack_code TEXT NOT NULL DEFAULT '',
  duplicates INTEGER NOT NULL DEFAULT 0, settled_at_us INTEGER);
CREATE TABLE message_bodies(id INTEGER PRIMARY KEY REFERENCES messages(id), ack BLOB,
  raw BLOB NOT NULL);
CREATE UNIQUE INDEX messages_key ON messages(sending_application, sending_facility, control_id)
  WHERE control_id <> '' AND state IN ('pending','processed');
CREATE INDEX messages_pending ON messages(id) WHERE state = 'pending';
CREATE INDEX messages_state ON messages(state, sending_facility);
CREATE TABLE resources(rid INTEGER PRIMARY KEY, type TEXT NOT NULL, id TEXT NOT NULL,
  version INTEGER NOT NULL, last_updated_us INTEGER NOT NULL, message_id INTEGER NOT NULL,
  json BLOB NOT NULL, UNIQUE(type, id));
CREATE TABLE events(message_id INTEGER PRIMARY KEY REFERENCES messages(id), kind TEXT NOT NULL,
  patient_id TEXT NOT NULL DEFAULT '', encounter_id TEXT NOT NULL DEFAULT '', json BLOB NOT NULL);
CREATE INDEX events_patient ON events(patient_id, message_id);
PRAGMA user_version = 2;
)sql";

// Four messages of every kind: pending (resent twice already), processed, rejected, errored.
constexpr const char* rows_v1 = R"sql(
INSERT INTO messages(id, received_at_us, sending_application, sending_facility, control_id,
  message_type, sender, peer, state, reason, ack_code, ack, raw, duplicates) VALUES
 (1, 100, 'EPIC', 'MERCY', 'OLD-P', 'ADT^A03', 'mercy', '10.0.0.1:1', 'pending', '', 'AA',
  'ack-of-OLD-P', 'MSH|^~\&|EPIC|MERCY|||||ADT^A03|OLD-P|P|2.5', 2),
 (2, 200, 'EPIC', 'MERCY', 'OLD-D', 'ADT^A03', 'mercy', '10.0.0.1:1', 'processed', '', 'AA',
  'ack-of-OLD-D', 'raw-D', 0),
 (3, 300, 'EPIC', 'MERCY', 'OLD-R', 'ADT^A03', 'mercy', '10.0.0.1:1', 'rejected',
  'sending facility (MSH-4) not allowed on this connection', 'AR', 'ack-of-OLD-R', 'raw-R', 0),
 (4, 400, 'EPIC', 'OTHER', 'OLD-E', 'ADT^A03', '', '10.0.0.1:1', 'errored', 'mapping failed',
  'AA', 'ack-of-OLD-E', 'raw-E', 0);
)sql";

// The same four in schema 2, with a resource and an event made of message 2.
constexpr const char* rows_v2 = R"sql(
INSERT INTO messages(id, received_at_us, sending_application, sending_facility, control_id,
  message_type, sender, peer, state, reason, ack_code, duplicates) VALUES
 (1, 100, 'EPIC', 'MERCY', 'OLD-P', 'ADT^A03', 'mercy', '10.0.0.1:1', 'pending', '', 'AA', 2),
 (2, 200, 'EPIC', 'MERCY', 'OLD-D', 'ADT^A03', 'mercy', '10.0.0.1:1', 'processed', '', 'AA', 0),
 (3, 300, 'EPIC', 'MERCY', 'OLD-R', 'ADT^A03', 'mercy', '10.0.0.1:1', 'rejected',
  'sending facility (MSH-4) not allowed on this connection', 'AR', 0),
 (4, 400, 'EPIC', 'OTHER', 'OLD-E', 'ADT^A03', '', '10.0.0.1:1', 'errored', 'mapping failed',
  'AA', 0);
INSERT INTO message_bodies(id, ack, raw) VALUES
 (1, 'ack-of-OLD-P', 'MSH|^~\&|EPIC|MERCY|||||ADT^A03|OLD-P|P|2.5'), (2, 'ack-of-OLD-D', 'raw-D'),
 (3, 'ack-of-OLD-R', 'raw-R'), (4, 'ack-of-OLD-E', 'raw-E');
INSERT INTO resources(type, id, version, last_updated_us, message_id, json) VALUES
 ('Patient', 'p1', 1, 200, 2, '{"resourceType":"Patient","id":"p1"}');
INSERT INTO events(message_id, kind, patient_id, encounter_id, json) VALUES
 (2, 'discharge', 'p1', 'e1', '{"kind":"discharge"}');
)sql";

// What an older store must look like once opened by this one.
void expect_migrated(const std::filesystem::path& dir) {
  auto s = sqlite_store::open(dir, {});
  const auto st = s->stats();
  EXPECT_EQ(st.total, 4u);
  EXPECT_EQ(st.pending, 1u);
  EXPECT_EQ(st.processed, 1u);
  EXPECT_EQ(st.rejected, 1u);
  EXPECT_EQ(st.errored, 1u);
  EXPECT_EQ(st.accepted, 2u);
  EXPECT_EQ(st.duplicates, 2u);
  EXPECT_EQ(st.by_sender.at("MERCY").pending, 1u);
  EXPECT_EQ(st.by_sender.at("MERCY").processed, 1u);
  EXPECT_EQ(st.by_sender.at("MERCY").rejected, 1u);
  EXPECT_EQ(st.by_sender.at("OTHER").errored, 1u);
  ASSERT_TRUE(st.oldest_pending_us.has_value());
  EXPECT_EQ(*st.oldest_pending_us, 100);

  // The pending message resumes, its body read from where the old schema kept it.
  const auto pending = s->pending(0, 10);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].id, 1);
  EXPECT_EQ(pending[0].raw, "MSH|^~\\&|EPIC|MERCY|||||ADT^A03|OLD-P|P|2.5");
  EXPECT_EQ(pending[0].control_id, "OLD-P");
  EXPECT_EQ(pending[0].sender, "mercy");
  EXPECT_EQ(pending[0].received_at_us, 100);

  // Keys: the pending and the processed copies still hold theirs (answered with the old ACK);
  // the rejected and the errored ones do not.
  auto again = [](const char* facility, const char* id) {
    auto r = record(facility, id);
    r.ack = "a new ack that must not be used";
    return r;
  };
  const auto dup_p = submit_and_wait(*s, again("MERCY", "OLD-P"));
  ASSERT_EQ(dup_p.what, commit_result::outcome::duplicate);
  EXPECT_EQ(dup_p.id, 1);
  EXPECT_EQ(dup_p.ack, "ack-of-OLD-P");
  EXPECT_EQ(dup_p.ack_code, "AA");
  const auto dup_d = submit_and_wait(*s, again("MERCY", "OLD-D"));
  ASSERT_EQ(dup_d.what, commit_result::outcome::duplicate);
  EXPECT_EQ(dup_d.ack, "ack-of-OLD-D");
  const auto new_r = submit_and_wait(*s, again("MERCY", "OLD-R"));
  EXPECT_EQ(new_r.what, commit_result::outcome::stored);
  EXPECT_GT(new_r.id, 4);
  EXPECT_EQ(submit_and_wait(*s, again("OTHER", "OLD-E")).what, commit_result::outcome::stored);
  EXPECT_EQ(s->stats().duplicates, 4u);

  // New messages go on beside the old ones; settling the old pending one works.
  std::promise<bool> settled;
  s->settle(1, message_state::processed, "", [&](bool ok) { settled.set_value(ok); });
  EXPECT_TRUE(settled.get_future().get());
  const auto now_pending = s->pending(0, 10);
  ASSERT_EQ(now_pending.size(), 2u);  // the two new copies
  EXPECT_EQ(now_pending[0].id, new_r.id);
  EXPECT_EQ(now_pending[0].raw, again("MERCY", "OLD-R").raw);
  EXPECT_EQ(s->stats().processed, 2u);
  s->close();
  EXPECT_EQ(sql_int(dir / "carebridge.db", "PRAGMA user_version"), 5);
}

TEST(SqliteStore, MigratesAVersion1Store) {
  temp_dir dir;
  sql(dir / "carebridge.db", std::string(schema_v1) + rows_v1);
  expect_migrated(dir.path());
  // The bodies moved out of `messages`, once.
  EXPECT_EQ(sql_int(dir / "carebridge.db", "SELECT count(*) FROM message_bodies"), 4);
  // Reopening a migrated store changes nothing.
  auto s = sqlite_store::open(dir.path(), {});
  EXPECT_EQ(s->stats().total, 6u);
}

TEST(SqliteStore, MigratesAVersion2StoreWithItsResourcesAndEvents) {
  temp_dir dir;
  sql(dir / "carebridge.db", std::string(schema_v2) + rows_v2);
  {
    auto s = sqlite_store::open(dir.path(), {});
    const auto events = s->events_for_patient("p1");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].message_id, 2);
    EXPECT_EQ(events[0].seq, 0);
    EXPECT_EQ(events[0].kind, "discharge");
    EXPECT_EQ(events[0].encounter_resource_id, "e1");
    const auto patient = s->read_resource("Patient", "p1");
    ASSERT_TRUE(patient.has_value());
    EXPECT_EQ(patient->version, 1);
    EXPECT_EQ(patient->message_id, 2);
  }
  expect_migrated(dir.path());
}

// --- what the pipeline made of a message ---------------------------------------------------------

bool settle_processed(message_store& s, std::int64_t id, processing_result r) {
  std::promise<bool> done;
  s.settle_processed(id, std::move(r), [&](bool ok) { done.set_value(ok); });
  return done.get_future().get();
}

processing_result made_of(std::string patient_json, std::string encounter_json,
                          std::vector<event_row> events) {
  processing_result r;
  r.resources.push_back({"Patient", "p1", std::move(patient_json)});
  r.resources.push_back({"Encounter", "e1", std::move(encounter_json)});
  r.events = std::move(events);
  return r;
}

alert_row alert_for(std::string group, std::string encounter, std::string kind = "alert") {
  alert_row a;
  a.kind = std::move(kind);
  a.event_kind = "discharge";
  a.group_id = std::move(group);
  a.patient_id = "p1";
  a.encounter_id = std::move(encounter);
  a.risk_assessment_id = "ra-" + a.encounter_id;
  a.task_id = a.kind == "alert" ? "task-" + a.encounter_id : "";
  a.risk_band = "high";
  a.occurred = "2026-11-20T10:00:00Z";
  return a;
}

// A merge row patches the current version of a resource (a retraction cancelling a follow-up Task
// keeps what the group wrote on it) and writes nothing when there is no such resource.
TEST(SqliteStore, AMergeRowPatchesTheCurrentVersionOrWritesNothing) {
  temp_dir dir;
  auto s = sqlite_store::open(dir.path(), {});
  const auto m1 = submit_and_wait(*s, record("MERCY", "M1")).id;
  const auto m2 = submit_and_wait(*s, record("MERCY", "M2")).id;
  processing_result made;
  made.resources.push_back({"Task", "t1",
                            R"({"resourceType":"Task","id":"t1","status":"in-progress",)"
                            R"("note":[{"text":"called the member"}]})"});
  ASSERT_TRUE(settle_processed(*s, m1, made));
  processing_result cancel;
  resource_row patch{"Task", "t1", R"({"status":"cancelled","statusReason":{"text":"A13"}})"};
  patch.merge = true;
  resource_row nothing{"Task", "t-none", R"({"status":"cancelled"})"};
  nothing.merge = true;
  cancel.resources = {patch, nothing};
  ASSERT_TRUE(settle_processed(*s, m2, cancel));
  const auto t1 = s->read_resource("Task", "t1");
  ASSERT_TRUE(t1.has_value());
  EXPECT_EQ(t1->version, 2);
  EXPECT_EQ(t1->json,
            R"({"resourceType":"Task","id":"t1","status":"cancelled",)"
            R"("note":[{"text":"called the member"}],"statusReason":{"text":"A13"}})");
  EXPECT_FALSE(s->read_resource("Task", "t-none").has_value());
}

// The outbox is written with the settlement: once settle_processed() has answered, the alerts are
// there, in order, readable by group; a message processed again keeps its alerts' places (an
// unchanged alert is not queued twice) and drops the ones it no longer makes.
TEST(SqliteStore, AlertsAreQueuedWithTheSettlementAndKeepTheirPlaceWhenReprocessed) {
  temp_dir dir;
  auto s = sqlite_store::open(dir.path(), {});
  const auto m1 = submit_and_wait(*s, record("MERCY", "A1")).id;
  const auto m2 = submit_and_wait(*s, record("MERCY", "A2")).id;
  EXPECT_TRUE(s->alerts_after(0, 10).empty());

  processing_result r1;
  r1.resources.push_back({"Task", "task-e1", R"({"resourceType":"Task"})"});
  r1.alerts = {alert_for("G1", "e1"), alert_for("G2", "e1", "notice")};
  ASSERT_TRUE(settle_processed(*s, m1, r1));
  processing_result r2;
  r2.alerts = {alert_for("G1", "e2", "notice")};
  ASSERT_TRUE(settle_processed(*s, m2, r2));

  auto all = s->alerts_after(0, 10);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].seq, 1);
  EXPECT_EQ(all[0].message_id, m1);
  EXPECT_EQ(all[0].alert, alert_for("G1", "e1"));
  EXPECT_GT(all[0].created_us, 0);
  EXPECT_EQ(all[1].alert.group_id, "G2");
  EXPECT_EQ(all[2].message_id, m2);
  EXPECT_TRUE(s->read_resource("Task", "task-e1").has_value());
  // By group, after a point.
  const auto g1 = s->alerts_after(0, 10, "G1");
  ASSERT_EQ(g1.size(), 2u);
  EXPECT_EQ(g1[0].seq, 1);
  EXPECT_EQ(g1[1].seq, 3);
  EXPECT_EQ(s->alerts_after(1, 10, "G1").size(), 1u);
  EXPECT_TRUE(s->alerts_after(0, 10, "G3").empty());
  EXPECT_EQ(s->alerts_after(0, 1).size(), 1u);

  // m1 processed again: the same first alert (same place), the second one gone.
  processing_result again;
  again.alerts = {alert_for("G1", "e1")};
  ASSERT_TRUE(settle_processed(*s, m1, again));
  all = s->alerts_after(0, 10);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].seq, 1);
  EXPECT_EQ(all[0].alert, alert_for("G1", "e1"));
  EXPECT_EQ(all[1].seq, 3);

  // They survive a reopen.
  s->close();
  s.reset();
  s = sqlite_store::open(dir.path(), {});
  EXPECT_EQ(s->alerts_after(0, 10).size(), 2u);
}

TEST(SqliteStore, SettleProcessedUpsertsResourcesAndReplacesEvents) {
  temp_dir dir;
  auto s = sqlite_store::open(dir.path(), {});
  const auto m1 = submit_and_wait(*s, record("MERCY", "S1")).id;
  const auto m2 = submit_and_wait(*s, record("MERCY", "S2")).id;
  EXPECT_FALSE(s->read_resource("Patient", "p1").has_value());
  EXPECT_TRUE(s->events_for_patient("p1").empty());

  ASSERT_TRUE(settle_processed(*s, m1, made_of(R"({"v":1})", R"({"status":"in-progress"})",
                                               {{"admission", R"({"e":1})", "p1", "e1"}})));
  auto patient = s->read_resource("Patient", "p1");
  ASSERT_TRUE(patient.has_value());
  EXPECT_EQ(patient->version, 1);
  EXPECT_EQ(patient->message_id, m1);
  EXPECT_EQ(patient->json, R"({"v":1})");
  EXPECT_GT(patient->last_updated_us, 0);
  EXPECT_EQ(s->stats().processed, 1u);
  EXPECT_EQ(s->pending(0, 10).size(), 1u);

  // The next message: the same Patient (its version stays), a changed Encounter (version 2).
  ASSERT_TRUE(settle_processed(*s, m2, made_of(R"({"v":1})", R"({"status":"finished"})",
                                               {{"discharge", R"({"e":2})", "p1", "e1"}})));
  patient = s->read_resource("Patient", "p1");
  EXPECT_EQ(patient->version, 1);
  EXPECT_EQ(patient->message_id, m1);
  const auto encounter = s->read_resource("Encounter", "e1");
  ASSERT_TRUE(encounter.has_value());
  EXPECT_EQ(encounter->version, 2);
  EXPECT_EQ(encounter->message_id, m2);
  EXPECT_EQ(encounter->json, R"({"status":"finished"})");
  EXPECT_FALSE(s->read_resource("Encounter", "e2").has_value());
  EXPECT_FALSE(s->read_resource("Patient", "e1").has_value());

  auto events = s->events_for_patient("p1");
  ASSERT_EQ(events.size(), 2u);  // oldest message first
  EXPECT_EQ(events[0].message_id, m1);
  EXPECT_EQ(events[0].kind, "admission");
  EXPECT_EQ(events[1].message_id, m2);
  EXPECT_EQ(events[1].kind, "discharge");
  EXPECT_EQ(events[1].json, R"({"e":2})");
  EXPECT_EQ(events[1].patient_resource_id, "p1");
  EXPECT_EQ(events[1].encounter_resource_id, "e1");
  EXPECT_TRUE(s->events_for_patient("p2").empty());

  // Processed again (after a crash, say): its events are replaced, not added to.
  ASSERT_TRUE(settle_processed(*s, m1, made_of(R"({"v":2})", R"({"status":"finished"})",
                                               {{"admission", R"({"e":3})", "p1", "e1"},
                                                {"transfer", R"({"e":4})", "p1", "e1"}})));
  events = s->events_for_patient("p1");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].message_id, m1);
  EXPECT_EQ(events[0].seq, 0);
  EXPECT_EQ(events[0].json, R"({"e":3})");
  EXPECT_EQ(events[1].message_id, m1);
  EXPECT_EQ(events[1].seq, 1);
  EXPECT_EQ(events[1].kind, "transfer");
  EXPECT_EQ(events[2].message_id, m2);
  patient = s->read_resource("Patient", "p1");
  EXPECT_EQ(patient->version, 2);  // its JSON changed this time
  EXPECT_EQ(patient->message_id, m1);
  EXPECT_EQ(s->read_resource("Encounter", "e1")->version, 2);  // unchanged
  // Counted once: it was processed already.
  const auto st = s->stats();
  EXPECT_EQ(st.processed, 2u);
  EXPECT_EQ(st.pending, 0u);
  EXPECT_EQ(st.total, 2u);
}

// --- the message log -----------------------------------------------------------------------------

TEST(SqliteStore, BodiesAreInTheLogAndComeBackAfterReopen) {
  temp_dir dir;
  {
    auto s = sqlite_store::open(dir.path(), {});
    submit_and_wait(*s, record("MERCY", "L1"));
    EXPECT_EQ(s->syncs(), 1u);
    EXPECT_EQ(s->recovered(), 0u);
  }
  EXPECT_TRUE(std::filesystem::exists(dir / "message-log" / "00000001.cblog"));
  EXPECT_EQ(sql_int(dir / "carebridge.db", "SELECT count(*) FROM message_bodies"), 0);
  auto s = sqlite_store::open(dir.path(), {});
  EXPECT_EQ(s->recovered(), 0u);
  const auto pending = s->pending(0, 10);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].raw, record("MERCY", "L1").raw);
}

TEST(SqliteStore, RecoversFromTheLogWhatTheDatabaseLost) {
  temp_dir dir;
  std::int64_t first = 0;
  {
    auto s = sqlite_store::open(dir.path(), {});
    first = submit_and_wait(*s, record("MERCY", "K1")).id;
    submit_and_wait(*s, record("MERCY", "K2"));
    submit_and_wait(*s, record("MERCY", "K3", message_state::rejected));
  }
  // As after a power cut: SQLite commits without an fsync, so its last commits may be gone
  // while the log, synced before each of them, still has the messages.
  sql(dir / "carebridge.db",
      "DELETE FROM messages WHERE id > " + std::to_string(first) +
          "; UPDATE message_counts SET n = n - 1 WHERE state IN ('pending', 'rejected');");
  auto s = sqlite_store::open(dir.path(), {});
  EXPECT_EQ(s->recovered(), 2u);
  const auto pending = s->pending(0, 10);
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[1].id, first + 1);
  EXPECT_EQ(pending[1].control_id, "K2");
  EXPECT_EQ(pending[1].raw, record("MERCY", "K2").raw);
  const auto st = s->stats();
  EXPECT_EQ(st.pending, 2u);
  EXPECT_EQ(st.rejected, 1u);
  // The recovered message holds its key again: a resend is answered with its ACK.
  const auto dup = submit_and_wait(*s, record("MERCY", "K2"));
  ASSERT_EQ(dup.what, commit_result::outcome::duplicate);
  EXPECT_EQ(dup.id, first + 1);
  EXPECT_EQ(dup.ack, record("MERCY", "K2").ack);
  // Ids go on after the recovered ones.
  EXPECT_EQ(submit_and_wait(*s, record("MERCY", "K4")).id, first + 3);
}

TEST(SqliteStore, ATornLogTailIsCutOff) {
  temp_dir dir;
  {
    auto s = sqlite_store::open(dir.path(), {});
    submit_and_wait(*s, record("MERCY", "T1"));
  }
  // A write the crash interrupted: half a record after the last one.
  const auto seg = dir / "message-log" / "00000001.cblog";
  std::int64_t end = 0;
  {
    auto log = message_log::open(dir / "message-log", true);
    end = log->next_position();
  }
  {
    std::FILE* f = std::fopen(seg.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, static_cast<long>(message_log::offset_of(end)), SEEK_SET);
    const char torn[] = "CBL1\x40\x00\x00\x00garbage";
    std::fwrite(torn, 1, sizeof torn - 1, f);
    std::fclose(f);
  }
  auto s = sqlite_store::open(dir.path(), {});
  EXPECT_EQ(s->pending(0, 10).size(), 1u);
  EXPECT_EQ(submit_and_wait(*s, record("MERCY", "T2")).what, commit_result::outcome::stored);
  s->close();
  auto again = sqlite_store::open(dir.path(), {});
  const auto pending = again->pending(0, 10);
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[1].raw, record("MERCY", "T2").raw);
}

TEST(SqliteStore, ResendsAfterAReopenGetTheStoredAck) {
  temp_dir dir;
  std::int64_t id = 0;
  {
    auto s = sqlite_store::open(dir.path(), {});
    id = submit_and_wait(*s, record("MERCY", "A1")).id;
  }
  auto s = sqlite_store::open(dir.path(), {});
  auto again = record("MERCY", "A1");
  again.ack = "a different ack that must not be used";
  const auto dup = submit_and_wait(*s, std::move(again));
  ASSERT_EQ(dup.what, commit_result::outcome::duplicate);
  EXPECT_EQ(dup.id, id);
  EXPECT_EQ(dup.ack, record("MERCY", "A1").ack);
  EXPECT_EQ(s->stats().duplicates, 1u);
}

// The log thread answers before SQLite has the rows; with room for two keys not yet indexed it
// waits for the indexer, and duplicates are found wherever their original is.
TEST(SqliteStore, AnIndexerBehindTheLogLosesNothing) {
  temp_dir dir;
  sqlite_store::options o;
  o.max_unindexed = 2;
  auto s = sqlite_store::open(dir.path(), o);
  constexpr int n = 60;
  std::vector<std::promise<commit_result>> ps(n);
  for (int i = 0; i < n; ++i)
    s->submit(record("MERCY", "B" + std::to_string(i % 20)),
              [&ps, i](commit_result c) { ps[static_cast<std::size_t>(i)].set_value(std::move(c)); });
  std::map<std::string, std::int64_t> ids;
  int dups = 0;
  for (int i = 0; i < n; ++i) {
    const auto c = ps[static_cast<std::size_t>(i)].get_future().get();
    const std::string key = "B" + std::to_string(i % 20);
    if (i < 20) {
      ASSERT_EQ(c.what, commit_result::outcome::stored) << i;
      ids[key] = c.id;
    } else {
      ASSERT_EQ(c.what, commit_result::outcome::duplicate) << i;
      EXPECT_EQ(c.id, ids[key]);
      EXPECT_EQ(c.ack, record("MERCY", key).ack);
      ++dups;
    }
  }
  EXPECT_EQ(dups, 40);
  const auto st = s->stats();
  EXPECT_EQ(st.total, 20u);
  EXPECT_EQ(st.pending, 20u);
  EXPECT_EQ(st.duplicates, 40u);
  EXPECT_EQ(s->pending(0, 100).size(), 20u);
  EXPECT_EQ(s->backlog().pending, 20u);
}

// `carebridge store stats` on a store a kill left behind: the log's records past SQLite count.
TEST(SqliteStore, ReadOnlyStatsCountTheLogPastTheDatabase) {
  temp_dir dir;
  std::int64_t first = 0;
  {
    auto s = sqlite_store::open(dir.path(), {});
    first = submit_and_wait(*s, record("MERCY", "U1")).id;
    submit_and_wait(*s, record("MERCY", "U2"));
    submit_and_wait(*s, record("OTHER", "U3", message_state::rejected));
  }
  sql(dir / "carebridge.db",
      "DELETE FROM messages WHERE id > " + std::to_string(first) +
          "; UPDATE message_counts SET n = n - 1 WHERE state = 'pending'; "
          "DELETE FROM message_counts WHERE state = 'rejected';");
  auto ro = sqlite_store::open_read_only(dir.path());
  const auto st = ro->stats();
  EXPECT_EQ(st.total, 3u);
  EXPECT_EQ(st.pending, 2u);
  EXPECT_EQ(st.rejected, 1u);
  EXPECT_EQ(st.by_sender.at("MERCY").pending, 2u);
  EXPECT_EQ(st.by_sender.at("OTHER").rejected, 1u);
}

TEST(SqliteStore, ALogThatLostAcknowledgedMessagesIsRefused) {
  temp_dir dir;
  {
    auto s = sqlite_store::open(dir.path(), {});
    submit_and_wait(*s, record("MERCY", "D1"));
    submit_and_wait(*s, record("MERCY", "D2"));
  }
  // Damage inside the first record: the log now ends before rows the database has.
  {
    std::FILE* f = std::fopen((dir / "message-log" / "00000001.cblog").c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, 40, SEEK_SET);
    std::fputc('#', f);
    std::fclose(f);
  }
  try {
    sqlite_store::open(dir.path(), {});
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("message log"), std::string::npos) << e.what();
  }
  // Nothing was cut: the damage is still there to look at.
  EXPECT_GT(std::filesystem::file_size(dir / "message-log" / "00000001.cblog"), 100u);
}

// A failed fdatasync: its batch is answered "failed" (never acknowledged), its ids and keys are
// taken back, its records zeroed, and the store goes on: what follows is stored, and a resend of
// a lost message is a new message, not a duplicate of a phantom.
TEST(SqliteStore, AFailedSyncLosesOnlyWhatItCouldNotConfirm) {
  temp_dir dir;
  std::atomic<int> syncs{0};
  sqlite_store::options o;
  o.sync_fault_for_tests = [&syncs] { return ++syncs == 3 ? EIO : 0; };
  std::vector<std::int64_t> stored_ids;
  std::vector<std::string> lost;
  {
    auto s = sqlite_store::open(dir.path(), o);
    for (int i = 0; i < 6; ++i) {
      const std::string id = "F" + std::to_string(i);
      const auto c = submit_and_wait(*s, record("MERCY", id));
      if (c.what == commit_result::outcome::stored) {
        stored_ids.push_back(c.id);
      } else {
        ASSERT_EQ(c.what, commit_result::outcome::failed) << id;
        EXPECT_NE(c.error.find("message log"), std::string::npos) << c.error;
        lost.push_back(id);
      }
    }
    ASSERT_EQ(lost, std::vector<std::string>{"F2"});
    // Ids stay dense: the lost message's id went back.
    EXPECT_EQ(stored_ids, (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
    EXPECT_TRUE(s->writable());
    // The resend of the lost message is stored, not answered as a duplicate.
    const auto again = submit_and_wait(*s, record("MERCY", "F2"));
    EXPECT_EQ(again.what, commit_result::outcome::stored);
    EXPECT_EQ(again.id, 6);
    const auto st = s->stats();
    EXPECT_EQ(st.total, 6u);
    EXPECT_EQ(st.duplicates, 0u);
  }
  // After a reopen the log holds exactly the acknowledged ones.
  auto s = sqlite_store::open(dir.path(), {});
  EXPECT_EQ(s->stats().total, 6u);
  EXPECT_EQ(submit_and_wait(*s, record("MERCY", "F2")).what, commit_result::outcome::duplicate);
  EXPECT_EQ(submit_and_wait(*s, record("MERCY", "F5")).what, commit_result::outcome::duplicate);
}

// Several threads submitting at once: every message is answered once, group-committed, in a way
// that survives a reopen, and a resend of each is a duplicate.
TEST(SqliteStore, ConcurrentSubmittersAreAllConfirmed) {
  temp_dir dir;
  sqlite_store::options o;
  constexpr int n = 2000;
  {
    auto s = sqlite_store::open(dir.path(), o);
    std::vector<std::promise<commit_result>> ps(n);
    std::vector<std::thread> senders;
    for (int t = 0; t < 4; ++t)
      senders.emplace_back([&, t] {
        for (int i = t; i < n; i += 4)
          s->submit(record("MERCY", "P" + std::to_string(i)), [&ps, i](commit_result c) {
            ps[static_cast<std::size_t>(i)].set_value(std::move(c));
          });
      });
    for (auto& t : senders) t.join();
    std::set<std::int64_t> ids;
    for (auto& p : ps) {
      const auto c = p.get_future().get();
      ASSERT_EQ(c.what, commit_result::outcome::stored);
      ids.insert(c.id);
    }
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(n));
    EXPECT_GE(s->syncs(), 1u);
    EXPECT_LT(s->syncs(), static_cast<std::uint64_t>(n));  // group commit
  }
  auto s = sqlite_store::open(dir.path(), {});
  EXPECT_EQ(s->stats().total, static_cast<std::uint64_t>(n));
  for (int i = 0; i < n; i += 97)
    EXPECT_EQ(submit_and_wait(*s, record("MERCY", "P" + std::to_string(i))).what,
              commit_result::outcome::duplicate);
}

bool wait_done(const std::function<void(subscription_store::done_fn)>& op) {
  std::promise<bool> p;
  op([&p](bool ok) { p.set_value(ok); });
  return p.get_future().get();
}

subscription_row subscription_for(std::string id, std::string group) {
  subscription_row r;
  r.id = std::move(id);
  r.group_id = std::move(group);
  r.topic = "https://carebridge.example/fhir/SubscriptionTopic/readmission-risk";
  r.status = "requested";
  r.json = R"({"resourceType":"Subscription"})";
  return r;
}

// Subscriptions and their event log: a subscription starts after the newest outbox entry; the
// fan-out numbers events per subscription from 1 and moves its position in the same transaction;
// entries from before a subscription started, and unknown subscriptions, are skipped; delivery
// and status move on; an owner never changes; everything survives a reopen.
TEST(SqliteStore, SubscriptionsNumberTheirEventsDurably) {
  temp_dir dir;
  auto s = sqlite_store::open(dir.path(), {});
  const auto m1 = submit_and_wait(*s, record("MERCY", "SB1")).id;
  processing_result r1;
  r1.alerts = {alert_for("G1", "e1")};
  ASSERT_TRUE(settle_processed(*s, m1, r1));  // outbox seq 1, before any subscription

  ASSERT_TRUE(wait_done([&](auto d) { s->save_subscription(subscription_for("sub-a", "G1"), d); }));
  ASSERT_TRUE(wait_done([&](auto d) { s->save_subscription(subscription_for("sub-b", "G1"), d); }));
  auto a = s->subscription("sub-a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->start_seq, 1);
  EXPECT_EQ(a->status, "requested");
  EXPECT_GT(a->created_us, 0);
  EXPECT_EQ(s->subscriptions("G1").size(), 2u);
  EXPECT_TRUE(s->subscriptions("G2").empty());
  EXPECT_FALSE(s->subscription("sub-x").has_value());
  // Another group cannot take it over.
  EXPECT_FALSE(wait_done([&](auto d) { s->save_subscription(subscription_for("sub-a", "G2"), d); }));
  EXPECT_EQ(s->subscription("sub-a")->group_id, "G1");

  const auto m2 = submit_and_wait(*s, record("MERCY", "SB2")).id;
  processing_result r2;
  r2.alerts = {alert_for("G1", "e2"), alert_for("G1", "e3", "notice")};
  ASSERT_TRUE(settle_processed(*s, m2, r2));  // seq 2, 3
  EXPECT_EQ(s->fanned_out_through(), 0);
  ASSERT_TRUE(wait_done([&](auto d) {
    s->record_events(3, {{"sub-a", 1}, {"sub-a", 2}, {"sub-b", 2}, {"sub-a", 3}, {"nobody", 3}}, d);
  }));
  EXPECT_EQ(s->fanned_out_through(), 3);
  const auto ev = s->events_of("sub-a", 1, 0, 10);
  ASSERT_EQ(ev.size(), 2u);  // seq 1 is from before it started
  EXPECT_EQ(ev[0], (subscription_event{"sub-a", 1, 2, ev[0].created_us}));
  EXPECT_EQ(ev[1].event_number, 2);
  EXPECT_EQ(ev[1].alert_seq, 3);
  EXPECT_EQ(s->events_of("sub-a", 2, 2, 10).size(), 1u);
  EXPECT_EQ(s->events_of("sub-a", 1, 0, 1).size(), 1u);
  EXPECT_EQ(s->events_of("sub-b", 1, 0, 10).size(), 1u);
  EXPECT_EQ(s->subscription("sub-a")->events_since_start, 2);

  // Delivery and lifecycle.
  ASSERT_TRUE(wait_done([&](auto d) { s->mark_delivered("sub-a", 1, d); }));
  ASSERT_TRUE(wait_done([&](auto d) { s->mark_delivered("sub-a", 0, d); }));  // never back
  ASSERT_TRUE(wait_done([&](auto d) { s->set_status("sub-b", "error", "no-response", d); }));
  EXPECT_EQ(s->subscription("sub-a")->delivered_through, 1);
  EXPECT_EQ(s->subscription("sub-b")->status, "error");
  EXPECT_EQ(s->subscription("sub-b")->error, "no-response");
  // A new definition keeps the counts.
  auto again = subscription_for("sub-a", "G1");
  again.status = "active";
  ASSERT_TRUE(wait_done([&](auto d) { s->save_subscription(again, d); }));
  EXPECT_EQ(s->subscription("sub-a")->events_since_start, 2);
  EXPECT_EQ(s->subscription("sub-a")->status, "active");

  s->close();
  s.reset();
  s = sqlite_store::open(dir.path(), {});
  EXPECT_EQ(s->fanned_out_through(), 3);
  EXPECT_EQ(s->events_of("sub-a", 1, 0, 10).size(), 2u);
  EXPECT_EQ(s->subscription("sub-a")->delivered_through, 1);
  ASSERT_TRUE(wait_done([&](auto d) { s->delete_subscription("sub-a", d); }));
  EXPECT_FALSE(s->subscription("sub-a").has_value());
  EXPECT_TRUE(s->events_of("sub-a", 1, 0, 10).empty());
  EXPECT_EQ(s->subscriptions().size(), 1u);
}

}  // namespace
