// Alert delivery faults end to end, through the real `carebridge serve`: a group's endpoint
// (deploy/demo_subscriber.py over HTTPS) misbehaves — 500s, a 429 with Retry-After, a hang past the
// Subscription's backport-timeout, a permanent 400 — while a stay and a repeated discharge raise
// events 1 and 2 of its Subscription. After each fault every event arrives, in event-number order,
// without gaps (repeats only as at-least-once resends), and the Subscription ends active; after
// the permanent refusal it is in error (shown by $status) until its client sets it back to
// requested, and then the handshake and the missed events arrive. The config's small backoff
// (notify.backoff_initial_ms/backoff_max_ms) keeps the suite fast; waits are polls whose patience
// (30 s) only notices hangs, and times are asserted from below, or as "before a deadline that
// must not have applied".
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

const std::string fast_backoff = R"(, "backoff_initial_ms": 50, "backoff_max_ms": 200)";
constexpr int events = 2;  // the stay's discharge, and the discharge sent again

// One attempt of the endpoint (a line of demo_subscriber.py --attempts).
struct attempt {
  double t = 0;        // monotonic seconds
  std::string type;    // notification type
  std::string events;  // "1", "1,2", "" (the JSON array's contents, unquoted)
  std::string answer;  // "200", "500", "hang", ...
};

std::vector<attempt> attempts_of(const endpoint& e, const std::string& type = "event-notification") {
  static const std::regex re(
      R"re("t":([0-9.e+-]+),"type":"([a-z-]+)","events":\[([^\]]*)\],"answer":"?([0-9a-z]+)"?)re");
  std::vector<attempt> out;
  for (const auto& line : e.attempt_lines()) {
    std::smatch m;
    if (!std::regex_search(line, m, re) || m[2] != type) continue;
    std::string numbers = m[3];
    numbers.erase(std::remove(numbers.begin(), numbers.end(), '"'), numbers.end());
    out.push_back({std::stod(m[1]), m[2], numbers, m[4]});
  }
  return out;
}

std::string describe(const std::vector<attempt>& as) {
  std::string s;
  for (const auto& a : as) s += a.answer + "[" + a.events + "] ";
  return s;
}

// The A03 of the stay again under another message control id (MSH-10): another discharge alert.
std::string with_control_id(const std::string& file, const std::string& control_id) {
  std::string m = slurp(file);
  std::size_t pos = 0;
  for (int bars = 0; bars < 9; ++bars) pos = m.find('|', pos) + 1;
  return m.substr(0, pos) + control_id + m.substr(m.find('|', pos));
}

// A gateway, one misbehaving endpoint and one active Subscription of G-SB to it.
struct scenario {
  setup su{fast_backoff};
  std::unique_ptr<endpoint> ep;
  std::unique_ptr<background_process> gw;
  int mllp = 0;
  std::string base;
  std::string id;

  // Starts everything; check with ASSERT_NO_FATAL_FAILURE.
  void start(const std::string& endpoint_options, const std::string& channel_extensions = {}) {
    ep = std::make_unique<endpoint>(su.dir.path(), "endpoint", su.certs, 0, endpoint_options);
    ASSERT_GT(ep->port, 0) << ep->proc->log();
    gw = su.serve("gateway.log", mllp, base);
    ASSERT_GT(mllp, 0) << gw->log();
    const auto created = http("127.0.0.1", "POST", base + "/Subscription",
                              subscription(ep->url(), channel_extensions));
    ASSERT_THAT(created.out, HasSubstr("\n201")) << created.out;
    id = id_of(created.out);
    ASSERT_FALSE(id.empty()) << created.out;
    ASSERT_TRUE(becomes(base, id, "active")) << gw->log() << ep->proc->log();
  }
  // The stay (A01, A03): event 1.
  void send_stay() {
    const auto sent = run_process({bin, "send", "127.0.0.1:" + std::to_string(mllp),
                                   data + "/hl7/adt/stbrigid_v24_A01_02.hl7",
                                   data + "/hl7/adt/stbrigid_v24_A03_03.hl7"});
    ASSERT_EQ(sent.exit_code, 0) << sent.err;
  }
  // The discharge again: event 2.
  void send_again() {
    const auto again = su.dir / "again.hl7";
    write_file(again, with_control_id(data + "/hl7/adt/stbrigid_v24_A03_03.hl7", "FAULTS0002"));
    const auto sent =
        run_process({bin, "send", "127.0.0.1:" + std::to_string(mllp), again.string()});
    ASSERT_EQ(sent.exit_code, 0) << sent.err;
  }
  std::string status() const {
    return http("127.0.0.1", "GET", base + "/Subscription/" + id + "/$status").out;
  }
  // Whether $status counts `n` events since the start (30 s at most).
  bool numbered(int n) const {
    const std::string want = R"("name":"events-since-subscription-start","valueString":")" +
                             std::to_string(n) + "\"";
    for (int i = 0; i < 1500; ++i) {
      if (status().find(want) != std::string::npos) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  // Every event delivered in order without gaps, the subscription active, no PHI in the log; the
  // gateway stopped; what the endpoint received dumped for subscriptions_check.mjs.
  void finish(const std::string& label) {
    ASSERT_TRUE(ep->wait_for_events(events)) << gw->log() << ep->proc->log();
    EXPECT_EQ(in_order_without_gaps(ep->event_numbers(), events), "");
    EXPECT_TRUE(becomes(base, id, "active")) << status();
    EXPECT_TRUE(numbered(events)) << status();
    gw->signal(SIGTERM);
    EXPECT_EQ(gw->wait_for_exit(20s), 0);
    const std::string log = gw->log();
    EXPECT_THAT(log, Not(HasSubstr("Doherty")));
    // The birth date in either form (a bare "1947" can occur inside a timestamp).
    EXPECT_THAT(log, Not(HasSubstr("1947-06-03")));
    EXPECT_THAT(log, Not(HasSubstr("19470603")));
    EXPECT_THAT(log, Not(HasSubstr("group-token")));
    ep->proc->signal(SIGTERM);
    dump_received(*ep, label);
  }
};

TEST(AlertsFaults, ServerErrorsAreRetriedUntilDeliveredInOrder) {
  scenario s;
  ASSERT_NO_FATAL_FAILURE(s.start("--fail-first 3 --fail-status 500"));
  ASSERT_NO_FATAL_FAILURE(s.send_stay());
  ASSERT_TRUE(s.numbered(1)) << s.gw->log();
  ASSERT_NO_FATAL_FAILURE(s.send_again());
  ASSERT_NO_FATAL_FAILURE(s.finish("fault-500"));
  // Event 1 was refused three times, then taken; nothing overtook it.
  const auto as = attempts_of(*s.ep);
  ASSERT_GE(as.size(), 5u) << describe(as);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(as[i].answer, "500") << describe(as);
    EXPECT_EQ(as[i].events, "1") << describe(as);
  }
  EXPECT_EQ(as[3].answer, "200") << describe(as);
  EXPECT_EQ(as[3].events, "1") << describe(as);
}

TEST(AlertsFaults, TooManyRequestsWaitsForRetryAfter) {
  scenario s;
  ASSERT_NO_FATAL_FAILURE(s.start("--fail-first 1 --fail-status 429 --retry-after 1"));
  ASSERT_NO_FATAL_FAILURE(s.send_stay());
  ASSERT_NO_FATAL_FAILURE(s.send_again());
  ASSERT_NO_FATAL_FAILURE(s.finish("fault-429"));
  const auto as = attempts_of(*s.ep);
  ASSERT_GE(as.size(), 2u) << describe(as);
  EXPECT_EQ(as[0].answer, "429") << describe(as);
  EXPECT_EQ(as[1].events, as[0].events) << describe(as);  // the same notification again
  EXPECT_EQ(as[1].answer, "200") << describe(as);
  // Retry-After: 1 honoured (the backoff alone is at most 200 ms here); a bound from below only.
  EXPECT_GE(as[1].t - as[0].t, 0.9) << describe(as);
}

TEST(AlertsFaults, HangPastTheSubscriptionTimeoutIsRetried) {
  scenario s;
  // The endpoint holds the first event-notification 20 s; the Subscription allows 1 s an attempt
  // (the gateway's own default is 30 s).
  ASSERT_NO_FATAL_FAILURE(s.start(
      "--hang-first 1 --hang-seconds 20",
      R"({"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-timeout","valueUnsignedInt":1})"));
  EXPECT_THAT(http("127.0.0.1", "GET", s.base + "/Subscription/" + s.id).out,
              HasSubstr("backport-timeout"));
  ASSERT_NO_FATAL_FAILURE(s.send_stay());
  ASSERT_NO_FATAL_FAILURE(s.send_again());
  ASSERT_NO_FATAL_FAILURE(s.finish("fault-hang"));
  const auto as = attempts_of(*s.ep);
  ASSERT_GE(as.size(), 2u) << describe(as);
  EXPECT_EQ(as[0].answer, "hang") << describe(as);
  EXPECT_EQ(as[0].events, "1") << describe(as);
  EXPECT_EQ(as[1].answer, "200") << describe(as);
  EXPECT_EQ(as[1].events, "1") << describe(as);
  // Given up after the Subscription's timeout: not sooner, and before the endpoint let go of the
  // hung request (20 s) — not a speed bound: without the timeout the retry could not come earlier.
  EXPECT_GE(as[1].t - as[0].t, 0.9) << describe(as);
  EXPECT_LT(as[1].t - as[0].t, 20.0) << describe(as);
}

TEST(AlertsFaults, PermanentRefusalErrorsUntilTheClientReactivates) {
  scenario s;
  ASSERT_NO_FATAL_FAILURE(s.start("--fail-first 1 --fail-status 400"));
  ASSERT_NO_FATAL_FAILURE(s.send_stay());
  ASSERT_TRUE(becomes(s.base, s.id, "error")) << s.gw->log() << s.ep->proc->log();
  // $status says so, with the IG's error code.
  std::string st = s.status();
  EXPECT_THAT(st, HasSubstr(R"("name":"status","valueCode":"error")")) << st;
  EXPECT_THAT(st, HasSubstr("error-response")) << st;
  // Events go on being numbered while nothing is sent.
  ASSERT_NO_FATAL_FAILURE(s.send_again());
  ASSERT_TRUE(s.numbered(events)) << s.status();
  std::this_thread::sleep_for(300ms);  // a resend in error would have arrived by now
  auto as = attempts_of(*s.ep);
  ASSERT_EQ(as.size(), 1u) << describe(as);  // a refusal is not retried
  EXPECT_EQ(as[0].answer, "400");
  EXPECT_TRUE(s.ep->event_numbers().empty());

  // The client sets it back to requested (the Subscription as read, headers masked).
  std::string sub = http("127.0.0.1", "GET", s.base + "/Subscription/" + s.id).out;
  sub = sub.substr(0, sub.rfind('\n'));
  const auto at = sub.find(R"("status":"error")");
  ASSERT_NE(at, std::string::npos) << sub;
  sub.replace(at, 16, R"("status":"requested")");
  const auto put = http("127.0.0.1", "PUT", s.base + "/Subscription/" + s.id, sub);
  ASSERT_THAT(put.out, HasSubstr("\n200")) << put.out;
  ASSERT_NO_FATAL_FAILURE(s.finish("fault-refusal"));
  // A second handshake, then the missed events.
  int handshakes = 0;
  for (const auto& b : s.ep->bundles()) handshakes += type_of(b) == "handshake";
  EXPECT_EQ(handshakes, 2);
  as = attempts_of(*s.ep);
  ASSERT_GE(as.size(), 3u) << describe(as);
  EXPECT_EQ(as[1].answer, "200");
  EXPECT_EQ(as[1].events.substr(0, 1), "1") << describe(as);
}

}  // namespace
