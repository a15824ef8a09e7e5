// The notifier over real loopback TLS (dev CA): a subscription is handshaken and becomes active;
// the outbox's alerts, fanned out, arrive at the group's endpoint as backport event-notification
// Bundles, in event-number order, batched by maxCount, with the channel's headers; another
// group's subscriber receives nothing of them; a subscriber that refuses puts its subscription in
// error (events go on being counted); set back to requested it is handshaken again and gets what
// it missed; a subscriber that is down for a while gets everything once it is back.
#include "adapters/notify/notifier.hpp"
#include "gateway/alerts/fan_out.hpp"
#include "gateway/store/sqlite_store.hpp"
#include "tests/e2e/process.hpp"
#include "tests/integration/subscriber.hpp"
#include "tests/support/settled_message.hpp"

#include <boost/asio/executor_work_guard.hpp>

#include <future>
#include <mutex>
#include <regex>

namespace {

using namespace carebridge;
using namespace carebridge::test_http;
using carebridge::test::settle_message;
namespace notify = carebridge::adapters::notify;
namespace store = carebridge::gateway::store;
namespace alerts = carebridge::gateway::alerts;
using ::testing::HasSubstr;
using ::testing::Not;

std::string subscription_json(const std::string& endpoint, unsigned max_count = 1) {
  return R"({"resourceType":"Subscription","status":"requested","reason":"test",
    "criteria":"https://carebridge.example/fhir/SubscriptionTopic/readmission-risk",
    "channel":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-max-count","valuePositiveInt":)" +
         std::to_string(max_count) + R"(}],
      "type":"rest-hook","endpoint":")" +
         endpoint + R"(","payload":"application/fhir+json",
      "header":["Authorization: Bearer group-token"]}})";
}

template <class Op>
bool wait(Op op) {
  std::promise<bool> p;
  op([&p](bool ok) { p.set_value(ok); });
  return p.get_future().get();
}

// Until `pred` holds or patience runs out; passes of the notifier and the fan-out run meanwhile.
template <class Pred>
bool eventually(notify::notifier& n, alerts::fan_out& f, Pred pred) {
  const auto end = steady::now() + patience;
  while (steady::now() < end) {
    f.run_once();
    n.run_once();
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// The gateway side: store, fan-out, notifier (its client trusts the dev CA), an io_context.
struct gateway_side {
  test::temp_dir dir;
  std::unique_ptr<store::sqlite_store> db = store::sqlite_store::open(dir.path(), {});
  gateway::obs::registry metrics;
  boost::asio::io_context ioc;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard =
      boost::asio::make_work_guard(ioc);
  std::unique_ptr<notify::notifier> n;
  alerts::fan_out f{*db, *db};
  std::thread io;
  int next_control = 0;

  explicit gateway_side(std::function<void(const notify::delivery_record&)> on_attempt = {}) {
    notify::notifier_options o;
    o.on_attempt = std::move(on_attempt);
    o.base_url = "https://gw.example.org/fhir";
    o.client.ca_file = cert("ca.crt");
    o.client.attempt_timeout = 10s;
    o.worker.failure_threshold = 3;
    o.worker.backoff.base = 10ms;
    o.worker.backoff.cap = 50ms;
    n = std::make_unique<notify::notifier>(ioc, *db, *db, metrics, o);
    io = std::thread([this] { ioc.run(); });
  }
  ~gateway_side() {
    n->stop();
    guard.reset();
    io.join();
    db->close();
  }
  void subscribe(const std::string& id, const std::string& group, const std::string& json) {
    store::subscription_row r;
    r.id = id;
    r.group_id = group;
    r.topic = "https://carebridge.example/fhir/SubscriptionTopic/readmission-risk";
    r.status = "requested";
    r.json = json;
    ASSERT_TRUE(wait([&](auto d) { db->save_subscription(r, d); }));
  }
  void alert(const std::string& group, const std::string& patient) {
    store::processing_result pr;
    store::alert_row a;
    a.kind = "alert";
    a.event_kind = "discharge";
    a.group_id = group;
    a.patient_id = patient;
    a.encounter_id = "enc-" + patient;
    a.risk_assessment_id = "ra-" + patient;
    a.task_id = "task-" + patient;
    a.risk_band = "high";
    pr.alerts.push_back(a);
    ASSERT_NE(settle_message(*db, "N" + std::to_string(next_control++), pr), 0);
  }
  std::string status(const std::string& id) { return db->subscription(id)->status; }
};

// The event numbers of the event-notification Bundles a subscriber received, in arrival order.
std::vector<int> event_numbers(const subscriber& s) {
  std::vector<int> out;
  static const std::regex number(R"re("name":"event-number","valueString":"([0-9]+)")re");
  for (const auto& body : s.bodies()) {
    if (body.find("\"event-notification\"") == std::string::npos) continue;
    for (std::sregex_iterator it(body.begin(), body.end(), number), end; it != end; ++it)
      out.push_back(std::stoi((*it)[1]));
  }
  return out;
}

TEST(Notifier, HandshakeThenEventsInOrderOnlyToTheirGroup) {
  gateway_side g;
  subscriber mine, theirs;
  g.subscribe("sub-g1", "G1", subscription_json(mine.url(), 2));
  g.subscribe("sub-g2", "G2", subscription_json(theirs.url()));
  ASSERT_TRUE(eventually(*g.n, g.f, [&] { return g.status("sub-g1") == "active"; }));
  ASSERT_TRUE(eventually(*g.n, g.f, [&] { return g.status("sub-g2") == "active"; }));
  ASSERT_GE(mine.requests().size(), 1u);
  const seen hs = mine.requests()[0];
  EXPECT_THAT(hs.body, HasSubstr("\"handshake\""));
  EXPECT_EQ(hs.header("authorization"), "Bearer group-token");
  EXPECT_THAT(hs.header("content-type"), HasSubstr("application/fhir+json"));

  for (int i = 0; i < 5; ++i) g.alert("G1", "p" + std::to_string(i));
  ASSERT_TRUE(eventually(*g.n, g.f, [&] {
    return g.db->subscription("sub-g1")->delivered_through == 5;
  }));
  EXPECT_EQ(event_numbers(mine), (std::vector<int>{1, 2, 3, 4, 5}));
  // maxCount 2: five events in three notifications.
  std::size_t notifications = 0;
  for (const auto& b : mine.bodies()) notifications += b.find("\"event-notification\"") != std::string::npos;
  EXPECT_EQ(notifications, 3u);
  const std::string first = mine.bodies()[1];
  EXPECT_THAT(first, HasSubstr("https://gw.example.org/fhir/RiskAssessment/ra-p0"));
  EXPECT_THAT(first, HasSubstr("\"events-since-subscription-start\""));
  // G2's subscriber had its handshake and nothing of G1's.
  for (const auto& b : theirs.bodies()) {
    EXPECT_THAT(b, Not(HasSubstr("event-notification")));
    EXPECT_THAT(b, Not(HasSubstr("ra-p")));
  }
}

// An admission alert on the attributed-admission topic over the Da Vinci message channel: no
// handshake, one notification-admit message to [base]/$process-message with the Encounter, the
// Patient and the Task bundled; a discharge subscription of the same group gets nothing of it.
TEST(Notifier, AdmissionAlertsGoAsDaVinciAdmitMessages) {
  gateway_side g;
  subscriber_options da_vinci;
  da_vinci.path = "/fhir/$process-message";
  subscriber recipient(da_vinci), discharges;
  g.subscribe("adm-g1", "G1",
              R"({"resourceType":"Subscription","status":"requested","reason":"t",
    "criteria":"https://carebridge.example/fhir/SubscriptionTopic/attributed-admission",
    "channel":{"type":"message","endpoint":")" +
                  recipient.url("/fhir") + R"(","payload":"application/fhir+json"}})");
  g.subscribe("dis-g1", "G1", subscription_json(discharges.url()));
  ASSERT_TRUE(eventually(
      *g.n, g.f, [&] { return g.status("adm-g1") == "active" && g.status("dis-g1") == "active"; }));

  store::processing_result pr;
  pr.resources = {
      {"Patient", "p1", R"({"resourceType":"Patient","id":"p1"})", false},
      {"Encounter", "enc-p1",
       R"({"resourceType":"Encounter","id":"enc-p1","status":"in-progress","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},"subject":{"reference":"Patient/p1"}})",
       false},
      {"Task", "task-p1",
       R"({"resourceType":"Task","id":"task-p1","status":"requested","intent":"order","for":{"reference":"Patient/p1"},"encounter":{"reference":"Encounter/enc-p1"}})",
       true}};
  store::alert_row a;
  a.kind = "alert";
  a.event_kind = "admission";
  a.group_id = "G1";
  a.patient_id = "p1";
  a.encounter_id = "enc-p1";
  a.task_id = "task-p1";
  pr.alerts.push_back(a);
  ASSERT_NE(settle_message(*g.db, "ADM1", pr, "ADT^A01"), 0);

  ASSERT_TRUE(
      eventually(*g.n, g.f, [&] { return g.db->subscription("adm-g1")->delivered_through == 1; }));
  const auto got = recipient.requests();
  ASSERT_EQ(got.size(), 1u);  // no handshake on the message channel
  EXPECT_EQ(got[0].target, "/fhir/$process-message");
  EXPECT_THAT(got[0].body, HasSubstr(R"("code":"notification-admit")"));
  EXPECT_THAT(got[0].body, HasSubstr("admit-notification-messageheader"));
  EXPECT_THAT(got[0].body,
              HasSubstr(R"("fullUrl":"https://gw.example.org/fhir/Encounter/enc-p1")"));
  EXPECT_THAT(got[0].body, HasSubstr(R"("fullUrl":"https://gw.example.org/fhir/Task/task-p1")"));
  EXPECT_THAT(got[0].body, HasSubstr(R"("fullUrl":"https://gw.example.org/fhir/Patient/p1")"));
  for (const auto& b : discharges.bodies()) EXPECT_THAT(b, Not(HasSubstr("event-notification")));
  EXPECT_EQ(g.db->subscription("dis-g1")->events_since_start, 0);
}

TEST(Notifier, RefusedGoesToErrorAndReactivationCatchesUp) {
  gateway_side g;
  subscriber hook({}, [](const seen&, std::size_t n) -> std::optional<rest::http_response> {
    // The handshake passes; then the endpoint refuses (a 400 is not retried).
    return rest::http_response{n == 0 ? 200u : 400u, "application/fhir+json", "{}"};
  });
  g.subscribe("sub", "G1", subscription_json(hook.url()));
  ASSERT_TRUE(eventually(*g.n, g.f, [&] { return g.status("sub") == "active"; }));
  g.alert("G1", "a");
  ASSERT_TRUE(eventually(*g.n, g.f, [&] { return g.status("sub") == "error"; }));
  EXPECT_THAT(g.db->subscription("sub")->error, HasSubstr("error-response"));
  EXPECT_THAT(g.db->subscription("sub")->error, HasSubstr("400"));
  // In error, events are still counted, and nothing is sent.
  g.alert("G1", "b");
  const std::size_t sent = hook.requests().size();
  ASSERT_TRUE(eventually(*g.n, g.f, [&] {
    return g.db->subscription("sub")->events_since_start == 2;
  }));
  EXPECT_EQ(hook.requests().size(), sent);
  EXPECT_EQ(g.db->subscription("sub")->delivered_through, 0);

  // The endpoint is fixed and the client sets the subscription back to requested.
  hook.set_answer({});
  auto row = *g.db->subscription("sub");
  row.status = "requested";
  ASSERT_TRUE(wait([&](auto d) { g.db->save_subscription(row, d); }));
  ASSERT_TRUE(eventually(*g.n, g.f, [&] {
    return g.db->subscription("sub")->delivered_through == 2;
  }));
  EXPECT_EQ(g.status("sub"), "active");
  const auto bodies = hook.bodies();
  ASSERT_GE(bodies.size(), sent + 3);
  EXPECT_THAT(bodies[sent], HasSubstr("\"handshake\""));  // the handshake again comes first
  const auto numbers = event_numbers(hook);
  ASSERT_GE(numbers.size(), 2u);
  EXPECT_EQ(std::vector<int>(numbers.end() - 2, numbers.end()), (std::vector<int>{1, 2}));
}

// Every finished attempt reaches the on_attempt observer with its ids, kind, events, outcome,
// HTTP status and attempt number, and the per-subscription series count it.
TEST(Notifier, OnAttemptRecordsEveryAttemptAndPerSubscriptionMetrics) {
  std::mutex mu;
  std::vector<notify::delivery_record> records;
  gateway_side g([&](const notify::delivery_record& r) {
    std::lock_guard lock(mu);
    records.push_back(r);
  });
  subscriber hook({}, [](const seen&, std::size_t n) -> std::optional<rest::http_response> {
    // The handshake passes; the first event notification gets a 503 (retried), then 200.
    return rest::http_response{n == 1 ? 503u : 200u, "application/fhir+json", "{}"};
  });
  g.subscribe("sub-obs", "G7", subscription_json(hook.url(), 5));
  ASSERT_TRUE(eventually(*g.n, g.f, [&] { return g.status("sub-obs") == "active"; }));
  g.alert("G7", "x");
  ASSERT_TRUE(eventually(*g.n, g.f, [&] {
    return g.db->subscription("sub-obs")->delivered_through == 1;
  }));
  std::vector<notify::delivery_record> seen_records;
  {
    std::lock_guard lock(mu);
    seen_records = records;
  }
  ASSERT_GE(seen_records.size(), 3u);
  const auto& hs = seen_records[0];
  EXPECT_EQ(hs.subscription_id, "sub-obs");
  EXPECT_EQ(hs.group_id, "G7");
  EXPECT_EQ(hs.what, notify::delivery_record::kind::handshake);
  EXPECT_EQ(hs.outcome, notify::delivery_record::result::delivered);
  EXPECT_EQ(hs.http_status, 200u);
  EXPECT_EQ(hs.attempt, 1u);
  const auto& failed = seen_records[1];
  EXPECT_EQ(failed.what, notify::delivery_record::kind::event_notification);
  EXPECT_EQ(failed.outcome, notify::delivery_record::result::failed);
  EXPECT_EQ(failed.http_status, 503u);
  EXPECT_EQ(notify::code_of(failed.error), "error-response");
  EXPECT_EQ(failed.first_event, 1);
  EXPECT_EQ(failed.last_event, 1);
  EXPECT_EQ(failed.attempt, 1u);
  const auto& retried = seen_records[2];
  EXPECT_EQ(retried.outcome, notify::delivery_record::result::delivered);
  EXPECT_EQ(retried.attempt, 2u);
  EXPECT_EQ(retried.first_event, 1);
  EXPECT_EQ(notify::to_string(retried.what), "event-notification");
  EXPECT_EQ(notify::to_string(failed.outcome), "failed");

  const std::string m = g.metrics.expose();
  EXPECT_THAT(m, HasSubstr("carebridge_notify_subscription_delivered_total{group=\"G7\","
                           "subscription=\"sub-obs\",kind=\"event-notification\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("carebridge_notify_subscription_delivered_total{group=\"G7\","
                           "subscription=\"sub-obs\",kind=\"handshake\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("carebridge_notify_subscription_failed_attempts_total{group=\"G7\","
                           "subscription=\"sub-obs\",code=\"error-response\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("carebridge_notify_subscription_retries_total{group=\"G7\","
                           "subscription=\"sub-obs\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("carebridge_notify_attempt_seconds_count{group=\"G7\","
                           "outcome=\"delivered\"} 2\n"));
}

TEST(Notifier, ASubscriberDownForAWhileGetsEverythingInOrder) {
  gateway_side g;
  std::atomic<bool> down{false};
  subscriber hook({}, [&down](const seen&, std::size_t) -> std::optional<rest::http_response> {
    return rest::http_response{down ? 503u : 200u, "application/fhir+json", "{}"};
  });
  g.subscribe("sub", "G1", subscription_json(hook.url(), 1));
  ASSERT_TRUE(eventually(*g.n, g.f, [&] { return g.status("sub") == "active"; }));
  down = true;
  for (int i = 0; i < 4; ++i) g.alert("G1", "d" + std::to_string(i));
  // 503s are retried (failure threshold 3 in this test, then error): come back before that.
  ASSERT_TRUE(eventually(*g.n, g.f, [&] { return hook.requests().size() >= 2; }));
  down = false;
  ASSERT_TRUE(eventually(*g.n, g.f, [&] {
    const auto s = g.db->subscription("sub");
    return s->delivered_through == 4 || s->status == "error";
  }));
  if (g.status("sub") == "error") {  // the retries ran out first: reactivate, as a client would
    auto row = *g.db->subscription("sub");
    row.status = "requested";
    ASSERT_TRUE(wait([&](auto d) { g.db->save_subscription(row, d); }));
    ASSERT_TRUE(eventually(*g.n, g.f, [&] {
      return g.db->subscription("sub")->delivered_through == 4;
    }));
  }
  // Every event arrived; the delivered ones in order, no gaps.
  auto numbers = event_numbers(hook);
  std::vector<int> delivered;
  for (int n : numbers)
    if (delivered.empty() || n > delivered.back()) delivered.push_back(n);
  EXPECT_EQ(delivered, (std::vector<int>{1, 2, 3, 4}));
}

}  // namespace
