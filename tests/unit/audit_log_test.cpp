// The audit trail (gateway/audit): record / query with every filter / paging by id / prune, the
// group commit and the bounded queue (a full queue waits, then counts drops), close() flushing,
// several recording threads, a read-only reader beside the writer; records as FHIR AuditEvents
// (shape, no PHI); the notification recorder (endpoint origin only); the audit config key.
// With CAREBRIDGE_DUMP_DIR set, AuditConformanceDump writes sample AuditEvents there for
// conformance/fhir/audit_check.sh.
#include "gateway/audit/audit_log.hpp"
#include "gateway/audit/audit_event.hpp"
#include "gateway/config/config.hpp"
#include "gateway/obs/metrics.hpp"
#include "tests/e2e/process.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <thread>

namespace {

namespace audit = carebridge::gateway::audit;
using carebridge::test::temp_dir;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

audit::audit_record read_of(std::string client, std::string type, std::string id,
                            std::int64_t time_us = 0) {
  audit::audit_record r;
  r.time_us = time_us;
  r.client_id = std::move(client);
  r.role = "group";
  r.group = "G1";
  r.address = "10.0.0.7";
  r.action = 'R';
  r.subtype = "read";
  r.entity_type = std::move(type);
  r.entity_id = std::move(id);
  r.status = 200;
  r.outcome = 0;
  return r;
}

// An audit_filter with some fields set (designated initializers warn about the others).
template <typename Set>
audit::audit_filter where(Set set) {
  audit::audit_filter f;
  set(f);
  return f;
}

constexpr std::int64_t day = 86'400'000'000;
constexpr std::int64_t t0 = 1'780'000'000'000'000;  // 2026-05-28

TEST(AuditLog, RecordsAndReadsBackEveryField) {
  temp_dir dir;
  auto log = audit::audit_log::open(dir.path());
  audit::audit_record r = read_of("cm-riverside", "Patient", "p1", t0 + 123);
  r.query = "patient=Patient/p1&status";
  r.detail = "x";
  r.subscription_id = "s1";
  r.first_event = 3;
  r.last_event = 5;
  r.endpoint = "https://cm.example:443";
  log->record(r);
  log->flush();
  const auto rows = log->query({});
  ASSERT_EQ(rows.size(), 1u);
  const auto& g = rows[0];
  EXPECT_GT(g.id, 0);
  EXPECT_EQ(g.time_us, t0 + 123);
  EXPECT_EQ(g.client_id, "cm-riverside");
  EXPECT_EQ(g.role, "group");
  EXPECT_EQ(g.group, "G1");
  EXPECT_EQ(g.address, "10.0.0.7");
  EXPECT_EQ(g.action, 'R');
  EXPECT_EQ(g.subtype, "read");
  EXPECT_EQ(g.entity_type, "Patient");
  EXPECT_EQ(g.entity_id, "p1");
  EXPECT_EQ(g.query, "patient=Patient/p1&status");
  EXPECT_EQ(g.status, 200u);
  EXPECT_EQ(g.outcome, 0);
  EXPECT_EQ(g.subscription_id, "s1");
  EXPECT_EQ(g.first_event, 3);
  EXPECT_EQ(g.last_event, 5);
  EXPECT_EQ(g.endpoint, "https://cm.example:443");
  EXPECT_EQ(g.detail, "x");
  ASSERT_TRUE(log->get(g.id));
  EXPECT_EQ(log->get(g.id)->entity_id, "p1");
  EXPECT_FALSE(log->get(g.id + 1));
}

TEST(AuditLog, StampsTheTimeWhenNoneIsGiven) {
  temp_dir dir;
  auto log = audit::audit_log::open(dir.path());
  const auto before = audit::now_us();
  log->record(read_of("a", "Patient", "p1"));
  log->flush();
  const auto rows = log->query({});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_GE(rows[0].time_us, before);
  EXPECT_LE(rows[0].time_us, audit::now_us());
}

TEST(AuditLog, FiltersByEveryField) {
  temp_dir dir;
  auto log = audit::audit_log::open(dir.path());
  log->record(read_of("a", "Patient", "p1", t0));
  log->record(read_of("b", "Patient", "p2", t0 + day));
  auto search = read_of("a", "Task", "", t0 + 2 * day);
  search.subtype = "search-type";
  search.action = 'E';
  search.group = "G2";
  log->record(search);
  auto refused = read_of("c", "Encounter", "e1", t0 + 3 * day);
  refused.status = 403;
  refused.outcome = 4;
  log->record(refused);
  auto op = read_of("a", "Subscription", "s1", t0 + 4 * day);
  op.subtype = "$status";
  op.action = 'E';
  log->record(op);
  log->flush();

  const auto ids = [&](audit::audit_filter f) {
    std::vector<std::string> out;
    for (const auto& r : log->query(f))
      out.push_back(r.client_id + ":" + r.entity_type + "/" + r.entity_id);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids({}).size(), 5u);
  EXPECT_EQ(ids(where([&](audit::audit_filter& f) { f.client_id = "a"; })),
            (V{"a:Patient/p1", "a:Task/", "a:Subscription/s1"}));
  EXPECT_EQ(ids(where([&](audit::audit_filter& f) { f.group = "G2"; })), (V{"a:Task/"}));
  EXPECT_EQ(ids(where([&](audit::audit_filter& f) { f.entity_type = "Patient"; })),
            (V{"a:Patient/p1", "b:Patient/p2"}));
  EXPECT_EQ(ids(where([&](audit::audit_filter& f) {
              f.entity_type = "Patient";
              f.entity_id = "p2";
            })),
            (V{"b:Patient/p2"}));
  EXPECT_EQ(ids(where([&](audit::audit_filter& f) { f.action = "E"; })),
            (V{"a:Task/", "a:Subscription/s1"}));
  EXPECT_EQ(ids(where([&](audit::audit_filter& f) { f.outcome = 4; })), (V{"c:Encounter/e1"}));
  EXPECT_EQ(ids(where([&](audit::audit_filter& f) { f.subtype = "search-type"; })), (V{"a:Task/"}));
  EXPECT_EQ(ids(where([&](audit::audit_filter& f) { f.subtype = "operation"; })),
            (V{"a:Subscription/s1"}));
  EXPECT_EQ(ids(where([&](audit::audit_filter& f) {
              f.since_us = t0 + day;
              f.until_us = t0 + 3 * day;
            })),
            (V{"b:Patient/p2", "a:Task/"}));
  EXPECT_EQ(ids(where([&](audit::audit_filter& f) { f.since_us = t0 + 4 * day; })),
            (V{"a:Subscription/s1"}));
  EXPECT_EQ(ids(where([&](audit::audit_filter& f) { f.until_us = t0; })), V{});
}

TEST(AuditLog, PagesById) {
  temp_dir dir;
  auto log = audit::audit_log::open(dir.path());
  for (int i = 0; i < 25; ++i)
    log->record(read_of("a", "Patient", "p" + std::to_string(i), t0 + i));
  log->flush();
  audit::audit_filter f;
  f.limit = 10;
  std::vector<std::string> seen;
  std::int64_t last = 0;
  for (int page = 0; page < 5; ++page) {
    const auto rows = log->query(f);
    for (const auto& r : rows) {
      EXPECT_GT(r.id, last);
      last = r.id;
      seen.push_back(r.entity_id);
    }
    if (rows.size() < f.limit) break;
    f.after_id = rows.back().id;
  }
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(seen.front(), "p0");
  EXPECT_EQ(seen.back(), "p24");
}

TEST(AuditLog, PrunesOlderRecordsAndNeverReusesIds) {
  temp_dir dir;
  auto log = audit::audit_log::open(dir.path());
  for (int i = 0; i < 4; ++i)
    log->record(read_of("a", "Patient", "p" + std::to_string(i), t0 + i * day));
  log->flush();
  const auto max_id = log->query({}).back().id;
  EXPECT_EQ(log->prune(t0 + 2 * day), 2);
  auto rows = log->query({});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].entity_id, "p2");
  EXPECT_EQ(log->prune(t0 + 10 * day), 2);
  log->record(read_of("a", "Patient", "new", t0 + 11 * day));
  log->flush();
  rows = log->query({});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_GT(rows[0].id, max_id);  // AUTOINCREMENT: an id means one record, ever
}

TEST(AuditLog, RetentionDeletesOldRecordsAtOpen) {
  temp_dir dir;
  {
    auto log = audit::audit_log::open(dir.path());
    log->record(read_of("a", "Patient", "old", audit::now_us() - 40 * day));
    log->record(read_of("a", "Patient", "recent", audit::now_us() - 2 * day));
  }
  audit::audit_log::options o;
  o.retention = std::chrono::hours(24 * 30);
  auto log = audit::audit_log::open(dir.path(), o);
  const auto rows = log->query({});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].entity_id, "recent");
}

TEST(AuditLog, GroupsRecordsIntoFewCommits) {
  temp_dir dir;
  carebridge::gateway::obs::registry metrics;
  audit::audit_log::options o;
  o.commit_interval = 200ms;
  o.metrics = &metrics;
  auto log = audit::audit_log::open(dir.path(), o);
  for (int i = 0; i < 100; ++i) log->record(read_of("a", "Patient", "p" + std::to_string(i)));
  // Within the commit interval nothing is written yet: one transaction takes them all.
  EXPECT_TRUE(log->query({}).empty());
  log->flush();
  EXPECT_EQ(log->query(where([&](audit::audit_filter& f) { f.limit = 1000; })).size(), 100u);
  EXPECT_THAT(metrics.expose(), HasSubstr("carebridge_audit_records_total 100"));
}

TEST(AuditLog, CommitsWithinTheIntervalWithoutFlush) {
  temp_dir dir;
  auto log = audit::audit_log::open(dir.path());  // 50 ms
  log->record(read_of("a", "Patient", "p1"));
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (log->query({}).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(log->query({}).size(), 1u);
}

TEST(AuditLog, CloseWritesWhatIsQueued) {
  temp_dir dir;
  {
    audit::audit_log::options o;
    o.commit_interval = 10s;  // nothing would be written before close()
    auto log = audit::audit_log::open(dir.path(), o);
    for (int i = 0; i < 50; ++i) log->record(read_of("a", "Patient", "p" + std::to_string(i)));
    log->close();
    log->record(read_of("a", "Patient", "late"));  // after close: dropped, counted
    EXPECT_EQ(log->dropped(), 1u);
  }
  audit::audit_log::options ro;
  ro.read_only = true;
  auto reader = audit::audit_log::open(dir.path(), ro);
  EXPECT_EQ(reader->query(where([&](audit::audit_filter& f) { f.limit = 1000; })).size(), 50u);
}

TEST(AuditLog, AFullQueueWaitsForRoomThenDropsAndCounts) {
  temp_dir dir;
  carebridge::gateway::obs::registry metrics;
  audit::audit_log::options o;
  o.queue_capacity = 4;
  o.batch_size = 4;
  o.max_block = 0ms;  // no waiting: what does not fit is dropped at once
  o.commit_interval = 10s;
  o.metrics = &metrics;
  auto log = audit::audit_log::open(dir.path(), o);
  // The writer empties the queue only when woken; with no wait allowed some records are dropped.
  for (int i = 0; i < 200; ++i) log->record(read_of("a", "Patient", "p" + std::to_string(i)));
  log->flush();
  const auto written = log->query(where([&](audit::audit_filter& f) { f.limit = 1000; })).size();
  EXPECT_EQ(written + log->dropped(), 200u);
  EXPECT_GT(written, 0u);
  EXPECT_THAT(metrics.expose(),
              HasSubstr("carebridge_audit_dropped_total " + std::to_string(log->dropped())));

  // With time to wait, the writer makes room and nothing is lost.
  temp_dir dir2;
  o.max_block = 5s;
  o.metrics = nullptr;
  auto patient = audit::audit_log::open(dir2.path(), o);
  for (int i = 0; i < 200; ++i) patient->record(read_of("a", "Patient", "p" + std::to_string(i)));
  patient->flush();
  EXPECT_EQ(patient->dropped(), 0u);
  EXPECT_EQ(patient->query(where([&](audit::audit_filter& f) { f.limit = 1000; })).size(), 200u);
}

TEST(AuditLog, ManyThreadsRecordEverything) {
  temp_dir dir;
  audit::audit_log::options o;
  o.queue_capacity = 256;
  o.max_block = 10s;
  auto log = audit::audit_log::open(dir.path(), o);
  constexpr int threads = 6, each = 500;
  std::vector<std::thread> ts;
  std::atomic<bool> stop_reading{false};
  std::thread reader([&] {
    while (!stop_reading) {
      (void)log->query(where([&](audit::audit_filter& f) { f.limit = 50; }));
      std::this_thread::sleep_for(1ms);
    }
  });
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < each; ++i)
        log->record(read_of("c" + std::to_string(t), "Patient", std::to_string(i)));
    });
  for (auto& t : ts) t.join();
  log->flush();
  stop_reading = true;
  reader.join();
  EXPECT_EQ(log->dropped(), 0u);
  const auto rows = log->query(where([&](audit::audit_filter& f) { f.limit = 100'000; }));
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(threads * each));
  std::set<std::string> distinct;
  for (const auto& r : rows) distinct.insert(r.client_id + "/" + r.entity_id);
  EXPECT_EQ(distinct.size(), rows.size());
  // Each thread's records keep their order.
  std::map<std::string, int> next;
  for (const auto& r : rows) EXPECT_EQ(std::stoi(r.entity_id), next[r.client_id]++);
}

TEST(AuditLog, AReadOnlyReaderSeesWhatTheWriterCommits) {
  temp_dir dir;
  auto log = audit::audit_log::open(dir.path());
  log->record(read_of("a", "Patient", "p1"));
  log->flush();
  audit::audit_log::options ro;
  ro.read_only = true;
  auto reader = audit::audit_log::open(dir.path(), ro);
  EXPECT_EQ(reader->query({}).size(), 1u);
  log->record(read_of("a", "Patient", "p2"));
  log->flush();
  EXPECT_EQ(reader->query({}).size(), 2u);
  EXPECT_THROW(reader->prune(audit::now_us()), std::runtime_error);
}

TEST(AuditLog, ReadOnlyOpenOfAMissingTrailFails) {
  temp_dir dir;
  audit::audit_log::options ro;
  ro.read_only = true;
  EXPECT_THROW(audit::audit_log::open(dir.path(), ro), std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(dir / "audit.db"));
}

TEST(AuditLog, RefusesATrailFromANewerVersion) {
  temp_dir dir;
  { auto log = audit::audit_log::open(dir.path()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "audit.db").c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "UPDATE audit_meta SET value = 99 WHERE key = 'schema'", nullptr, nullptr,
               nullptr);
  sqlite3_close(db);
  try {
    audit::audit_log::open(dir.path());
    FAIL() << "opened";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("audit.db"));
    EXPECT_THAT(e.what(), HasSubstr("newer"));
  }
}

// ---- notifications ------------------------------------------------------------------------------

TEST(AuditNotification, KeepsTheEndpointOriginOnly) {
  audit::notification_attempt a;
  a.subscription_id = "sub-1";
  a.group_id = "G-RIVERSIDE";
  a.kind = "event-notification";
  a.first_event = 7;
  a.last_event = 9;
  a.delivered = true;
  a.http_status = 200;
  a.endpoint = "https://user:secret@CM.Riverside.example/hook/abc?token=s3cret#x";
  const auto r = audit::notification_record(a);
  EXPECT_EQ(r.endpoint, "https://CM.Riverside.example:443");
  EXPECT_EQ(r.address, "CM.Riverside.example");
  EXPECT_EQ(r.role, "gateway");
  EXPECT_EQ(r.group, "G-RIVERSIDE");
  EXPECT_EQ(r.entity_type, "Subscription");
  EXPECT_EQ(r.entity_id, "sub-1");
  EXPECT_EQ(r.subtype, "event-notification");
  EXPECT_EQ(r.action, 'R');
  EXPECT_EQ(r.outcome, 0);
  EXPECT_EQ(r.first_event, 7);
  EXPECT_EQ(r.last_event, 9);
  const std::string json = audit::audit_event_json(r);
  EXPECT_THAT(json, Not(HasSubstr("secret")));
  EXPECT_THAT(json, Not(HasSubstr("hook")));
  EXPECT_THAT(json, Not(HasSubstr("s3cret")));

  a.delivered = false;
  a.http_status = 0;
  a.detail = "timeout";
  a.endpoint = "http://[::1]:8443/x";
  const auto failed = audit::notification_record(a);
  EXPECT_EQ(failed.outcome, 4);
  EXPECT_EQ(failed.status, 0u);
  EXPECT_EQ(failed.endpoint, "http://[::1]:8443");
  EXPECT_EQ(failed.address, "::1");

  temp_dir dir;
  auto log = audit::audit_log::open(dir.path());
  audit::record_notification(*log, a);
  log->flush();
  const auto rows = log->query(where([&](audit::audit_filter& f) {
    f.entity_type = "Subscription";
    f.entity_id = "sub-1";
  }));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].detail, "timeout");
}

TEST(AuditNotification, OriginOf) {
  EXPECT_EQ(audit::origin_of("https://a.example/x"), "https://a.example:443");
  EXPECT_EQ(audit::origin_of("HTTP://a.example:8080/x?y"), "http://a.example:8080");
  EXPECT_EQ(audit::origin_of("not a url"), "");
  EXPECT_EQ(audit::origin_of("https:///path"), "");
}

// ---- AuditEvent ---------------------------------------------------------------------------------

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str(), s.size());
  EXPECT_FALSE(d.HasParseError()) << s;
  return d;
}

TEST(AuditEventJson, ARead) {
  auto r = read_of("cm-riverside", "Patient", "p1", t0 + 5);
  r.id = 42;
  const auto d = parse(audit::audit_event_json(r, "CareBridge test"));
  EXPECT_STREQ(d["resourceType"].GetString(), "AuditEvent");
  EXPECT_STREQ(d["id"].GetString(), "42");
  EXPECT_STREQ(d["type"]["code"].GetString(), "rest");
  EXPECT_STREQ(d["subtype"][0]["system"].GetString(), "http://hl7.org/fhir/restful-interaction");
  EXPECT_STREQ(d["subtype"][0]["code"].GetString(), "read");
  EXPECT_STREQ(d["action"].GetString(), "R");
  EXPECT_STREQ(d["recorded"].GetString(), "2026-05-28T20:26:40.000005Z");
  EXPECT_STREQ(d["outcome"].GetString(), "0");
  EXPECT_STREQ(d["agent"][0]["who"]["identifier"]["value"].GetString(), "cm-riverside");
  EXPECT_TRUE(d["agent"][0]["requestor"].GetBool());
  EXPECT_STREQ(d["agent"][0]["network"]["address"].GetString(), "10.0.0.7");
  EXPECT_STREQ(d["agent"][0]["network"]["type"].GetString(), "2");
  EXPECT_STREQ(d["agent"][0]["role"][0]["coding"][0]["code"].GetString(), "group");
  EXPECT_STREQ(d["agent"][1]["who"]["identifier"]["value"].GetString(), "G1");
  EXPECT_FALSE(d["agent"][1]["requestor"].GetBool());
  EXPECT_STREQ(d["source"]["observer"]["display"].GetString(), "CareBridge test");
  EXPECT_STREQ(d["entity"][0]["what"]["reference"].GetString(), "Patient/p1");
}

TEST(AuditEventJson, ASearchKeepsItsPhiFreeQueryAsBase64) {
  auto r = read_of("ops-1", "Task", "", t0);
  r.role = "ops";
  r.group.clear();
  r.subtype = "search-type";
  r.action = 'E';
  r.query = "patient=Patient/p1&status";
  const auto d = parse(audit::audit_event_json(r));
  EXPECT_STREQ(d["entity"][0]["query"].GetString(), "cGF0aWVudD1QYXRpZW50L3AxJnN0YXR1cw==");
  EXPECT_FALSE(d["entity"][0].HasMember("what"));
  EXPECT_EQ(d["agent"].Size(), 1u);
}

TEST(AuditEventJson, TokenAndOperationAndAnonymous) {
  audit::audit_record tok;
  tok.time_us = t0;
  tok.subtype = "token";
  tok.status = 401;
  tok.outcome = 4;
  tok.address = "::1";
  const auto d = parse(audit::audit_event_json(tok));
  EXPECT_STREQ(d["type"]["code"].GetString(), "110114");
  EXPECT_STREQ(d["subtype"][0]["code"].GetString(), "110122");
  EXPECT_STREQ(d["outcome"].GetString(), "4");
  EXPECT_FALSE(d["agent"][0].HasMember("who"));
  EXPECT_STREQ(d["agent"][0]["role"][0]["coding"][0]["code"].GetString(), "anonymous");
  EXPECT_FALSE(d.HasMember("entity"));

  audit::notification_attempt message;
  message.subscription_id = "s1";
  message.group_id = "G1";
  message.kind = "process-message";
  message.endpoint = "https://cm.example/fhir";
  const auto m = parse(audit::audit_event_json(audit::notification_record(message)));
  EXPECT_STREQ(m["type"]["code"].GetString(), "110106");
  EXPECT_STREQ(m["subtype"][0]["code"].GetString(), "process-message");
  EXPECT_STREQ(m["entity"][0]["what"]["reference"].GetString(), "Subscription/s1");

  auto op = read_of("cm", "Subscription", "s1", t0);
  op.subtype = "$status";
  const auto o = parse(audit::audit_event_json(op));
  EXPECT_STREQ(o["subtype"][0]["code"].GetString(), "operation");
  EXPECT_STREQ(o["subtype"][1]["code"].GetString(), "$status");
}

// ---- config -------------------------------------------------------------------------------------

TEST(AuditConfig, RetentionDaysDefaultsToSixYears) {
  namespace config = carebridge::gateway::config;
  EXPECT_EQ(config::load_text("{}", "t.json").audit.retention_days, 2190u);
  EXPECT_EQ(
      config::load_text(R"({"audit": {"retention_days": 30}})", "t.json").audit.retention_days,
      30u);
  EXPECT_THROW(config::load_text(R"({"audit": {"retention_days": 0}})", "t.json"), std::exception);
  EXPECT_THROW(config::load_text(R"({"audit": {"keep": 1}})", "t.json"), std::exception);
}

// ---- samples for conformance/fhir/audit_check.sh ------------------------------------------------

// Writes one AuditEvent of each kind to $CAREBRIDGE_DUMP_DIR (nothing when it is not set).
TEST(AuditConformanceDump, WritesSamples) {
  const char* out = std::getenv("CAREBRIDGE_DUMP_DIR");
  if (out == nullptr || *out == 0) GTEST_SKIP() << "CAREBRIDGE_DUMP_DIR not set";
  std::vector<std::pair<std::string, audit::audit_record>> samples;
  auto read = read_of("cm-riverside", "Patient", "p1", t0);
  samples.emplace_back("read", read);
  auto search = read_of("ops-1", "Task", "", t0);
  search.role = "ops";
  search.group.clear();
  search.subtype = "search-type";
  search.action = 'E';
  search.query = "patient=Patient/p1&status=requested&_count=10";
  samples.emplace_back("search", search);
  auto create = read_of("cm-riverside", "Subscription", "0b6c9d7e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", t0);
  create.subtype = "create";
  create.action = 'C';
  create.status = 201;
  samples.emplace_back("create", create);
  auto forbidden = read_of("cm-riverside", "Encounter", "e1", t0);
  forbidden.status = 403;
  forbidden.outcome = 4;
  samples.emplace_back("refused", forbidden);
  auto op = read_of("cm-riverside", "Subscription", "s1", t0);
  op.subtype = "$events";
  op.action = 'E';
  op.query = "eventsSinceNumber=3";
  samples.emplace_back("operation", op);
  audit::audit_record tx;
  tx.time_us = t0;
  tx.client_id = "mercy-engine";
  tx.role = "sender";
  tx.address = "192.0.2.10";
  tx.subtype = "transaction";
  tx.status = 200;
  samples.emplace_back("transaction", tx);
  audit::audit_record tok;
  tok.time_us = t0;
  tok.subtype = "token";
  tok.status = 401;
  tok.outcome = 4;
  tok.address = "2001:db8::5";
  samples.emplace_back("token", tok);
  audit::notification_attempt n;
  n.subscription_id = "s1";
  n.group_id = "G-RIVERSIDE";
  n.kind = "event-notification";
  n.first_event = 3;
  n.last_event = 5;
  n.delivered = true;
  n.http_status = 200;
  n.endpoint = "https://cm.riverside.example/hook";
  samples.emplace_back("notification", audit::notification_record(n));
  n.kind = "handshake";
  n.first_event = n.last_event = 0;
  n.delivered = false;
  n.http_status = 0;
  n.detail = "timeout";
  samples.emplace_back("handshake-failed", audit::notification_record(n));
  std::int64_t id = 1;
  for (auto& [name, r] : samples) {
    r.id = id++;
    r.time_us = t0 + r.id;
    std::ofstream f(std::filesystem::path(out) / ("auditevent-" + name + ".json"));
    f << audit::audit_event_json(r) << '\n';
  }
}

}  // namespace
