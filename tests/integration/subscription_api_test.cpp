// FHIR Subscriptions over real loopback TLS (dev CA, client certificates): create, read, search,
// update, delete, $status and $events, scoped to the caller's physician group — another group's
// subscription is 404, a client that is no group's is 403 —, refusals as OperationOutcomes that
// never echo header values, masked headers kept on update, the topics as Basic, and the
// CapabilityStatement's Subscription entry. The groups' follow-up work over the same server: their
// Task updated by PUT and by JSON Patch (contact and completion recorded; what is the gateway's
// refused, malformed patches, failed tests, stale If-Match), Task and RiskAssessment searches
// that only ever find the caller's group's, and reads of the Conditions and Coverages of the
// Patients a group's alerts name.
#include "adapters/fhir_rest/fhir_api.hpp"
#include "adapters/fhir_rest/http_server.hpp"
#include "adapters/fhir_rest/subscription_api.hpp"
#include "gateway/alerts/fan_out.hpp"
#include "gateway/store/sqlite_store.hpp"
#include "tests/e2e/process.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/support/settled_message.hpp"

#include <boost/asio/io_context.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <future>
#include <map>
#include <thread>

namespace {

using namespace carebridge;
using namespace carebridge::test_http;
using carebridge::test::settle_message;
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
std::optional<std::string> group_of(const adapters::fhir_rest::http_request& r) {
  for (const auto& n : r.connection.certificate_names) {
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
    ASSERT_NE(settle_message(s.db(), "S" + std::to_string(i), pr), 0);
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
  EXPECT_THAT(
      meta.body,
      HasSubstr(
          R"("type":"Task","interaction":[{"code":"read"},{"code":"update"},{"code":"patch"},{"code":"search-type"}])"));
  EXPECT_THAT(
      meta.body,
      HasSubstr(
          R"("type":"RiskAssessment","interaction":[{"code":"read"},{"code":"search-type"}])"));
  EXPECT_THAT(meta.body, HasSubstr(R"("type":"Condition","interaction":[{"code":"read"}])"));
  EXPECT_THAT(meta.body, HasSubstr(R"("type":"Coverage","interaction":[{"code":"read"}])"));
  auto cs = json(meta.body);
  std::map<std::string, std::vector<std::string>> params;
  for (const auto& res : cs["rest"][0]["resource"].GetArray())
    if (res.HasMember("searchParam"))
      for (const auto& sp : res["searchParam"].GetArray())
        params[res["type"].GetString()].push_back(sp["name"].GetString());
  EXPECT_EQ(params["Task"], (std::vector<std::string>{"status", "owner", "patient"}));
  EXPECT_EQ(params["RiskAssessment"], (std::vector<std::string>{"patient"}));
  EXPECT_THAT(meta.body, HasSubstr("capabilitystatement-subscriptiontopic-canonical"));
  EXPECT_THAT(meta.body,
              HasSubstr("https://carebridge.example/fhir/SubscriptionTopic/attributed-discharge"));
  EXPECT_THAT(meta.body,
              HasSubstr("https://carebridge.example/fhir/SubscriptionTopic/attributed-admission"));
}

// A settled message whose care stage made a follow-up Task for G1 (and its alert row).
void alert_with_task(store::sqlite_store& db, const std::string& control, const std::string& task,
                     const std::string& priority = "urgent") {
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
  ASSERT_NE(settle_message(db, control, pr), 0);
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

// --- the groups' follow-up work: PATCH of a Task, searches, reads of Condition and Coverage -----

// An alert of `group` about `patient`, with its follow-up Task `task` (owned by the group), the
// RiskAssessment "ra-<task>", the Patient, and the Patient's Condition "cond-<task>" and Coverage
// "cov-<task>".
void seed_alert(store::sqlite_store& db, const std::string& control, const std::string& group,
                const std::string& patient, const std::string& task,
                const std::string& status = "requested") {
  const std::string subject = R"({"reference":"Patient/)" + patient + R"("})";
  store::processing_result pr;
  pr.resources.push_back(
      {"Task", task,
       R"({"resourceType":"Task","id":")" + task + R"(","status":")" + status +
           R"(","intent":"order","priority":"urgent","for":)" + subject +
           R"(,"owner":{"identifier":{"system":"https://carebridge.example/fhir/sid/physician-group","value":")" +
           group + R"("}},"restriction":{"period":{"end":"2999-01-01"}}})",
       true});
  pr.resources.push_back(
      {"Patient", patient, R"({"resourceType":"Patient","id":")" + patient + R"("})"});
  pr.resources.push_back({"RiskAssessment", "ra-" + task,
                          R"({"resourceType":"RiskAssessment","id":"ra-)" + task +
                              R"(","status":"final","subject":)" + subject + "}"});
  pr.resources.push_back(
      {"Condition", "cond-" + task,
       R"({"resourceType":"Condition","id":"cond-)" + task + R"(","subject":)" + subject + "}"});
  pr.resources.push_back({"Coverage", "cov-" + task,
                          R"({"resourceType":"Coverage","id":"cov-)" + task +
                              R"(","status":"active","beneficiary":)" + subject + "}"});
  store::alert_row a;
  a.kind = "alert";
  a.event_kind = "discharge";
  a.group_id = group;
  a.patient_id = patient;
  a.encounter_id = "e-" + task;
  a.risk_assessment_id = "ra-" + task;
  a.task_id = task;
  a.risk_band = "high";
  pr.alerts.push_back(a);
  ASSERT_NE(settle_message(db, control, pr), 0);
}

reply patch(server& s, const std::string& cert, const std::string& id, const std::string& ops,
            fields extra = {}) {
  extra.emplace_back("Content-Type", "application/json-patch+json");
  return call_tls(s.port(), cert, "PATCH", "/fhir/Task/" + id, ops, extra);
}

std::vector<std::string> entry_ids(const reply& r) {
  std::vector<std::string> ids;
  auto d = json(r.body);
  if (!d.IsObject() || !d.HasMember("entry")) return ids;
  for (const auto& e : d["entry"].GetArray()) ids.push_back(e["resource"]["id"].GetString());
  return ids;
}

TEST(GroupTaskPatch, ContactAndCompletionAreRecorded) {
  server s;
  seed_alert(s.db(), "P1", "G1", "pa", "t1");
  const reply started = patch(s, "client-mercy", "t1", R"([
      {"op":"test","path":"/status","value":"requested"},
      {"op":"replace","path":"/status","value":"in-progress"},
      {"op":"add","path":"/note","value":[{"text":"called"}]}])");
  ASSERT_EQ(started.status, 200u) << started.body;
  EXPECT_EQ(started.header("etag"), "W/\"2\"");
  auto d = json(started.body);
  EXPECT_STREQ(d["status"].GetString(), "in-progress");
  ASSERT_TRUE(d.HasMember("executionPeriod"));
  ASSERT_TRUE(d["executionPeriod"].HasMember("start"));  // contact made: now
  EXPECT_FALSE(d["executionPeriod"].HasMember("end"));
  const std::string contact = d["executionPeriod"]["start"].GetString();
  EXPECT_STREQ(d["for"]["reference"].GetString(), "Patient/pa");

  // Completed, conditional on the version read, with the outcome; notes inserted and appended.
  const reply done = patch(s, "client-mercy", "t1", R"([
      {"op":"replace","path":"/status","value":"completed"},
      {"op":"add","path":"/statusReason","value":{"text":"reached the patient"}},
      {"op":"add","path":"/output","value":[{"type":{"text":"outcome"},"valueString":"booked"}]},
      {"op":"add","path":"/note/-","value":{"text":"appointment booked"}},
      {"op":"add","path":"/note/0","value":{"text":"first try: voicemail"}}])",
                           {{"If-Match", "W/\"2\""}});
  ASSERT_EQ(done.status, 200u) << done.body;
  EXPECT_EQ(done.header("etag"), "W/\"3\"");
  d = json(done.body);
  EXPECT_STREQ(d["status"].GetString(), "completed");
  EXPECT_EQ(std::string(d["executionPeriod"]["start"].GetString()), contact);  // kept
  EXPECT_TRUE(d["executionPeriod"].HasMember("end"));
  EXPECT_STREQ(d["statusReason"]["text"].GetString(), "reached the patient");
  EXPECT_STREQ(d["output"][0]["valueString"].GetString(), "booked");
  ASSERT_EQ(d["note"].Size(), 3u);
  EXPECT_STREQ(d["note"][0]["text"].GetString(), "first try: voicemail");
  EXPECT_STREQ(d["note"][1]["text"].GetString(), "called");
  EXPECT_STREQ(d["note"][2]["text"].GetString(), "appointment booked");
  const auto stored = s.db().read_resource("Task", "t1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->version, 3);
  EXPECT_THAT(stored->json, HasSubstr("appointment booked"));
  EXPECT_THAT(stored->json, HasSubstr("physician-group"));  // the owner is still the gateway's
  const auto f = s.db().follow_up_stats();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].contacted, 1u);

  // A stale If-Match is 412 and changes nothing.
  expect_outcome(
      patch(s, "client-mercy", "t1", R"([{"op":"replace","path":"/status","value":"failed"}])",
            {{"If-Match", "W/\"2\""}}),
      412, "conflict");
  EXPECT_EQ(s.db().read_resource("Task", "t1")->version, 3);
}

TEST(GroupTaskPatch, RefusalsChangeNothing) {
  server s;
  seed_alert(s.db(), "P1", "G1", "pa", "t1");
  seed_alert(s.db(), "P2", "G2", "pc", "t3");
  // Elements that are the gateway's: 422, whatever the operation.
  for (const std::string ops :
       {R"([{"op":"replace","path":"/owner/identifier/value","value":"G2"}])",
        R"([{"op":"replace","path":"/for","value":{"reference":"Patient/pc"}}])",
        R"([{"op":"remove","path":"/id"}])",
        R"([{"op":"add","path":"/meta","value":{"versionId":"9"}}])",
        R"([{"op":"move","from":"/intent","path":"/note"}])",
        R"([{"op":"replace","path":"","value":{"resourceType":"Task"}}])",
        R"([{"op":"replace","path":"/status","value":"in-progress"},
            {"op":"copy","from":"/status","path":"/resourceType"}])"})
    expect_outcome(patch(s, "client-mercy", "t1", ops), 422, "business-rule");
  // Malformed patches: 400.
  for (const std::string ops :
       {R"({"op":"replace","path":"/status","value":"completed"})",
        R"([{"op":"delete","path":"/status"}])", R"([{"op":"replace","path":"/status"}])",
        R"([{"op":"replace","path":"status","value":"completed"}])",
        R"([{"op":"copy","path":"/note"}])", R"([])", "[{not json"})
    expect_outcome(patch(s, "client-mercy", "t1", ops), 400, "invalid");
  // Deeply nested input is refused before anything recurses over it: the patch itself, a value it
  // adds, and a PUT body (200,000 levels would overflow a recursive parser's or writer's stack).
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  expect_outcome(patch(s, "client-mercy", "t1", deep), 400, "invalid");
  expect_outcome(patch(s, "client-mercy", "t1",
                       R"([{"op":"add","path":"/note/-","value":)" + std::string(40, '[') +
                           std::string(40, ']') + "}]"),
                 400, "invalid");
  expect_outcome(call_tls(s.port(), "client-mercy", "PUT", "/fhir/Task/t1", deep), 400, "invalid");
  // Copies that would nest the Task deeper than a body may: 422, nothing written.
  const std::string nested = std::string(29, '[') + std::string(29, ']');
  expect_outcome(patch(s, "client-mercy", "t1",
                       R"([{"op":"add","path":"/note","value":[)" + nested + R"(]},
                           {"op":"copy","from":"/note/0","path":"/note/0/-"},
                           {"op":"copy","from":"/note/0","path":"/note/0/-"}])"),
                 422, "too-costly");
  std::string many = "[";
  for (int i = 0; i < 101; ++i)
    many += std::string(i ? "," : "") + R"({"op":"add","path":"/note/-","value":{"text":"x"}})";
  expect_outcome(
      patch(s, "client-mercy", "t1", many + R"(,{"op":"add","path":"/note","value":[]}])"), 400,
      "too-long");
  // A failed test: 409, and the replace after it is not made.
  expect_outcome(patch(s, "client-mercy", "t1", R"([
      {"op":"test","path":"/status","value":"in-progress"},
      {"op":"replace","path":"/status","value":"cancelled"}])"),
                 409, "conflict");
  // A target that is not there, and a status that is not a Task's (the same check as PUT): 422.
  expect_outcome(patch(s, "client-mercy", "t1", R"([{"op":"remove","path":"/note"}])"), 422,
                 "processing");
  expect_outcome(
      patch(s, "client-mercy", "t1", R"([{"op":"replace","path":"/status","value":"draft"}])"), 422,
      "invalid");
  // Another group's Task does not exist for the caller; nobody's client is refused; FHIRPath Patch
  // is not supported, and the answer names the type that is.
  const std::string ok = R"([{"op":"replace","path":"/status","value":"accepted"}])";
  expect_outcome(patch(s, "client-mercy", "t3", ok), 404, "not-found");
  expect_outcome(patch(s, "client-other", "t1", ok), 404, "not-found");
  expect_outcome(patch(s, "", "t1", ok), 403, "forbidden");
  const reply fhirpath = call_tls(s.port(), "client-mercy", "PATCH", "/fhir/Task/t1",
                                  R"({"resourceType":"Parameters","parameter":[]})",
                                  {{"Content-Type", "application/fhir+json"}});
  expect_outcome(fhirpath, 415, "not-supported");
  EXPECT_THAT(fhirpath.body, HasSubstr("application/json-patch+json"));
  EXPECT_EQ(s.db().read_resource("Task", "t1")->version, 1);
  EXPECT_EQ(s.db().read_resource("Task", "t3")->version, 1);
  // After all that, a good patch goes through.
  EXPECT_EQ(patch(s, "client-mercy", "t1", ok).status, 200u);
  EXPECT_EQ(s.db().read_resource("Task", "t1")->version, 2);
}

TEST(GroupSearch, TasksOfTheCallersGroupOnly) {
  server s;
  seed_alert(s.db(), "S1", "G1", "pa", "t1");
  seed_alert(s.db(), "S2", "G1", "pb", "t2", "in-progress");
  seed_alert(s.db(), "S3", "G2", "pc", "t3");
  seed_alert(s.db(), "S4", "G2", "pa", "t4");  // the same patient, attributed to G2 too
  const auto as_mercy = [&](const std::string& q) { return s.as("client-mercy", "GET", q); };
  const reply all = as_mercy("/fhir/Task");
  ASSERT_EQ(all.status, 200u) << all.body;
  auto d = json(all.body);
  EXPECT_STREQ(d["resourceType"].GetString(), "Bundle");
  EXPECT_STREQ(d["type"].GetString(), "searchset");
  EXPECT_EQ(d["total"].GetInt(), 2);
  EXPECT_STREQ(d["link"][0]["relation"].GetString(), "self");
  EXPECT_STREQ(d["link"][0]["url"].GetString(), "https://gw.example.org/fhir/Task");
  ASSERT_EQ(d["entry"].Size(), 2u);
  EXPECT_STREQ(d["entry"][0]["fullUrl"].GetString(), "https://gw.example.org/fhir/Task/t1");
  EXPECT_STREQ(d["entry"][0]["search"]["mode"].GetString(), "match");
  EXPECT_STREQ(d["entry"][0]["resource"]["meta"]["versionId"].GetString(), "1");
  EXPECT_EQ(entry_ids(all), (std::vector<std::string>{"t1", "t2"}));

  EXPECT_EQ(entry_ids(as_mercy("/fhir/Task?status=requested")), std::vector<std::string>{"t1"});
  EXPECT_EQ(entry_ids(as_mercy("/fhir/Task?status=requested,in-progress")),
            (std::vector<std::string>{"t1", "t2"}));
  EXPECT_EQ(json(as_mercy("/fhir/Task?status=completed").body)["total"].GetInt(), 0);
  EXPECT_EQ(entry_ids(as_mercy("/fhir/Task?patient=Patient/pa")), std::vector<std::string>{"t1"});
  EXPECT_EQ(entry_ids(as_mercy("/fhir/Task?patient=pa&status=requested")),
            std::vector<std::string>{"t1"});
  EXPECT_EQ(json(as_mercy("/fhir/Task?patient=pc").body)["total"].GetInt(), 0);  // G2's patient
  EXPECT_EQ(entry_ids(as_mercy("/fhir/Task?owner=G1")), (std::vector<std::string>{"t1", "t2"}));
  EXPECT_EQ(
      entry_ids(as_mercy(
          "/fhir/Task?owner=https%3A%2F%2Fcarebridge.example%2Ffhir%2Fsid%2Fphysician-group%7CG1")),
      (std::vector<std::string>{"t1", "t2"}));
  // Another group's owner, or another system: never anybody else's Tasks.
  EXPECT_EQ(json(as_mercy("/fhir/Task?owner=G2").body)["total"].GetInt(), 0);
  EXPECT_EQ(json(as_mercy("/fhir/Task?owner=urn:other%7CG1").body)["total"].GetInt(), 0);
  // _count: the first page; total counts them all.
  const reply one = as_mercy("/fhir/Task?_count=1");
  EXPECT_EQ(json(one.body)["total"].GetInt(), 2);
  EXPECT_EQ(entry_ids(one), std::vector<std::string>{"t1"});
  EXPECT_STREQ(json(one.body)["link"][0]["url"].GetString(),
               "https://gw.example.org/fhir/Task?_count=1");
  EXPECT_EQ(entry_ids(s.as("client-other", "GET", "/fhir/Task")),
            (std::vector<std::string>{"t3", "t4"}));
  EXPECT_EQ(entry_ids(s.as("client-other", "GET", "/fhir/Task?patient=pa")),
            std::vector<std::string>{"t4"});

  // Strict: unknown or repeated parameters are 400; lenient ignores them (not in the self link).
  expect_outcome(as_mercy("/fhir/Task?code=follow-up"), 400, "not-supported");
  expect_outcome(as_mercy("/fhir/Task?status=requested&status=accepted"), 400, "not-supported");
  expect_outcome(as_mercy("/fhir/Task?_count=many"), 400, "invalid");
  expect_outcome(as_mercy("/fhir/Task?patient=Group/g1"), 400, "invalid");
  const reply lenient =
      call_tls(s.port(), "client-mercy", "GET", "/fhir/Task?code=follow-up&status=requested", {},
               {{"Prefer", "handling=lenient"}});
  ASSERT_EQ(lenient.status, 200u) << lenient.body;
  EXPECT_EQ(entry_ids(lenient), std::vector<std::string>{"t1"});
  EXPECT_STREQ(json(lenient.body)["link"][0]["url"].GetString(),
               "https://gw.example.org/fhir/Task?status=requested");
  expect_outcome(s.as("", "GET", "/fhir/Task"), 403, "forbidden");

  // A Task updated by its group is found by its new status.
  ASSERT_EQ(
      patch(s, "client-mercy", "t1", R"([{"op":"replace","path":"/status","value":"completed"}])")
          .status,
      200u);
  EXPECT_EQ(entry_ids(as_mercy("/fhir/Task?status=completed")), std::vector<std::string>{"t1"});
}

TEST(GroupSearch, RiskAssessmentsTheGroupsAlertsName) {
  server s;
  seed_alert(s.db(), "S1", "G1", "pa", "t1");
  seed_alert(s.db(), "S2", "G1", "pb", "t2");
  seed_alert(s.db(), "S3", "G2", "pa", "t4");
  const reply mine = s.as("client-mercy", "GET", "/fhir/RiskAssessment?patient=Patient/pa");
  ASSERT_EQ(mine.status, 200u) << mine.body;
  EXPECT_EQ(entry_ids(mine), std::vector<std::string>{"ra-t1"});  // not G2's ra-t4
  EXPECT_STREQ(json(mine.body)["entry"][0]["fullUrl"].GetString(),
               "https://gw.example.org/fhir/RiskAssessment/ra-t1");
  EXPECT_EQ(entry_ids(s.as("client-mercy", "GET", "/fhir/RiskAssessment")),
            (std::vector<std::string>{"ra-t1", "ra-t2"}));
  EXPECT_EQ(entry_ids(s.as("client-other", "GET", "/fhir/RiskAssessment?patient=pa")),
            std::vector<std::string>{"ra-t4"});
  EXPECT_EQ(
      json(s.as("client-other", "GET", "/fhir/RiskAssessment?patient=pb").body)["total"].GetInt(),
      0);
  expect_outcome(s.as("client-mercy", "GET", "/fhir/RiskAssessment?status=final"), 400,
                 "not-supported");
  expect_outcome(s.as("", "GET", "/fhir/RiskAssessment?patient=pa"), 403, "forbidden");
}

TEST(GroupReadPolicy, ConditionsAndCoveragesOfTheGroupsPatients) {
  server s;
  seed_alert(s.db(), "R1", "G1", "pa", "t1");
  seed_alert(s.db(), "R2", "G2", "pc", "t3");
  EXPECT_EQ(s.as("client-mercy", "GET", "/fhir/Condition/cond-t1").status, 200u);
  EXPECT_EQ(s.as("client-mercy", "GET", "/fhir/Coverage/cov-t1").status, 200u);
  expect_outcome(s.as("client-mercy", "GET", "/fhir/Condition/cond-t3"), 404, "not-found");
  expect_outcome(s.as("client-mercy", "GET", "/fhir/Coverage/cov-t3"), 404, "not-found");
  EXPECT_EQ(s.as("client-other", "GET", "/fhir/Condition/cond-t3").status, 200u);
  expect_outcome(s.as("client-other", "GET", "/fhir/Coverage/cov-t1"), 404, "not-found");
  // One whose Patient no alert names, or that names no Patient: hidden from every group.
  store::processing_result pr;
  pr.resources.push_back(
      {"Condition", "cond-x",
       R"({"resourceType":"Condition","id":"cond-x","subject":{"reference":"Patient/nobody"}})"});
  pr.resources.push_back(
      {"Coverage", "cov-x",
       R"({"resourceType":"Coverage","id":"cov-x","beneficiary":{"display":"x"}})"});
  ASSERT_NE(settle_message(s.db(), "R3", pr), 0);
  expect_outcome(s.as("client-mercy", "GET", "/fhir/Condition/cond-x"), 404, "not-found");
  expect_outcome(s.as("client-mercy", "GET", "/fhir/Coverage/cov-x"), 404, "not-found");
  // A caller that is no group's client reads as before (issue 7).
  EXPECT_EQ(s.as("", "GET", "/fhir/Coverage/cov-x").status, 200u);
}

}  // namespace
