// Alerts end to end with the real binary: a roster imported, two physician groups' clients (by
// address) each create a Subscription over the FHIR API, pointing at their own HTTPS endpoint
// (deploy/demo_subscriber.py with the dev CA's server certificate); both are handshaken; an
// ADT^A01/A03 sent over MLLP for a member of the first group arrives at the first group's
// endpoint as a backport event-notification (focus the RiskAssessment, the channel's token in
// Authorization), and the other group's endpoint receives nothing but its handshake. The
// gateway's log names no patient.
#include "tests/e2e/process.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

namespace {

using namespace carebridge::test;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

const std::string bin = CAREBRIDGE_BIN;
const std::string data = CAREBRIDGE_TEST_DATA;
const std::string source = CAREBRIDGE_SOURCE_DIR;

int port_of(const std::string& line) {
  static const std::regex re(R"re("address":"[^"]*:(\d+)")re");
  std::smatch m;
  return std::regex_search(line, m, re) ? std::stoi(m[1]) : -1;
}

// curl from a given loopback source address (the group clients are told apart by address).
process_result http(const std::string& from, const std::string& method, const std::string& url,
                const std::string& body = {}) {
  std::vector<std::string> argv{"/usr/bin/curl", "-s",  "--interface", from, "-X", method,
                                "-w",            "\n%{http_code}", url};
  if (!body.empty()) {
    argv.insert(argv.end(), {"-H", "Content-Type: application/fhir+json", "--data-binary", body});
  }
  return run_process(argv);
}

std::string subscription(const std::string& endpoint) {
  return R"({"resourceType":"Subscription","status":"requested","reason":"care coordination",
    "criteria":"https://carebridge.example/fhir/SubscriptionTopic/readmission-risk",
    "channel":{"type":"rest-hook","endpoint":")" +
         endpoint + R"(","payload":"application/fhir+json",
      "header":["Authorization: Bearer group-token"]}})";
}

struct endpoint {
  std::unique_ptr<background_process> proc;
  std::filesystem::path record;
  int port = -1;
  endpoint(const std::filesystem::path& dir, const std::string& name,
           const std::filesystem::path& certs, int fixed_port = 0) {
    record = dir / (name + ".jsonl");
    proc = std::make_unique<background_process>(
        std::vector<std::string>{"/usr/bin/env", "bash", "-c",
                                 "exec python3 " + source + "/deploy/demo_subscriber.py "
                                 "--listen 127.0.0.1:" + std::to_string(fixed_port) +
                                 " --tls-cert " + (certs / "server.crt").string() +
                                 " --tls-key " + (certs / "server.key").string() +
                                 " --token group-token --record " + record.string() + " 1>&2"},
        dir / (name + ".log"));
    port = port_of(proc->wait_for_log("\"listening\"", 20s));
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port) + "/hook"; }
  std::string received() const { return slurp(record); }
  bool wait_for(const std::string& needle) const {
    for (int i = 0; i < 1000; ++i) {
      if (std::filesystem::exists(record) && received().find(needle) != std::string::npos)
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
};

// A roster (one member of G-SB), dev certificates, and a config with two group clients by address
// (127.0.0.1 for G-SB, 127.0.0.2 for G-OTHER) and the dev CA for the endpoints.
struct setup {
  temp_dir dir;
  std::filesystem::path certs = dir / "certs";
  std::filesystem::path data_dir = dir / "data";
  setup() {
    EXPECT_EQ(run_process({"/usr/bin/env", "bash", source + "/certs/make-dev-certs.sh",
                           certs.string()})
                  .exit_code,
              0);
    std::filesystem::create_directories(data_dir);
    {
      std::ofstream f(dir / "roster.csv");
      f << "member_id,family,given,birth_date,sex,postal_code,group_id,group_name,period_start,"
           "period_end\n"
           "HMA300481772,Doherty,Francis,1947-06-03,male,02127,G-SB,St Brigid Primary Care,"
           "2026-01-01,\n";
    }
    auto imported = run_process({bin, "roster", "import", (dir / "roster.csv").string(),
                                 "--data-dir", data_dir.string()});
    EXPECT_EQ(imported.exit_code, 0) << imported.err;
    EXPECT_EQ(run_process({bin, "group", "set", "G-SB", "--risk-threshold", "low", "--data-dir",
                           data_dir.string()})
                  .exit_code,
              0);
    // The config: the sample facilities, two group clients by address, the dev CA for endpoints.
    std::string cfg = slurp(data + "/fhir/facilities.json");
    const auto last = cfg.rfind('}');
    cfg.insert(last, R"(,
    "group_clients": [
      {"name": "st-brigid-pcp", "group": "G-SB", "addresses": ["127.0.0.1"]},
      {"name": "other-group", "group": "G-OTHER", "addresses": ["127.0.0.2"]}],
    "notify": {"ca_file": ")" + (certs / "ca.crt").string() + R"("}
  )");
    std::ofstream(dir / "config.json") << cfg;
  }
  // `carebridge serve` on free ports; the HTTP base and the MLLP port once it has started.
  std::unique_ptr<background_process> serve(const std::string& log, int& mllp, std::string& base) {
    auto gw = std::make_unique<background_process>(
        std::vector<std::string>{bin, "serve", "--data-dir", data_dir.string(), "--config",
                                 (dir / "config.json").string(), "--mllp-listen", "127.0.0.1:0",
                                 "--http-listen", "127.0.0.1:0"},
        dir / log);
    mllp = port_of(gw->wait_for_log("\"listener\":\"mllp\"", 20s));
    const int http_port = port_of(gw->wait_for_log("\"listener\":\"http\"", 20s));
    gw->wait_for_log("\"event\":\"started\"", 20s);
    base = "http://127.0.0.1:" + std::to_string(http_port) + "/fhir";
    return gw;
  }
};

// Whether a subscription's status, as its group's client reads it, becomes `want` (10 s at most).
bool becomes(const std::string& base, const std::string& id, const std::string& want) {
  for (int i = 0; i < 500; ++i) {
    if (http("127.0.0.1", "GET", base + "/Subscription/" + id).out.find(
            "\"status\":\"" + want + "\"") != std::string::npos)
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(AlertsServe, AnAlertArrivesAtItsGroupsEndpointOnly) {
  setup su;
  auto& dir = su.dir;
  const auto& certs = su.certs;
  endpoint mine(dir.path(), "mine", certs), theirs(dir.path(), "theirs", certs);
  ASSERT_GT(mine.port, 0) << mine.proc->log();
  ASSERT_GT(theirs.port, 0) << theirs.proc->log();

  int mllp = 0;
  std::string base;
  auto gwp = su.serve("gateway.log", mllp, base);
  auto& gw = *gwp;
  ASSERT_GT(mllp, 0) << gw.log();
  auto created = http("127.0.0.1", "POST", base + "/Subscription", subscription(mine.url()));
  ASSERT_THAT(created.out, HasSubstr("\n201")) << created.out;
  std::smatch id;
  ASSERT_TRUE(std::regex_search(created.out, id, std::regex(R"re("id":"([0-9a-f-]{36})")re")));
  auto other = http("127.0.0.2", "POST", base + "/Subscription", subscription(theirs.url()));
  ASSERT_THAT(other.out, HasSubstr("\n201")) << other.out;
  // Not a group's client: refused.
  EXPECT_THAT(http("127.0.0.3", "POST", base + "/Subscription", subscription(mine.url())).out,
              HasSubstr("\n403"));

  ASSERT_TRUE(mine.wait_for("\"handshake\"")) << gw.log();
  ASSERT_TRUE(theirs.wait_for("\"handshake\"")) << gw.log();
  ASSERT_TRUE(becomes(base, id[1].str(), "active"));
  // The other group does not see it.
  EXPECT_THAT(http("127.0.0.2", "GET", base + "/Subscription/" + id[1].str()).out,
              HasSubstr("\n404"));

  auto sent = run_process({bin, "send", "127.0.0.1:" + std::to_string(mllp),
                           data + "/hl7/adt/stbrigid_v24_A01_02.hl7",
                           data + "/hl7/adt/stbrigid_v24_A03_03.hl7"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  ASSERT_TRUE(mine.wait_for("\"event-notification\"")) << gw.log() << mine.proc->log();
  const std::string got = mine.received();
  EXPECT_THAT(got, HasSubstr("\"event-number\",\"valueString\":\"1\""));
  EXPECT_THAT(got, HasSubstr("/RiskAssessment/"));
  EXPECT_THAT(mine.proc->log(), HasSubstr("notification: event-notification"));
  // $events replays it from the event log.
  EXPECT_THAT(http("127.0.0.1", "GET", base + "/Subscription/" + id[1].str() + "/$events").out,
              HasSubstr("\"query-event\""));

  std::this_thread::sleep_for(300ms);  // a wrongly routed notification would have arrived by now
  EXPECT_THAT(theirs.received(), Not(HasSubstr("event-notification")));
  EXPECT_THAT(theirs.received(), Not(HasSubstr("RiskAssessment")));

  gw.signal(SIGTERM);
  EXPECT_EQ(gw.wait_for_exit(20s), 0);
  const std::string log = gw.log();
  EXPECT_THAT(log, Not(HasSubstr("Doherty")));
  EXPECT_THAT(log, Not(HasSubstr("Francis")));
  EXPECT_THAT(log, Not(HasSubstr("1947")));
  EXPECT_THAT(log, Not(HasSubstr("group-token")));
  mine.proc->signal(SIGTERM);
  theirs.proc->signal(SIGTERM);
}

// The gateway killed (SIGKILL) after the alert was decided and numbered but before its endpoint,
// down at the time, took it: after a restart, with the endpoint back on the same address, the
// notification arrives — nothing between "decided" and "delivered" is lost.
TEST(AlertsServe, AnAlertDecidedBeforeAKillArrivesAfterTheRestart) {
  setup su;
  auto first = std::make_unique<endpoint>(su.dir.path(), "before", su.certs);
  ASSERT_GT(first->port, 0) << first->proc->log();
  const int port = first->port;
  int mllp = 0;
  std::string base;
  auto gw = su.serve("gateway1.log", mllp, base);
  auto created = http("127.0.0.1", "POST", base + "/Subscription", subscription(first->url()));
  ASSERT_THAT(created.out, HasSubstr("\n201")) << created.out;
  std::smatch id;
  ASSERT_TRUE(std::regex_search(created.out, id, std::regex(R"re("id":"([0-9a-f-]{36})")re")));
  ASSERT_TRUE(becomes(base, id[1].str(), "active")) << gw->log();
  // The endpoint goes away; the discharge comes in and is decided, numbered, retried.
  first->proc->signal(SIGTERM);
  ASSERT_GE(first->proc->wait_for_exit(20s), 0);
  first.reset();
  auto sent = run_process({bin, "send", "127.0.0.1:" + std::to_string(mllp),
                           data + "/hl7/adt/stbrigid_v24_A01_02.hl7",
                           data + "/hl7/adt/stbrigid_v24_A03_03.hl7"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  bool numbered = false;
  for (int i = 0; i < 500 && !numbered; ++i) {
    numbered = http("127.0.0.1", "GET", base + "/Subscription/" + id[1].str() + "/$status")
                   .out.find(R"("name":"events-since-subscription-start","valueString":"1")") !=
               std::string::npos;
    if (!numbered) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(numbered) << gw->log();
  gw->signal(SIGKILL);
  gw->wait_for_exit(20s);
  gw.reset();

  // The endpoint is back on its address; the gateway restarts on the same data.
  endpoint back(su.dir.path(), "after", su.certs, port);
  ASSERT_EQ(back.port, port) << back.proc->log();
  gw = su.serve("gateway2.log", mllp, base);
  ASSERT_TRUE(back.wait_for("\"event-notification\"")) << gw->log();
  EXPECT_THAT(back.received(), HasSubstr(R"("name":"event-number","valueString":"1")"));
  EXPECT_THAT(back.received(), HasSubstr("/RiskAssessment/"));
  gw->signal(SIGTERM);
  EXPECT_EQ(gw->wait_for_exit(20s), 0);
  back.proc->signal(SIGTERM);
}

}  // namespace
