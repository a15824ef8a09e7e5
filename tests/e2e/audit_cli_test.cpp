// `carebridge audit list | export | prune` on a data directory whose audit.db a writer (the
// gateway's audit_log) keeps open: filters, --json, the NDJSON export of AuditEvents, pruning,
// and the usage errors.
#include "gateway/audit/audit_log.hpp"
#include "tests/e2e/process.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <sstream>

namespace {

namespace audit = carebridge::gateway::audit;
using carebridge::test::run_process;
using carebridge::test::temp_dir;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string bin = CAREBRIDGE_BIN;
constexpr std::int64_t day = 86'400'000'000;
constexpr std::int64_t t0 = 1'780'000'000'000'000;  // 2026-05-28T20:26:40Z

void fill(audit::audit_log& log) {
  const auto rec = [&](std::string client, std::string type, std::string id, std::int64_t at) {
    audit::audit_record r;
    r.time_us = at;
    r.client_id = std::move(client);
    r.role = "group";
    r.group = "G1";
    r.address = "10.1.2.3";
    r.action = 'R';
    r.subtype = "read";
    r.entity_type = std::move(type);
    r.entity_id = std::move(id);
    r.status = 200;
    log.record(r);
  };
  rec("cm-a", "Patient", "p1", t0);
  rec("cm-b", "Encounter", "e1", t0 + day);
  rec("cm-a", "Patient", "p2", t0 + 2 * day);
  audit::notification_attempt n;
  n.subscription_id = "sub-1";
  n.group_id = "G1";
  n.kind = "event-notification";
  n.first_event = 1;
  n.last_event = 2;
  n.delivered = true;
  n.http_status = 200;
  n.endpoint = "https://cm.example/hook?key=secret";
  auto r = audit::notification_record(n);
  r.time_us = t0 + 3 * day;
  log.record(r);
  log.flush();
}

TEST(AuditCli, ListsFiltersExportsAndPrunesBesideARunningWriter) {
  temp_dir dir;
  const std::string d = dir.path().string();
  auto writer = audit::audit_log::open(dir.path());  // stays open, as in a running gateway
  fill(*writer);

  auto r = run_process({bin, "audit", "list", "--data-dir", d});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Patient/p1"));
  EXPECT_THAT(r.out, HasSubstr("cm-a (group G1)"));
  EXPECT_THAT(r.out, HasSubstr("events 1..2 -> https://cm.example:443"));
  EXPECT_THAT(r.out, Not(HasSubstr("secret")));

  r = run_process({bin, "audit", "list", "--data-dir", d, "--client", "cm-a", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document doc;
  doc.Parse(r.out.c_str());
  ASSERT_TRUE(doc.IsArray()) << r.out;
  ASSERT_EQ(doc.Size(), 2u);
  EXPECT_STREQ(doc[0]["entity_id"].GetString(), "p1");
  EXPECT_STREQ(doc[0]["time"].GetString(), "2026-05-28T20:26:40.000000Z");
  EXPECT_STREQ(doc[1]["entity_id"].GetString(), "p2");

  r = run_process({bin, "audit", "list", "--data-dir", d, "--entity", "Encounter/e1", "--json"});
  doc.Parse(r.out.c_str());
  ASSERT_EQ(doc.Size(), 1u);
  r = run_process({bin, "audit", "list", "--data-dir", d, "--since", "2026-05-29", "--until",
                   "2026-05-31", "--json"});
  doc.Parse(r.out.c_str());
  EXPECT_EQ(doc.Size(), 2u);
  r = run_process({bin, "audit", "list", "--data-dir", d, "--limit", "1"});
  EXPECT_THAT(r.out, HasSubstr("the first 1 shown"));

  r = run_process(
      {bin, "audit", "export", "--data-dir", d, "--since", "2026-05-01", "--until", "2026-06-01"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    rapidjson::Document e;
    e.Parse(line.c_str());
    ASSERT_FALSE(e.HasParseError()) << line;
    EXPECT_STREQ(e["resourceType"].GetString(), "AuditEvent");
    ++n;
  }
  EXPECT_EQ(n, 4);
  EXPECT_THAT(r.out, Not(HasSubstr("secret")));

  r = run_process({bin, "audit", "prune", "--data-dir", d, "--before", "2026-05-30"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("pruned 2 audit records"));
  EXPECT_EQ(writer->query({}).size(), 2u);
  // The writer goes on writing after a prune by another process.
  audit::audit_record later;
  later.entity_type = "Patient";
  later.entity_id = "p9";
  writer->record(later);
  writer->flush();
  r = run_process({bin, "audit", "list", "--data-dir", d, "--entity", "Patient", "--json"});
  doc.Parse(r.out.c_str());
  ASSERT_EQ(doc.Size(), 2u);
  EXPECT_STREQ(doc[1]["entity_id"].GetString(), "p9");
}

TEST(AuditCli, UsageErrors) {
  temp_dir dir;
  const std::string d = dir.path().string();
  auto r = run_process({bin, "audit", "list", "--data-dir", d});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("audit.db not found"));
  EXPECT_FALSE(std::filesystem::exists(dir / "audit.db"));
  { auto log = audit::audit_log::open(dir.path()); }
  EXPECT_EQ(run_process({bin, "audit"}).exit_code, 1);
  EXPECT_EQ(run_process({bin, "audit", "frobnicate"}).exit_code, 1);
  r = run_process({bin, "audit", "export", "--data-dir", d, "--since", "2026-01-01"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--since and --until"));
  r = run_process({bin, "audit", "export", "--data-dir", d, "--since", "2026-01-01", "--until",
                   "2026-02-01", "--format", "csv"});
  EXPECT_EQ(r.exit_code, 1);
  r = run_process({bin, "audit", "prune", "--data-dir", d});
  EXPECT_EQ(r.exit_code, 1);
  r = run_process({bin, "audit", "list", "--data-dir", d, "--since", "yesterday"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("needs a time"));
  r = run_process({bin, "audit", "list", "--data-dir", d, "--limit", "0"});
  EXPECT_EQ(r.exit_code, 1);
  r = run_process({bin, "audit", "list", "--data-dir", d, "--bogus", "x"});
  EXPECT_EQ(r.exit_code, 1);
  r = run_process({bin, "audit", "list", "--data-dir", d});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("no audit records"));
}

}  // namespace
