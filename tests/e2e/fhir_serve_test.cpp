// `carebridge serve` end to end with FHIR input: the real binary, an admission over MLLP (HL7 v2)
// and the Da Vinci discharge notification of the same stay over HTTP (tests/data/fhir/input): one
// Encounter, updated by both feeds, two clinical events, readable through GET /fhir/Encounter/{id}
// as soon as the notification is answered, and no PHI in the log. The hospital sends and the
// operator reads with SMART Backend Services tokens (tests/e2e/smart_client.hpp).
#include "tests/e2e/process.hpp"
#include "tests/e2e/smart_client.hpp"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>

#include <regex>

namespace {

using namespace carebridge::test;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string bin = CAREBRIDGE_BIN;
const std::string data = CAREBRIDGE_TEST_DATA;
// St. Brigid's stay 4471782215 as both feeds key it
// (tests/data/fhir/golden/stbrigid_v24_A03_03.json).
const std::string encounter_id = "6bc8a9ba-3903-8761-bd64-fbfe89642e70";

/// One HTTP/1.1 exchange on a fresh connection ("Connection: close"); the raw response.
std::string http(int port, const std::string& method, const std::string& path,
                 const std::string& body = {}, const std::string& token = {}) {
  return http_exchange(port, method, path, body, token.empty() ? std::vector<std::string>{}
                                                               : std::vector<std::string>{bearer(token)});
}

TEST(ServeFhir, AdmissionOverMllpAndDischargeNotificationOverHttpUpdateOneStay) {
  temp_dir dir;
  // The sample facilities plus the FHIR sender's facility (no senders: the open policy).
  std::string config = slurp(data + "/fhir/facilities.json");
  const auto open = config.find("\n{");
  ASSERT_NE(open, std::string::npos);
  config.insert(open + 2, "\n  \"fhir\": {\"default_facility\": \"STBRIGID\"},");
  write_file(dir / "carebridge.json", config);
  const auto hospital = register_smart_client(dir.path(), dir / "data", "stbrigid-ie",
                                              {"--role", "sender", "--facility", "STBRIGID"},
                                              "system/Bundle.c system/Encounter.cu");
  const auto ops = register_smart_client(dir.path(), dir / "data", "ops-desk", {"--role", "ops"},
                                         "system/*.rs");

  background_process proc(
      {bin, "serve", "--config", (dir / "carebridge.json").string(), "--data-dir",
       (dir / "data").string(), "--mllp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"},
      dir / "log");
  const int mllp = port_from(proc.wait_for_log("\"listener\":\"mllp\"", 10s));
  const int port = port_from(proc.wait_for_log("\"listener\":\"http\"", 10s));
  ASSERT_GT(port, 0) << proc.log();
  const std::string send_token = access_token(hospital, port, "system/Bundle.c");
  const std::string read_token = access_token(ops, port, "system/Encounter.r");

  const auto sent = run_process({bin, "send", "127.0.0.1:" + std::to_string(mllp),
                                 data + "/hl7/adt/stbrigid_v24_A01_02.hl7"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  // The admission is processed before the notification arrives (one stay, in order).
  std::string before;
  for (int i = 0; i < 250 && before.find(" 200 ") == std::string::npos; ++i) {
    before = http(port, "GET", "/fhir/Encounter/" + encounter_id, {}, read_token);
    if (before.find(" 200 ") == std::string::npos) std::this_thread::sleep_for(20ms);
  }
  ASSERT_THAT(before, HasSubstr("\"versionId\":\"1\""));

  const std::string notification = slurp(data + "/fhir/input/davinci_discharge_notification.json");
  const std::string answer = http(port, "POST", "/fhir/$process-message", notification, send_token);
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(answer, HasSubstr("\"severity\":\"information\""));
  // Readable as soon as the 200 is there: the same Encounter, now finished, version 2.
  const std::string after = http(port, "GET", "/fhir/Encounter/" + encounter_id, {}, read_token);
  EXPECT_THAT(after, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(after, HasSubstr("ETag: W/\"2\""));
  EXPECT_THAT(after, HasSubstr("\"status\":\"finished\""));
  // A resend is answered the same and stored once.
  EXPECT_THAT(http(port, "POST", "/fhir/$process-message", notification, send_token),
              HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(http(port, "GET", "/fhir/metadata"), HasSubstr("\"fhirVersion\":\"4.0.1\""));

  proc.signal(SIGTERM);
  ASSERT_EQ(proc.wait_for_exit(15s), 0);
  const std::string log = proc.log();
  EXPECT_THAT(log, Not(HasSubstr("Doherty")));
  EXPECT_THAT(log, Not(HasSubstr("1947-06-03")));

  sqlite3* db = nullptr;
  ASSERT_EQ(
      sqlite3_open_v2((dir / "data" / "carebridge.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
      SQLITE_OK);
  auto scalar = [&](const char* sql) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
    std::string v;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr)
      v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
  };
  EXPECT_EQ(scalar("SELECT count(*) FROM resources WHERE type='Encounter'"), "1");
  EXPECT_EQ(scalar("SELECT group_concat(kind) FROM (SELECT kind FROM events ORDER BY message_id)"),
            "admission,discharge");
  EXPECT_EQ(scalar("SELECT count(DISTINCT patient_id) FROM events"), "1");
  EXPECT_EQ(scalar("SELECT count(*) FROM messages WHERE message_type='FHIR:process-message' "
                   "AND state='processed' AND sending_facility='STBRIGID'"),
            "1");
  sqlite3_close(db);
}

}  // namespace
