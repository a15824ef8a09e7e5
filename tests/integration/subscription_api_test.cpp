// FHIR Subscriptions over real loopback TLS (dev CA, client certificates): create, read, search,
// update, delete, $status and $events, scoped to the caller's physician group — another group's
// subscription is 404, a client that is no group's is 403 —, refusals as OperationOutcomes that
// never echo header values, masked headers kept on update, the topics as Basic, and the
// CapabilityStatement's Subscription entry.
#include "adapters/fhir_rest/fhir_api.hpp"
#include "adapters/fhir_rest/http_server.hpp"
#include "adapters/fhir_rest/subscription_api.hpp"
#include "gateway/alerts/fan_out.hpp"
#include "gateway/store/sqlite_store.hpp"
#include "tests/e2e/process.hpp"
#include "tests/integration/http_client.hpp"

#include <boost/asio/io_context.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <future>
#include <map>
#include <thread>

namespace {

using namespace carebridge;
using namespace carebridge::test_http;
namespace store = carebridge::gateway::store;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string sd = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/";

std::string subscription(std::string_view topic = "readmission-risk",
                         std::string_view header = "Authorization: Bearer t0p-s3cret") {
  return R"({"resourceType":"Subscription","status":"requested","reason":"coordinators",
    "criteria":"https://carebridge.example/fhir/SubscriptionTopic/)" +
         std::string(topic) + R"(",
    "channel":{"type":"rest-hook","endpoint":"https://care.example.org/hook",
      "payload":"application/fhir+json",
      "_payload":{"extension":[{"url":")" +
         sd + R"(backport-payload-content","valueCode":"id-only"}]},
      "header":[")" + std::string(header) + R"("]}})";
}

// client-mercy acts for G1, client-other for G2; a caller without a certificate is nobody's client.
std::optional<std::string> group_of(const gateway::ingest::connection_info& c) {
  for (const auto& n : c.certificate_names) {
    if (n == "mercy-engine") return "G1";
    if (n == "other-engine") return "G2";
  }
  return std::nullopt;
}

// Store + HTTPS server with the FHIR API (the group read policy) and the group routes.
class server {
 public:
  server() {
    store_ = store::sqlite_store::open(dir_.path(), {});
    adapters::fhir_rest::http_options ho;
    ho.host = "127.0.0.1";
    ho.port = 0;
    ho.tls = adapters::tls::server_options{(certs_dir() / "server.crt").string(),
                                           (certs_dir() / "server.key").string(),
                                           (certs_dir() / "ca.crt").string(), false};
    http_ = std::make_unique<adapters::fhir_rest::http_server>(ioc_, metrics_, ho);
    adapters::fhir_rest::fhir_api_options fo;
    fo.advertise_subscriptions = true;
    fo.can_read = adapters::fhir_rest::group_read_policy(group_of, *store_);
    adapters::fhir_rest::register_fhir_api(
        *http_, {*store_, policy_, facilities_, metrics_, ioc_.get_executor(), {}}, std::move(fo));
    adapters::fhir_rest::subscription_api_options so;
    so.group_of = group_of;
    so.base_url = "https://gw.example.org/fhir";
    so.changed = [this] { ++changes; };
    adapters::fhir_rest::register_subscription_api(*http_, *store_, *store_, std::move(so));
    port_ = http_->bind().port();
    http_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~server() {
    http_->stop(std::chrono::milliseconds(200));
    thread_.join();
    store_->close();
  }
  reply as(const std::string& cert, const std::string& method, const std::string& target,
           const std::string& body = {}) {
    return call_tls(port_, cert, method, target, body);
  }
  store::sqlite_store& db() { return *store_; }
  std::uint16_t port() const { return port_; }
  std::atomic<int> changes{0};

 private:
  test::temp_dir dir_;
  gateway::obs::registry metrics_;
  gateway::ingest::sender_policy policy_;
  std::map<std::string, mappings::fhir::sender_profile, std::less<>> facilities_;
  std::unique_ptr<store::sqlite_store> store_;
  asio::io_context ioc_;
  std::unique_ptr<adapters::fhir_rest::http_server> http_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

std::string id_of(const reply& r) {
  auto d = json(r.body);
  return d.IsObject() && d.HasMember("id") ? d["id"].GetString() : "";
}

TEST(SubscriptionApi, CreateReadSearchScopedToTheCallersGroup) {
  server s;
  const reply created = s.as("client-mercy", "POST", "/fhir/Subscription", subscription());
  ASSERT_EQ(created.status, 201u) << created.body;
  const std::string id = id_of(created);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(created.header("location"), "https://gw.example.org/fhir/Subscription/" + id);
  EXPECT_GE(s.changes.load(), 1);
  auto d = json(created.body);
  EXPECT_STREQ(d["status"].GetString(), "requested");
  EXPECT_STREQ(d["criteria"].GetString(),
               "https://carebridge.example/fhir/SubscriptionTopic/readmission-risk");
  EXPECT_THAT(created.body, Not(HasSubstr("t0p-s3cret")));  // header values are masked
  EXPECT_THAT(created.body, HasSubstr("Authorization: ***"));
  EXPECT_EQ(s.db().subscription(id)->group_id, "G1");

  // The owner reads it; another group is told it does not exist; nobody's client is refused.
  EXPECT_EQ(s.as("client-mercy", "GET", "/fhir/Subscription/" + id).status, 200u);
  expect_outcome(s.as("client-other", "GET", "/fhir/Subscription/" + id), 404, "not-found");
  expect_outcome(s.as("", "GET", "/fhir/Subscription/" + id), 403, "forbidden");
  expect_outcome(s.as("", "POST", "/fhir/Subscription", subscription()), 403, "forbidden");

  // Search: only the caller's own.
  ASSERT_EQ(s.as("client-other", "POST", "/fhir/Subscription",
                 subscription("attributed-discharge")).status,
            201u);
  auto mine = json(s.as("client-mercy", "GET", "/fhir/Subscription").body);
  EXPECT_STREQ(mine["type"].GetString(), "searchset");
  ASSERT_EQ(mine["entry"].Size(), 1u);
  EXPECT_EQ(std::string(mine["entry"][0]["resource"]["id"].GetString()), id);
  EXPECT_EQ(json(s.as("client-mercy", "GET", "/fhir/Subscription?status=active").body)["total"]
                .GetInt(),
            0);
  const reply theirs = s.as("client-other", "GET", "/fhir/Subscription");
  EXPECT_EQ(json(theirs.body)["total"].GetInt(), 1) << theirs.body;
}

TEST(SubscriptionApi, RefusalsAreOperationOutcomesWithoutValues) {
  server s;
  const reply bad_topic = s.as(
      "client-mercy", "POST", "/fhir/Subscription",
      subscription("no-such-topic", "Authorization: Bearer t0p-s3cret"));
  EXPECT_EQ(bad_topic.status, 422u) << bad_topic.body;
  EXPECT_THAT(bad_topic.body, HasSubstr("OperationOutcome"));
  EXPECT_THAT(bad_topic.body, Not(HasSubstr("t0p-s3cret")));
  std::string http_endpoint = subscription();
  const std::string https_endpoint = "https://care.example.org";
  http_endpoint.replace(http_endpoint.find(https_endpoint), https_endpoint.size(),
                        "http://care.example.org");
  const reply insecure = s.as("client-mercy", "POST", "/fhir/Subscription", http_endpoint);
  EXPECT_EQ(insecure.status, 422u) << insecure.body;
  EXPECT_THAT(insecure.body, HasSubstr("channel.endpoint"));
  EXPECT_EQ(s.as("client-mercy", "POST", "/fhir/Subscription", "{not json").status, 400u);
  EXPECT_TRUE(s.db().subscriptions().empty());
}

TEST(SubscriptionApi, UpdateKeepsMaskedHeadersAndDeleteRemoves) {
  server s;
  const std::string id =
      id_of(s.as("client-mercy", "POST", "/fhir/Subscription", subscription()));
  ASSERT_FALSE(id.empty());
  // The client sends back what it read (header masked), with another reason and status off.
  std::string body = s.as("client-mercy", "GET", "/fhir/Subscription/" + id).body;
  auto d = json(body);
  d["reason"].SetString("paused for the holidays");
  d["status"].SetString("off");
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  d.Accept(w);
  const reply updated = s.as("client-mercy", "PUT", "/fhir/Subscription/" + id, b.GetString());
  ASSERT_EQ(updated.status, 200u) << updated.body;
  EXPECT_STREQ(json(updated.body)["status"].GetString(), "off");
  const auto row = s.db().subscription(id);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->status, "off");
  EXPECT_THAT(row->json, HasSubstr("Authorization: Bearer t0p-s3cret"));  // kept, not "***"
  EXPECT_THAT(row->json, HasSubstr("paused for the holidays"));
  // Another group can neither update nor delete it; a body for another id is refused.
  expect_outcome(s.as("client-other", "PUT", "/fhir/Subscription/" + id, b.GetString()), 404,
                 "not-found");
  expect_outcome(s.as("client-other", "DELETE", "/fhir/Subscription/" + id), 404, "not-found");
  std::string other_id = b.GetString();
  other_id.replace(other_id.find(id), id.size(), "someone-else");
  EXPECT_EQ(s.as("client-mercy", "PUT", "/fhir/Subscription/" + id, other_id).status, 400u);
  EXPECT_EQ(s.as("client-mercy", "DELETE", "/fhir/Subscription/" + id).status, 204u);
  EXPECT_FALSE(s.db().subscription(id).has_value());
  EXPECT_EQ(s.as("client-mercy", "GET", "/fhir/Subscription/" + id).status, 404u);
}

TEST(SubscriptionApi, StatusAndEventsFromTheEventLog) {
  server s;
  const std::string id =
      id_of(s.as("client-mercy", "POST", "/fhir/Subscription", subscription()));
  ASSERT_FALSE(id.empty());
  // Two discharge alerts for G1 and one for G2 reach the outbox; the fan-out numbers them.
  for (int i = 0; i < 3; ++i) {
    store::inbound_record r;
    r.sending_application = "EPIC";
    r.sending_facility = "MERCY";
    r.control_id = "S" + std::to_string(i);
    r.message_type = "ADT^A03";
    r.ack_code = "AA";
    r.raw = "MSH|^~\\&|EPIC|MERCY|||||ADT^A03|" + r.control_id + "|P|2.5\r";
    std::promise<store::commit_result> c;
    s.db().submit(r, [&c](store::commit_result x) { c.set_value(std::move(x)); });
    store::processing_result pr;
    store::alert_row a;
    a.kind = "alert";
    a.event_kind = "discharge";
    a.group_id = i == 1 ? "G2" : "G1";
    a.patient_id = "p" + std::to_string(i);
    a.encounter_id = "e" + std::to_string(i);
    a.risk_assessment_id = "ra" + std::to_string(i);
    a.task_id = "t" + std::to_string(i);
    a.risk_band = "high";
    pr.alerts.push_back(a);
    std::promise<bool> settled;
    s.db().settle_processed(c.get_future().get().id, pr,
                            [&settled](bool ok) { settled.set_value(ok); });
    ASSERT_TRUE(settled.get_future().get());
  }
  gateway::alerts::fan_out f(s.db(), s.db());
  EXPECT_EQ(f.run_once().events, 2u);

  auto st = json(s.as("client-mercy", "GET", "/fhir/Subscription/" + id + "/$status").body);
  ASSERT_TRUE(st.IsObject());
  EXPECT_STREQ(st["type"].GetString(), "searchset");
  const std::string status_text = s.as("client-mercy", "GET", "/fhir/Subscription/$status").body;
  EXPECT_THAT(status_text, HasSubstr("\"events-since-subscription-start\""));
  EXPECT_THAT(status_text, HasSubstr("\"valueString\":\"2\""));
  expect_outcome(s.as("client-other", "GET", "/fhir/Subscription/" + id + "/$status"), 404,
                 "not-found");

  const reply events = s.as("client-mercy", "GET",
                            "/fhir/Subscription/" + id + "/$events?eventsSinceNumber=2");
  ASSERT_EQ(events.status, 200u) << events.body;
  auto ev = json(events.body);
  EXPECT_STREQ(ev["type"].GetString(), "history");
  EXPECT_THAT(events.body, HasSubstr("\"query-event\""));
  EXPECT_THAT(events.body, HasSubstr("RiskAssessment/ra2"));  // event 2 = the third entry
  EXPECT_THAT(events.body, Not(HasSubstr("RiskAssessment/ra0")));
  EXPECT_THAT(events.body, Not(HasSubstr("ra1")));  // G2's, never G1's
  expect_outcome(s.as("client-other", "GET", "/fhir/Subscription/" + id + "/$events"), 404,
                 "not-found");
  EXPECT_EQ(s.as("client-mercy", "GET", "/fhir/Subscription/" + id + "/$events?eventsSinceNumber=x")
                .status,
            400u);
}

TEST(SubscriptionApi, TopicsAndCapabilityStatement) {
  server s;
  const reply topic = s.as("client-mercy", "GET", "/fhir/Basic/readmission-risk");
  ASSERT_EQ(topic.status, 200u) << topic.body;
  EXPECT_STREQ(json(topic.body)["resourceType"].GetString(), "Basic");
  const reply admission = s.as("client-mercy", "GET", "/fhir/Basic/attributed-admission");
  ASSERT_EQ(admission.status, 200u) << admission.body;
  EXPECT_THAT(admission.body,
              HasSubstr("https://carebridge.example/fhir/SubscriptionTopic/attributed-admission"));
  EXPECT_EQ(s.as("client-mercy", "GET", "/fhir/Basic/nothing").status, 404u);
  const reply meta = s.as("client-mercy", "GET", "/fhir/metadata");
  ASSERT_EQ(meta.status, 200u);
  EXPECT_THAT(meta.body, HasSubstr("\"type\":\"Subscription\""));
  EXPECT_THAT(meta.body, HasSubstr(R"("type":"Task","interaction":[{"code":"read"},{"code":"update"}])"));
  EXPECT_THAT(meta.body, HasSubstr("capabilitystatement-subscriptiontopic-canonical"));
  EXPECT_THAT(meta.body,
              HasSubstr("https://carebridge.example/fhir/SubscriptionTopic/attributed-discharge"));
  EXPECT_THAT(meta.body,
              HasSubstr("https://carebridge.example/fhir/SubscriptionTopic/attributed-admission"));
}

// A settled message whose care stage made a follow-up Task for G1 (and its alert row).
void alert_with_task(store::sqlite_store& db, const std::string& control, const std::string& task,
                     const std::string& priority = "urgent") {
  store::inbound_record r;
  r.sending_application = "EPIC";
  r.sending_facility = "MERCY";
  r.control_id = control;
  r.message_type = "ADT^A03";
  r.ack_code = "AA";
  r.raw = "MSH|^~\\&|EPIC|MERCY|||||ADT^A03|" + control + "|P|2.5\r";
  std::promise<store::commit_result> c;
  db.submit(r, [&c](store::commit_result x) { c.set_value(std::move(x)); });
  store::processing_result pr;
  pr.resources.push_back(
      {"Task", task,
       R"({"resourceType":"Task","id":")" + task +
           R"(","status":"requested","intent":"order","priority":")" + priority +
           R"(","for":{"reference":"Patient/p-)" + task +
           R"("},"owner":{"identifier":{"system":"https://carebridge.example/fhir/sid/physician-group","value":"G1"}},"restriction":{"period":{"end":"2999-01-01"}}})",
       true});
  pr.resources.push_back({"Patient", "p-" + task, R"({"resourceType":"Patient","id":"p-)" + task + R"("})"});
  store::alert_row a;
  a.kind = "alert";
  a.event_kind = "discharge";
  a.group_id = "G1";
  a.patient_id = "p-" + task;
  a.encounter_id = "e-" + task;
  a.task_id = task;
  pr.alerts.push_back(a);
  std::promise<bool> settled;
  db.settle_processed(c.get_future().get().id, pr, [&settled](bool ok) { settled.set_value(ok); });
  ASSERT_TRUE(settled.get_future().get());
}

TEST(SubscriptionApi, AGroupReadsOnlyItsOwnAlertsResources) {
  server s;
  alert_with_task(s.db(), "R1", "t1");
  EXPECT_EQ(s.as("client-mercy", "GET", "/fhir/Task/t1").status, 200u);
  EXPECT_EQ(s.as("client-mercy", "GET", "/fhir/Patient/p-t1").status, 200u);
  // Another group: as if they did not exist.
  expect_outcome(s.as("client-other", "GET", "/fhir/Task/t1"), 404, "not-found");
  expect_outcome(s.as("client-other", "GET", "/fhir/Patient/p-t1"), 404, "not-found");
}

TEST(SubscriptionApi, AGroupUpdatesItsTaskAndTheFollowUpIsCounted) {
  server s;
  alert_with_task(s.db(), "T1", "t1");
  alert_with_task(s.db(), "T2", "t2", "routine");
  std::string body = R"({"resourceType":"Task","id":"t1","status":"in-progress",
      "businessStatus":{"text":"left a voicemail, called back"},
      "for":{"reference":"Patient/someone-else"}})";
  const reply updated = s.as("client-mercy", "PUT", "/fhir/Task/t1", body);
  ASSERT_EQ(updated.status, 200u) << updated.body;
  EXPECT_EQ(updated.header("etag"), "W/\"2\"");
  auto d = json(updated.body);
  EXPECT_STREQ(d["status"].GetString(), "in-progress");
  EXPECT_STREQ(d["for"]["reference"].GetString(), "Patient/p-t1");  // not the group's to change
  EXPECT_TRUE(d["executionPeriod"].HasMember("start"));               // contact made: now
  EXPECT_TRUE(d.HasMember("lastModified"));
  const auto stored = s.db().read_resource("Task", "t1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->version, 2);
  EXPECT_THAT(stored->json, HasSubstr("voicemail"));

  // The follow-up measure: one urgent Task, contacted in time; the routine one is open.
  const auto f = s.db().follow_up_stats();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].group_id, "G1");
  EXPECT_EQ(f[0].tasks, 2u);
  EXPECT_EQ(f[0].high_risk, 1u);
  EXPECT_EQ(f[0].contacted, 1u);
  EXPECT_EQ(f[0].high_risk_in_time, 1u);

  // Not another group's Task to update; a stale version is refused; bad statuses too.
  expect_outcome(s.as("client-other", "PUT", "/fhir/Task/t1", body), 404, "not-found");
  EXPECT_EQ(call_tls(s.port(), "client-mercy", "PUT", "/fhir/Task/t1", body,
                     {{"If-Match", "W/\"1\""}})
                .status,
            412u);
  EXPECT_EQ(s.as("client-mercy", "PUT", "/fhir/Task/t1",
                 R"({"resourceType":"Task","id":"t1","status":"draft"})")
                .status,
            422u);
  EXPECT_EQ(s.as("client-mercy", "PUT", "/fhir/Task/t2",
                 R"({"resourceType":"Task","id":"t1","status":"completed"})")
                .status,
            400u);
  // Reprocessing the message never resets what the group did (the Task is create-only).
  alert_with_task(s.db(), "T3", "t1");
  EXPECT_THAT(s.db().read_resource("Task", "t1")->json, HasSubstr("in-progress"));
}

}  // namespace
