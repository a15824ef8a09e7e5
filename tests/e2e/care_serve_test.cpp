// The care stage end to end: a roster imported with `carebridge roster import`, a stay sent over
// MLLP to `carebridge serve`, the member matched and attributed, the discharge scored into a stored
// RiskAssessment, the group's settings deciding the alert; a new roster imported while the gateway
// runs is used for the next message; the care tables rebuilt from the message store at start.
#include "tests/e2e/http_client.hpp"
#include "tests/e2e/process.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <regex>

namespace {

using namespace carebridge::test;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

const std::string bin = CAREBRIDGE_BIN;
const std::string data = CAREBRIDGE_TEST_DATA;

std::string get(int port, const std::string& path) {
  const auto r = run_process({"/usr/bin/env", "bash", "-c",
                              "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port) +
                                  "; printf 'GET " + path +
                                  " HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' >&3; "
                                  "cat <&3"});
  return r.out;
}

struct serving {
  std::unique_ptr<background_process> proc;
  int mllp = -1, http = -1;
  serving(const std::filesystem::path& dir, const std::string& log) {
    proc = std::make_unique<background_process>(
        std::vector<std::string>{bin, "serve", "--data-dir", (dir / "data").string(), "--config",
                                 data + "/fhir/facilities.json", "--mllp-listen", "127.0.0.1:0",
                                 "--http-listen", "127.0.0.1:0"},
        dir / log);
    mllp = port_from(proc->wait_for_log("\"listener\":\"mllp\"", 20s));
    http = port_from(proc->wait_for_log("\"listener\":\"http\"", 20s));
    proc->wait_for_log("\"event\":\"started\"", 20s);  // after the care stage is ready
  }
  bool drained() const {
    for (int i = 0; i < 500; ++i) {
      if (get(http, "/metrics").find("carebridge_store_pending_messages 0\n") != std::string::npos)
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  void stop() {
    proc->signal(SIGTERM);
    EXPECT_EQ(proc->wait_for_exit(20s), 0);
  }
};

std::string scalar(const std::filesystem::path& file, const char* sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return "?";
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
  std::string v;
  if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr)
    v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

void write_roster(const std::filesystem::path& file, const std::string& group) {
  std::ofstream(file) << "member_id,family,given,birth_date,sex,postal_code,group_id,group_name,"
                         "period_start,period_end\n"
                         "HMA300481772,Doherty,Francis,1947-06-03,male,02127,"
                      << group << ",Group " << group
                      << ",2026-01-01,\n"
                         "HMA999000111,Quinlan,Maeve,1952-02-11,female,02130,G-SB,St Brigid PCA,"
                         "2026-01-01,\n";
}

std::string with_control_id(const std::string& file, const std::string& control_id) {
  std::ifstream in(file, std::ios::binary);
  std::string m((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // MSH-10 is the tenth field of the first segment.
  std::size_t pos = 0;
  for (int bars = 0; bars < 9; ++bars) pos = m.find('|', pos) + 1;
  const std::size_t end = m.find('|', pos);
  return m.substr(0, pos) + control_id + m.substr(end);
}

TEST(CareServe, RosterMatchAttributionRiskAssessmentAndReload) {
  temp_dir dir;
  const auto data_dir = dir / "data";
  std::filesystem::create_directories(data_dir);
  write_roster(dir / "roster.csv", "G-SB");
  auto imported =
      run_process({bin, "roster", "import", (dir / "roster.csv").string(), "--data-dir",
                   data_dir.string()});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  auto set = run_process({bin, "group", "set", "G-SB", "--risk-threshold", "low", "--events",
                          "discharge,admission", "--data-dir", data_dir.string()});
  ASSERT_EQ(set.exit_code, 0) << set.err;

  serving g(dir.path(), "log1");
  ASSERT_GT(g.mllp, 0) << g.proc->log();
  auto sent = run_process({bin, "send", "127.0.0.1:" + std::to_string(g.mllp),
                           data + "/hl7/adt/stbrigid_v24_A01_02.hl7",
                           data + "/hl7/adt/stbrigid_v24_A03_03.hl7"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  ASSERT_TRUE(g.drained());
  const std::string metrics = get(g.http, "/metrics");
  EXPECT_THAT(metrics,
              HasSubstr("carebridge_care_events_total{match=\"linked\",attribution=\"attributed\"} 2"));
  EXPECT_THAT(metrics, HasSubstr("carebridge_care_alert_decisions_total{kind=\"discharge\","
                                 "decision=\"wanted\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("carebridge_care_alert_decisions_total{kind=\"admission\","
                                 "decision=\"wanted\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("carebridge_roster_members 2"));

  // A new roster while the gateway runs: the member moves to another group.
  const std::string version_before =
      std::regex_replace(metrics, std::regex("[\\s\\S]*carebridge_roster_version ([0-9]+)[\\s\\S]*"),
                         "$1");
  write_roster(dir / "roster2.csv", "G-NEW");
  imported = run_process({bin, "roster", "import", (dir / "roster2.csv").string(), "--data-dir",
                          data_dir.string()});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  bool reloaded = false;
  for (int i = 0; i < 300 && !reloaded; ++i) {
    reloaded = get(g.http, "/metrics").find("carebridge_roster_reloads_total 1") != std::string::npos;
    if (!reloaded) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(reloaded) << "the running gateway did not load the new roster (was version "
                        << version_before << ")";
  std::ofstream(dir / "again.hl7", std::ios::binary)
      << with_control_id(data + "/hl7/adt/stbrigid_v24_A03_03.hl7", "AGAIN0001");
  sent = run_process({bin, "send", "127.0.0.1:" + std::to_string(g.mllp), (dir / "again.hl7").string()});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  ASSERT_TRUE(g.drained());
  g.stop();
  const std::string log = g.proc->log();
  EXPECT_THAT(log, Not(HasSubstr("Doherty")));
  // The birth date in either form (a bare "1947" can occur inside a timestamp).
  EXPECT_THAT(log, Not(HasSubstr("1947-06-03")));
  EXPECT_THAT(log, Not(HasSubstr("19470603")));

  // The stored RiskAssessment: one per stay, linked to the Encounter, final.
  const auto store = data_dir / "carebridge.db";
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM resources WHERE type='RiskAssessment'"), "1");
  const std::string ra = scalar(store, "SELECT json FROM resources WHERE type='RiskAssessment'");
  EXPECT_THAT(ra, HasSubstr("\"status\":\"final\""));
  EXPECT_THAT(ra, HasSubstr("\"encounter\":{\"reference\":\"Encounter/"));
  EXPECT_THAT(ra, HasSubstr("LACE"));
  EXPECT_THAT(ra, HasSubstr("HOSPITAL"));

  // The alert outbox, filled with the settlements: the admission and the discharge for G-SB (the
  // group asked for both), the discharge again for G-NEW after the new roster; each with its own
  // follow-up Task.
  auto alerts = run_process({bin, "store", "alerts", "--data-dir", data_dir.string(), "--json"});
  ASSERT_EQ(alerts.exit_code, 0) << alerts.err;
  EXPECT_EQ(std::count(alerts.out.begin(), alerts.out.end(), '{'), 3) << alerts.out;
  EXPECT_THAT(alerts.out, HasSubstr("\"event_kind\": \"admission\""));
  EXPECT_THAT(alerts.out, Not(HasSubstr("Doherty")));
  auto for_new = run_process(
      {bin, "store", "alerts", "--data-dir", data_dir.string(), "--group", "G-NEW"});
  ASSERT_EQ(for_new.exit_code, 0) << for_new.err;
  EXPECT_THAT(for_new.out, HasSubstr("alert       discharge  G-NEW"));
  EXPECT_THAT(for_new.out, Not(HasSubstr("G-SB")));
  EXPECT_THAT(for_new.out, HasSubstr("Task/"));
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM resources WHERE type='Task'"), "3");
  EXPECT_EQ(scalar(store, "SELECT count(*) FROM alerts WHERE task_id <> ''"), "3");

  // The outcomes: the first discharge to G-SB, the one after the new roster to G-NEW.
  auto outcome = run_process({bin, "members", "outcome", "2", "--data-dir", data_dir.string()});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("event=discharge"));
  EXPECT_THAT(outcome.out, HasSubstr("rule=member_id member=HMA300481772"));
  EXPECT_THAT(outcome.out, HasSubstr("attribution=attributed group=G-SB"));
  EXPECT_THAT(outcome.out, HasSubstr("alert=discharge wanted"));
  outcome = run_process({bin, "members", "outcome", "3", "--data-dir", data_dir.string()});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_THAT(outcome.out, HasSubstr("group=G-NEW"));
  EXPECT_THAT(outcome.out, HasSubstr("alert=discharge wanted"));  // a new group's defaults
  // Every event of the stay: admission, discharge, the discharge again.
  std::smatch enc;
  ASSERT_TRUE(std::regex_search(outcome.out, enc, std::regex("encounter=([0-9a-f-]{36})")));
  const auto stay = run_process({bin, "members", "encounter", enc[1].str(), "--data-dir",
                                 data_dir.string()});
  ASSERT_EQ(stay.exit_code, 0) << stay.err;
  EXPECT_THAT(stay.out, HasSubstr("message=1 event=admission"));
  EXPECT_THAT(stay.out, HasSubstr("message=2 event=discharge"));
  EXPECT_THAT(stay.out, HasSubstr("message=3 event=discharge"));

  // The care tables are rebuilt from the message store's events when they are lost.
  const auto members_db = data_dir / "members.db";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(members_db.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "DELETE FROM care_encounters; DELETE FROM care_outcomes; "
                           "DELETE FROM care_assessments; DELETE FROM care_meta;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  serving again(dir.path(), "log2");
  ASSERT_GT(again.http, 0) << again.proc->log();
  EXPECT_THAT(again.proc->log(), HasSubstr("\"replayed_events\":\"3\""));
  again.stop();
  EXPECT_EQ(scalar(members_db, "SELECT count(*) FROM care_encounters"), "1");
  EXPECT_EQ(scalar(members_db, "SELECT count(*) FROM care_outcomes"), "3");
  const auto stats = run_process({bin, "members", "stats", "--data-dir", data_dir.string()});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_THAT(stats.out, HasSubstr("visits: 1"));
  EXPECT_THAT(stats.out, HasSubstr("risk assessments: 1 standing"));
}

}  // namespace
