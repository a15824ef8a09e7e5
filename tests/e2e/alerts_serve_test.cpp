// Alerts end to end with the real binary: a roster imported, two physician groups' clients (by
// address) each create a Subscription over the FHIR API, pointing at their own HTTPS endpoint
// (deploy/demo_subscriber.py with the dev CA's server certificate); both are handshaken; an
// ADT^A01/A03 sent over MLLP for a member of the first group arrives at the first group's
// endpoint as a backport event-notification (focus the RiskAssessment, the channel's token in
// Authorization), and the other group's endpoint receives nothing but its handshake. The
// gateway's log names no patient.
#include "tests/e2e/alerts_setup.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

namespace {

using namespace carebridge::test;
using namespace carebridge::test::alerts_e2e;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

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
  // The birth date in either form (a bare "1947" can occur inside a timestamp).
  EXPECT_THAT(log, Not(HasSubstr("1947-06-03")));
  EXPECT_THAT(log, Not(HasSubstr("19470603")));
  EXPECT_THAT(log, Not(HasSubstr("group-token")));
  // The audit trail: the group's calls and every notification sent to its endpoint (origin only).
  const auto audit =
      run_process({bin, "audit", "list", "--data-dir", su.data_dir.string(), "--json"});
  EXPECT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_THAT(audit.out, HasSubstr("st-brigid-pcp"));
  EXPECT_THAT(audit.out, HasSubstr("handshake"));
  EXPECT_THAT(audit.out, HasSubstr("event-notification"));
  EXPECT_THAT(audit.out, HasSubstr("https://127.0.0.1:" + std::to_string(mine.port)));
  EXPECT_THAT(audit.out, Not(HasSubstr("/hook")));
  EXPECT_THAT(audit.out, Not(HasSubstr("Doherty")));
  mine.proc->signal(SIGTERM);
  theirs.proc->signal(SIGTERM);
  dump_received(mine, "serve-mine");
  dump_received(theirs, "serve-theirs");
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
  dump_received(back, "restart");
}

}  // namespace
