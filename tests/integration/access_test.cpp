// Who may call which FHIR route, over real loopback TLS: the /fhir guard (adapters/fhir_rest/
// access.hpp) in front of every FHIR route the gateway registers, with bearer tokens standing for
// a group's, another group's, a hospital sender's and an operator's client, and a group token
// without the scopes.
//
// The matrix walks http_server::routes(): every route has a rule; without a token each non-public
// route is 401 with a Bearer challenge; an unknown token is 401 invalid_token; each role gets
// exactly the routes its rule lists (403 for the others, the refusal counted as "role"); a token
// without the scope is 403 insufficient_scope. Then what lies within a route: another group's
// subscription and resources answer 404, an operator reads any stored resource, a sender none,
// and a sender's FHIR input is stored for the facility its registration names.
#include "adapters/fhir_rest/access.hpp"
#include "adapters/fhir_rest/fhir_api.hpp"
#include "adapters/fhir_rest/http_server.hpp"
#include "adapters/fhir_rest/subscription_api.hpp"
#include "gateway/store/sqlite_store.hpp"
#include "tests/e2e/process.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/support/settled_message.hpp"

#include <boost/asio/io_context.hpp>

#include <map>
#include <mutex>
#include <thread>

namespace {

using namespace carebridge;
using namespace carebridge::test_http;
using carebridge::test::settle_message;
namespace store = carebridge::gateway::store;
namespace auth = carebridge::gateway::auth;
using ::testing::HasSubstr;

std::shared_ptr<const auth::principal> make(std::string id, auth::role r, std::string group,
                                            std::vector<std::string> facilities,
                                            std::string_view scopes) {
  auto p = std::make_shared<auth::principal>();
  p->client_id = std::move(id);
  p->kind = r;
  p->group = std::move(group);
  p->facilities = std::move(facilities);
  p->scopes = auth::parse_scopes(scopes);
  return p;
}

// The store, the FHIR and subscription routes behind the guard, tokens resolved from a table.
class guarded_server {
 public:
  guarded_server() {
    tokens_["t-group"] = make("pcp-one", auth::role::group, "G1", {}, "system/*.cruds");
    tokens_["t-group2"] = make("pcp-two", auth::role::group, "G2", {}, "system/*.read system/*.write");
    tokens_["t-sender"] =
        make("mercy-ie", auth::role::sender, "", {"MERCY"}, "system/*.cu system/Basic.r");
    tokens_["t-ops"] = make("ops-desk", auth::role::ops, "", {}, "system/*.rs");
    tokens_["t-narrow"] = make("pcp-narrow", auth::role::group, "G1", {}, "system/Basic.r");
    store_ = store::sqlite_store::open(dir_.path(), {});
    adapters::fhir_rest::http_options ho;
    ho.host = "127.0.0.1";
    ho.port = 0;
    ho.tls = adapters::tls::server_options{(certs_dir() / "server.crt").string(),
                                           (certs_dir() / "server.key").string(),
                                           (certs_dir() / "ca.crt").string(), false};
    http_ = std::make_unique<adapters::fhir_rest::http_server>(ioc_, metrics_, ho);
    adapters::fhir_rest::access_options ao;
    ao.resolve_token = [this](std::string_view t, const gateway::ingest::connection_info&) {
      const auto it = tokens_.find(std::string(t));
      return it == tokens_.end() ? nullptr : it->second;
    };
    ao.refused = [this](std::string_view reason) {
      std::lock_guard lock(mu_);
      refusals_.emplace_back(reason);
    };
    http_->set_guard("/fhir", adapters::fhir_rest::make_fhir_guard(std::move(ao)));
    adapters::fhir_rest::fhir_api_options fo;
    fo.advertise_subscriptions = true;
    fo.processing_wait = std::chrono::milliseconds(0);
    fo.can_read = adapters::fhir_rest::group_read_policy({}, *store_);
    adapters::fhir_rest::register_fhir_api(
        *http_, {*store_, policy_, facilities_, metrics_, ioc_.get_executor(), {}}, std::move(fo));
    adapters::fhir_rest::subscription_api_options so;
    so.base_url = "https://gw.example.org/fhir";
    adapters::fhir_rest::register_subscription_api(*http_, *store_, *store_, std::move(so));
    port_ = http_->bind().port();
    http_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~guarded_server() {
    http_->stop(std::chrono::milliseconds(200));
    thread_.join();
    store_->close();
  }
  guarded_server(const guarded_server&) = delete;
  guarded_server& operator=(const guarded_server&) = delete;

  reply as(const std::string& token, const std::string& method, const std::string& target,
           const std::string& body = {}) {
    fields extra;
    if (!token.empty()) extra.emplace_back("Authorization", "Bearer " + token);
    if (method == "PATCH") extra.emplace_back("Content-Type", "application/json-patch+json");
    return call_tls(port_, "", method, target, body, extra);
  }
  std::size_t refusal_count() {
    std::lock_guard lock(mu_);
    return refusals_.size();
  }
  std::string last_refusal() {
    std::lock_guard lock(mu_);
    return refusals_.empty() ? std::string() : refusals_.back();
  }
  std::vector<std::pair<std::string, std::string>> routes() const { return http_->routes(); }
  store::sqlite_store& db() { return *store_; }

 private:
  std::map<std::string, std::shared_ptr<const auth::principal>> tokens_;
  std::mutex mu_;
  std::vector<std::string> refusals_;
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

std::string concrete(std::string pattern) {
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"{type}", "Encounter"},
                                 {"{id}", "x1"}}) {
    for (std::size_t at = pattern.find(from); at != std::string::npos; at = pattern.find(from))
      pattern.replace(at, from.size(), to);
  }
  return pattern;
}

TEST(FhirAccessMatrix, EveryRouteAnswersEachRoleAsItsRuleSays) {
  guarded_server s;
  std::size_t checked = 0;
  for (const auto& [method, pattern] : s.routes()) {
    if (!pattern.starts_with("/fhir")) continue;
    SCOPED_TRACE(method + " " + pattern);
    const auto* rule = adapters::fhir_rest::access_rule_of(method, pattern);
    ASSERT_NE(rule, nullptr) << "a FHIR route without an access rule";
    const std::string target = concrete(pattern);
    const std::string body = method == "GET" || method == "DELETE" ? "" : "{}";
    ++checked;

    const reply anonymous = s.as("", method, target, body);
    if (rule->is_public) {
      EXPECT_NE(anonymous.status, 401u);
      EXPECT_NE(anonymous.status, 403u);
      continue;
    }
    expect_outcome(anonymous, 401, "login");
    EXPECT_THAT(anonymous.header("www-authenticate"), HasSubstr("Bearer"));
    const reply bogus = s.as("not-a-token", method, target, body);
    expect_outcome(bogus, 401, "expired");
    EXPECT_THAT(bogus.header("www-authenticate"), HasSubstr("invalid_token"));

    for (const auto& [token, allowed] :
         {std::pair<std::string, bool>{"t-group", rule->group}, {"t-sender", rule->sender},
          {"t-ops", rule->ops}}) {
      SCOPED_TRACE(token);
      const std::size_t before = s.refusal_count();
      const reply r = s.as(token, method, target, body);
      if (allowed) {
        EXPECT_EQ(s.refusal_count(), before) << s.last_refusal();
        EXPECT_NE(r.status, 401u);
      } else {
        expect_outcome(r, 403, "forbidden");
        EXPECT_EQ(s.last_refusal(), "role");
      }
    }
    // A group token that grants only reading the topics.
    if (rule->group && rule->type != "Basic") {
      const reply narrow = s.as("t-narrow", method, target, body);
      expect_outcome(narrow, 403, "forbidden");
      EXPECT_THAT(narrow.header("www-authenticate"), HasSubstr("insufficient_scope"));
      EXPECT_EQ(s.last_refusal(), "scope");
    }
  }
  EXPECT_GE(checked, 19u);
}

TEST(FhirAccessMatrix, AnOperatorsReadOnlyTokenCannotWrite) {
  guarded_server s;
  // ops has system/*.rs: reading is in scope, a write route is not its role anyway; a group token
  // with read-only v1 scopes may read its subscriptions but not create one.
  const reply r = s.as("t-group2", "POST", "/fhir/Subscription", "{}");
  EXPECT_NE(r.status, 401u);
  EXPECT_NE(r.status, 403u);  // .write covers create
}

// A settled message whose care stage alerted group G1 about Patient p-1 (Task t-1).
void alert_g1(store::sqlite_store& db) {
  store::processing_result pr;
  pr.resources.push_back(
      {"Task", "t-1",
       R"({"resourceType":"Task","id":"t-1","status":"requested","intent":"order","for":{"reference":"Patient/p-1"},"owner":{"identifier":{"system":"https://carebridge.example/fhir/sid/physician-group","value":"G1"}}})",
       true});
  pr.resources.push_back({"Patient", "p-1", R"({"resourceType":"Patient","id":"p-1"})"});
  pr.resources.push_back({"Patient", "p-2", R"({"resourceType":"Patient","id":"p-2"})"});
  store::alert_row a;
  a.kind = "alert";
  a.event_kind = "discharge";
  a.group_id = "G1";
  a.patient_id = "p-1";
  a.encounter_id = "e-1";
  a.task_id = "t-1";
  pr.alerts.push_back(a);
  ASSERT_NE(settle_message(db, "A1", pr), 0);
}

TEST(FhirAccessMatrix, WhatEachRoleSeesOfStoredResources) {
  guarded_server s;
  alert_g1(s.db());
  EXPECT_EQ(s.as("t-group", "GET", "/fhir/Patient/p-1").status, 200u);
  EXPECT_EQ(s.as("t-group", "GET", "/fhir/Task/t-1").status, 200u);
  // Not named by G1's alerts, or another group's: as if it did not exist.
  expect_outcome(s.as("t-group", "GET", "/fhir/Patient/p-2"), 404, "not-found");
  expect_outcome(s.as("t-group2", "GET", "/fhir/Patient/p-1"), 404, "not-found");
  expect_outcome(s.as("t-group2", "GET", "/fhir/Task/t-1"), 404, "not-found");
  // Searches find only the caller's own.
  EXPECT_THAT(s.as("t-group", "GET", "/fhir/Task").body, HasSubstr("\"total\":1"));
  EXPECT_THAT(s.as("t-group2", "GET", "/fhir/Task").body, HasSubstr("\"total\":0"));
  // Operators read any stored resource; a sender reads none.
  EXPECT_EQ(s.as("t-ops", "GET", "/fhir/Patient/p-2").status, 200u);
  expect_outcome(s.as("t-sender", "GET", "/fhir/Patient/p-1"), 403, "forbidden");
}

TEST(FhirAccessMatrix, AnotherGroupsSubscriptionDoesNotExistForIt) {
  guarded_server s;
  const std::string sub = R"({"resourceType":"Subscription","status":"requested",
    "reason":"alerts","criteria":"https://carebridge.example/fhir/SubscriptionTopic/readmission-risk",
    "channel":{"type":"rest-hook","endpoint":"https://cm.example.org/hook","payload":"application/fhir+json",
    "_payload":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content","valueCode":"id-only"}]}}})";
  const reply created = s.as("t-group", "POST", "/fhir/Subscription", sub);
  ASSERT_EQ(created.status, 201u) << created.body;
  const std::string id = json(created.body)["id"].GetString();
  const std::string at = "/fhir/Subscription/" + id;
  EXPECT_EQ(s.as("t-group", "GET", at).status, 200u);
  for (const auto& [method, target] :
       {std::pair<std::string, std::string>{"GET", at}, {"GET", at + "/$status"},
        {"GET", at + "/$events"}, {"DELETE", at}}) {
    SCOPED_TRACE(method + " " + target);
    expect_outcome(s.as("t-group2", method, target), 404, "not-found");
  }
  expect_outcome(s.as("t-group2", "PUT", at, sub), 404, "not-found");
  EXPECT_THAT(s.as("t-group2", "GET", "/fhir/Subscription").body, HasSubstr("\"total\":0"));
  EXPECT_EQ(s.as("t-group", "GET", at).status, 200u);  // still there
}

TEST(FhirAccessMatrix, ASendersInputIsStoredForItsRegisteredFacility) {
  guarded_server s;
  const std::string bundle = test::slurp(std::filesystem::path(CAREBRIDGE_SOURCE_DIR) /
                                          "tests/data/fhir/input/davinci_discharge_notification.json");
  const reply r = s.as("t-sender", "POST", "/fhir/$process-message", bundle);
  EXPECT_EQ(r.status, 200u) << r.body;
  const auto page = s.db().messages({});
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].sending_facility, "MERCY");
  EXPECT_EQ(page[0].sender, "mercy-ie");
}

}  // namespace
