// SMART Backend Services end to end with the real binary: clients registered with `carebridge
// clients register`, their assertions signed by `clients assertion`, tokens from POST /auth/token
// of a running `serve` (auth mode smart, the default), and every FHIR call checked with them —
// discovery, 401 without a token, a replayed assertion or a bad one refused, scopes
// narrowed to the registration, a sender's token useless for reading, a group that sees only its
// own, a disabled client's token dead within seconds, and no token or assertion in the log.
#include "tests/e2e/process.hpp"
#include "tests/e2e/smart_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <thread>

namespace {

using namespace carebridge::test;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string bin = CAREBRIDGE_BIN;
const std::string data = CAREBRIDGE_TEST_DATA;

std::string status_line(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

class SmartServe : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string config = slurp(data + "/fhir/facilities.json");
    config.insert(config.find("\n{") + 2, "\n  \"fhir\": {\"default_facility\": \"STBRIGID\"},");
    write_file(dir / "carebridge.json", config);
    hospital = register_smart_client(dir.path(), dir / "data", "stbrigid-ie",
                                     {"--role", "sender", "--facility", "STBRIGID"}, "system/*.cu");
    ops = register_smart_client(dir.path(), dir / "data", "ops-desk", {"--role", "ops"},
                                "system/*.rs", "RS384");
    group = register_smart_client(dir.path(), dir / "data", "harbor-cm",
                                  {"--role", "group", "--group", "G-HARBOR"},
                                  "system/Subscription.crud system/*.rs");
    proc = std::make_unique<background_process>(
        std::vector<std::string>{bin, "serve", "--config", (dir / "carebridge.json").string(),
                                 "--data-dir", (dir / "data").string(), "--mllp-listen",
                                 "127.0.0.1:0", "--http-listen", "127.0.0.1:0"},
        dir / "log");
    port = port_from(proc->wait_for_log("\"listener\":\"http\"", 10s));
    ASSERT_GT(port, 0) << proc->log();
  }
  void TearDown() override {
    if (!proc) return;
    proc->signal(SIGTERM);
    EXPECT_EQ(proc->wait_for_exit(15s), 0);
    const std::string log = proc->log();
    for (const auto& secret : secrets) EXPECT_THAT(log, Not(HasSubstr(secret)));
  }
  std::string token(const smart_client& c, const std::string& scope) {
    std::string t = access_token(c, port, scope);
    secrets.push_back(t);
    return t;
  }

  temp_dir dir;
  smart_client hospital, ops, group;
  std::unique_ptr<background_process> proc;
  int port = 0;
  std::vector<std::string> secrets;
};

TEST_F(SmartServe, DiscoveryAndTheTokenEndpoint) {
  for (const std::string path : {"/.well-known/smart-configuration",
                                 "/fhir/.well-known/smart-configuration"}) {
    const std::string r = http_exchange(port, "GET", path);
    EXPECT_THAT(status_line(r), HasSubstr(" 200 "));
    EXPECT_THAT(r, HasSubstr("\"token_endpoint\":\"http://127.0.0.1:" + std::to_string(port) +
                             "/auth/token\""));
    EXPECT_THAT(r, HasSubstr("private_key_jwt"));
    EXPECT_THAT(r, HasSubstr("ES384"));
    EXPECT_THAT(r, HasSubstr("RS384"));
  }
  // A token, its scope narrowed to what the client was registered for.
  const std::string assertion = client_assertion(ops, port);
  secrets.push_back(assertion);
  const std::string granted = token_response(port, assertion, "system/*.rs system/Task.u");
  EXPECT_THAT(status_line(granted), HasSubstr(" 200 "));
  EXPECT_THAT(granted, HasSubstr("\"token_type\":\"bearer\""));
  EXPECT_THAT(granted, HasSubstr("\"scope\":\"system/*.rs\""));
  EXPECT_THAT(granted, HasSubstr("no-store"));
  // The same assertion again: a replay.
  const std::string replay = token_response(port, assertion, "system/*.rs");
  EXPECT_THAT(status_line(replay), HasSubstr(" 401 "));  // client authentication failed
  EXPECT_THAT(replay, HasSubstr("invalid_client"));
  EXPECT_THAT(replay, HasSubstr("jti already used"));
  // Nothing it may have.
  const std::string nothing = token_response(port, client_assertion(ops, port), "system/Task.u");
  EXPECT_THAT(nothing, HasSubstr("invalid_scope"));
  // Garbage for an assertion.
  EXPECT_THAT(token_response(port, "eyJhbGciOiJub25lIn0.e30.", "system/*.rs"),
              HasSubstr("invalid_client"));
}

TEST_F(SmartServe, EveryFhirCallNeedsAValidTokenForItsRole) {
  const std::string notification = slurp(data + "/fhir/input/davinci_discharge_notification.json");
  const std::string none = http_exchange(port, "POST", "/fhir/$process-message", notification);
  EXPECT_THAT(status_line(none), HasSubstr(" 401 "));
  EXPECT_THAT(none, HasSubstr("WWW-Authenticate: Bearer"));
  EXPECT_THAT(status_line(http_exchange(port, "POST", "/fhir/$process-message", notification,
                                        {bearer("made-up")})),
              HasSubstr(" 401 "));
  EXPECT_THAT(status_line(http_exchange(port, "GET", "/fhir/metadata")), HasSubstr(" 200 "));

  const std::string send = token(hospital, "system/Bundle.c");
  const std::string read_all = token(ops, "system/*.rs");
  const std::string subscriptions = token(group, "system/Subscription.rs");
  // The hospital sends (for the facility it is registered for) but reads nothing.
  EXPECT_THAT(status_line(http_exchange(port, "POST", "/fhir/$process-message", notification,
                                        {bearer(send)})),
              HasSubstr(" 200 "));
  const std::string encounter = "/fhir/Encounter/6bc8a9ba-3903-8761-bd64-fbfe89642e70";
  EXPECT_THAT(status_line(http_exchange(port, "GET", encounter, {}, {bearer(send)})),
              HasSubstr(" 403 "));
  // Its token has no Encounter scope: an Encounter PUT is refused for the scope.
  const std::string put = http_exchange(port, "PUT", encounter, "{}", {bearer(send)});
  EXPECT_THAT(status_line(put), HasSubstr(" 403 "));
  EXPECT_THAT(put, HasSubstr("insufficient_scope"));
  // The operator reads it; the group, not alerted about this patient, is told it does not exist.
  EXPECT_THAT(status_line(http_exchange(port, "GET", encounter, {}, {bearer(read_all)})),
              HasSubstr(" 200 "));
  EXPECT_THAT(status_line(http_exchange(port, "GET", encounter, {}, {bearer(subscriptions)})),
              HasSubstr(" 403 "));  // no Encounter scope in this token
  const std::string group_reader = token(group, "system/Encounter.r");
  EXPECT_THAT(status_line(http_exchange(port, "GET", encounter, {}, {bearer(group_reader)})),
              HasSubstr(" 404 "));
  // The group's own subscriptions: none yet.
  EXPECT_THAT(http_exchange(port, "GET", "/fhir/Subscription", {}, {bearer(subscriptions)}),
              HasSubstr("\"total\":0"));
  const auto messages = run_process(
      {bin, "store", "messages", "--data-dir", (dir / "data").string(), "--json"});
  EXPECT_THAT(messages.out, HasSubstr("\"sender\": \"stbrigid-ie\""));
  EXPECT_THAT(messages.out, HasSubstr("\"sending_facility\": \"STBRIGID\""));

  // The audit trail: the operator finds what the hospital did — the message it sent, the read it
  // was refused — as AuditEvents; a group may not search it.
  std::string audit;
  for (int i = 0; i < 100; ++i) {
    audit = http_exchange(port, "GET", "/fhir/AuditEvent?agent=stbrigid-ie", {}, {bearer(read_all)});
    if (audit.find("process-message") != std::string::npos &&
        audit.find("HTTP 403") != std::string::npos)
      break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_THAT(status_line(audit), HasSubstr(" 200 "));
  EXPECT_THAT(audit, HasSubstr("\"resourceType\":\"AuditEvent\""));
  EXPECT_THAT(audit, HasSubstr("process-message"));
  EXPECT_THAT(audit, HasSubstr("Encounter/6bc8a9ba-3903-8761-bd64-fbfe89642e70"));
  EXPECT_THAT(audit, Not(HasSubstr("Doherty")));
  EXPECT_THAT(status_line(http_exchange(port, "GET", "/fhir/AuditEvent", {}, {bearer(group_reader)})),
              HasSubstr(" 403 "));
  const auto listed = run_process(
      {bin, "audit", "list", "--data-dir", (dir / "data").string(), "--client", "ops-desk"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("Encounter/6bc8a9ba-3903-8761-bd64-fbfe89642e70"));
}

TEST_F(SmartServe, ADisabledClientsTokenStopsWorking) {
  const std::string t = token(ops, "system/*.rs");
  EXPECT_THAT(status_line(http_exchange(port, "GET", "/fhir/Subscription/$status", {}, {bearer(t)})),
              HasSubstr(" 403 "));  // an operator is no group: role refused, but the token is good
  const std::string read = "/fhir/Patient/nobody";
  EXPECT_THAT(status_line(http_exchange(port, "GET", read, {}, {bearer(t)})), HasSubstr(" 404 "));
  ASSERT_EQ(run_process({bin, "clients", "disable", "ops-desk", "--data-dir", (dir / "data").string()})
                .exit_code,
            0);
  std::string r;
  for (int i = 0; i < 100; ++i) {
    r = http_exchange(port, "GET", read, {}, {bearer(t)});
    if (r.find(" 401 ") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_THAT(status_line(r), HasSubstr(" 401 "));
  EXPECT_THAT(token_response(port, client_assertion(ops, port), "system/*.rs"),
              HasSubstr("invalid_client"));
}

}  // namespace
