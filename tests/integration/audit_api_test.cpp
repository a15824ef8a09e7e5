// The audit observer and the AuditEvent search over a real http_server on loopback (port 0): a fake
// guard sets the principal from a test header; stand-in routes answer like the FHIR API's. Checks
// who/what/outcome per interaction, that search values and bodies never reach the trail, what is
// not recorded (metadata, .well-known, /healthz, the server's own 404), the token endpoint, and the
// AuditEvent routes: ops only (group and anonymous 403), filters, date prefixes, paging.
#include "adapters/fhir_rest/audit_api.hpp"
#include "adapters/fhir_rest/http_server.hpp"
#include "gateway/audit/audit_log.hpp"
#include "tests/e2e/process.hpp"
#include "tests/integration/http_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <thread>

namespace {

namespace fr = carebridge::adapters::fhir_rest;
namespace audit = carebridge::gateway::audit;
namespace auth = carebridge::gateway::auth;
using namespace carebridge::test_http;
using ::testing::HasSubstr;
using ::testing::Not;

// "X-Test-Principal: role:client_id[:group]" → the request's principal.
std::optional<fr::http_response> test_guard(fr::http_request& r, std::string_view,
                                            std::string_view) {
  const std::string v(r.header("x-test-principal"));
  if (v.empty()) return std::nullopt;
  auto p = std::make_shared<auth::principal>();
  const auto c1 = v.find(':');
  const auto c2 = v.find(':', c1 + 1);
  const std::string role = v.substr(0, c1);
  p->kind = role == "ops"      ? auth::role::ops
            : role == "sender" ? auth::role::sender
                               : auth::role::group;
  p->client_id = v.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
  if (c2 != std::string::npos) p->group = v.substr(c2 + 1);
  r.principal = std::move(p);
  if (r.header("x-test-refuse") == "1")
    return fr::http_response{403, "application/fhir+json",
                             R"({"resourceType":"OperationOutcome"})"};
  return std::nullopt;
}

fr::http_response ok(unsigned status = 200, fr::header_list h = {}) {
  return {status, "application/fhir+json", R"({"resourceType":"Bundle"})", std::move(h)};
}

// An audit_filter with some fields set (designated initializers warn about the others).
template <typename Set>
audit::audit_filter where(Set set) {
  audit::audit_filter f;
  set(f);
  return f;
}

class audited_server {
 public:
  audited_server() {
    log_ = audit::audit_log::open(dir_.path());
    fr::http_options ho;
    ho.port = 0;
    http_ = std::make_unique<fr::http_server>(ioc_, metrics_, ho);
    http_->set_guard("/fhir", test_guard);
    http_->set_guard("/auth", [](fr::http_request&, std::string_view, std::string_view) {
      return std::optional<fr::http_response>();
    });
    http_->observe(fr::make_audit_observer(*log_));
    fr::register_audit_api(*http_, *log_, {"https://gw.example/fhir", "CareBridge test"});
    // Stand-ins for the FHIR API's routes.
    http_->add("GET", "/fhir/metadata", [](const auto&) { return ok(); });
    http_->add("GET", "/fhir/.well-known/smart-configuration", [](const auto&) { return ok(); });
    http_->add("GET", "/fhir/{type}/{id}", [](const auto&) { return ok(); });
    http_->add("GET", "/fhir/{type}/{id}/_history/{vid}", [](const auto&) { return ok(); });
    http_->add("GET", "/fhir/Task", [](const auto&) { return ok(); });
    http_->add("POST", "/fhir/Subscription", [](const auto&) {
      return ok(201, {{"Location", "https://gw.example/fhir/Subscription/sub-9/_history/1"}});
    });
    http_->add("PUT", "/fhir/Task/{id}", [](const auto&) { return ok(); });
    http_->add("PATCH", "/fhir/Task/{id}", [](const auto&) { return ok(422); });
    http_->add("DELETE", "/fhir/Subscription/{id}", [](const auto&) {
      return fr::http_response{204, "", ""};
    });
    http_->add("GET", "/fhir/Subscription/{id}/$status", [](const auto&) { return ok(); });
    http_->add("POST", "/fhir/$process-message", [](const auto&) { return ok(); });
    http_->add("POST", "/fhir", [](const auto&) {
      return fr::http_response{200, "application/fhir+json",
                               R"({"resourceType":"Bundle","type":"batch-response"})"};
    });
    http_->add("POST", "/auth/token", [](const fr::http_request& r) {
      return r.body.find("good") != std::string::npos
                 ? fr::http_response{200, "application/json", R"({"access_token":"SECRET-TOKEN"})"}
                 : fr::http_response{401, "application/json", R"({"error":"invalid_client"})"};
    });
    http_->add("GET", "/healthz", [](const auto&) {
      return fr::http_response{200, "text/plain", "ok"};
    });
    port_ = http_->bind().port();
    http_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~audited_server() {
    http_->stop(std::chrono::milliseconds(200));
    thread_.join();
    log_->close();
  }
  std::uint16_t port() const { return port_; }
  audit::audit_log& log() { return *log_; }
  std::vector<audit::audit_record> recorded() {
    log_->flush();
    return log_->query(where([&](audit::audit_filter& f) { f.limit = 1000; }));
  }

 private:
  carebridge::test::temp_dir dir_;
  carebridge::gateway::obs::registry metrics_;
  std::unique_ptr<audit::audit_log> log_;
  boost::asio::io_context ioc_;
  std::unique_ptr<fr::http_server> http_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

const fields group_cm = {{"X-Test-Principal", "group:cm-riverside:G-RIVERSIDE"}};
const fields ops = {{"X-Test-Principal", "ops:ops-1"}};

TEST(AuditObserver, RecordsWhoWhatAndOutcomeOfEachInteraction) {
  audited_server s;
  call(s.port(), "GET", "/fhir/Patient/p1", {}, group_cm);
  call(s.port(), "GET", "/fhir/Encounter/e1/_history/2", {}, group_cm);
  call(s.port(), "GET",
       "/fhir/Task?patient=Patient%2Fp1&status=requested&name=Smith&birthdate=1950-01-02", {},
       group_cm);
  call(s.port(), "POST", "/fhir/Subscription", R"({"resourceType":"Subscription"})", group_cm);
  call(s.port(), "PUT", "/fhir/Task/t1",
       R"({"resourceType":"Task","note":[{"text":"John Smith"}]})", group_cm);
  call(s.port(), "PATCH", "/fhir/Task/t1", "[]", group_cm);
  call(s.port(), "DELETE", "/fhir/Subscription/sub-9", {}, group_cm);
  call(s.port(), "GET", "/fhir/Subscription/sub-9/$status", {}, group_cm);
  call(s.port(), "POST", "/fhir", R"({"resourceType":"Bundle","type":"batch"})",
       {{"X-Test-Principal", "sender:mercy-engine"}});
  call(s.port(), "POST", "/fhir/$process-message", "{}");  // no principal
  call(s.port(), "GET", "/fhir/Patient/p2", {},
       {{"X-Test-Principal", "group:cm-riverside:G-RIVERSIDE"}, {"X-Test-Refuse", "1"}});

  const auto rows = s.recorded();
  ASSERT_EQ(rows.size(), 11u);
  const auto& read = rows[0];
  EXPECT_EQ(read.client_id, "cm-riverside");
  EXPECT_EQ(read.role, "group");
  EXPECT_EQ(read.group, "G-RIVERSIDE");
  EXPECT_EQ(read.address, "127.0.0.1");
  EXPECT_EQ(read.action, 'R');
  EXPECT_EQ(read.subtype, "read");
  EXPECT_EQ(read.entity_type, "Patient");
  EXPECT_EQ(read.entity_id, "p1");
  EXPECT_EQ(read.status, 200u);
  EXPECT_EQ(read.outcome, 0);

  EXPECT_EQ(rows[1].subtype, "vread");
  EXPECT_EQ(rows[1].entity_type, "Encounter");
  EXPECT_EQ(rows[1].entity_id, "e1");

  const auto& search = rows[2];
  EXPECT_EQ(search.subtype, "search-type");
  EXPECT_EQ(search.action, 'E');
  EXPECT_EQ(search.entity_type, "Task");
  EXPECT_EQ(search.entity_id, "");
  // Names always; values only for the reference by id and the code.
  EXPECT_EQ(search.query, "patient=Patient/p1&status=requested&name&birthdate");

  EXPECT_EQ(rows[3].subtype, "create");
  EXPECT_EQ(rows[3].action, 'C');
  EXPECT_EQ(rows[3].entity_id, "sub-9");  // from Location
  EXPECT_EQ(rows[3].status, 201u);
  EXPECT_EQ(rows[4].subtype, "update");
  EXPECT_EQ(rows[4].action, 'U');
  EXPECT_EQ(rows[4].entity_id, "t1");
  EXPECT_EQ(rows[5].subtype, "patch");
  EXPECT_EQ(rows[5].outcome, 4);
  EXPECT_EQ(rows[6].subtype, "delete");
  EXPECT_EQ(rows[6].action, 'D');
  EXPECT_EQ(rows[7].subtype, "$status");
  EXPECT_EQ(rows[7].entity_type, "Subscription");
  EXPECT_EQ(rows[7].entity_id, "sub-9");
  EXPECT_EQ(rows[8].subtype, "batch");
  EXPECT_EQ(rows[8].role, "sender");
  EXPECT_EQ(rows[8].client_id, "mercy-engine");
  EXPECT_EQ(rows[8].group, "");
  EXPECT_EQ(rows[9].subtype, "$process-message");
  EXPECT_EQ(rows[9].role, "anonymous");
  EXPECT_EQ(rows[9].client_id, "");
  EXPECT_EQ(rows[10].status, 403u);  // a guard's refusal is recorded too
  EXPECT_EQ(rows[10].outcome, 4);
  EXPECT_EQ(rows[10].entity_id, "p2");

  for (const auto& r : rows) {
    for (const std::string* f : {&r.query, &r.detail, &r.entity_id, &r.client_id}) {
      EXPECT_THAT(*f, Not(HasSubstr("Smith")));
      EXPECT_THAT(*f, Not(HasSubstr("1950")));
    }
  }
}

TEST(AuditObserver, LeavesOutWhatHoldsNoPhiAndWhatNoRouteAnswered) {
  audited_server s;
  call(s.port(), "GET", "/fhir/metadata");
  call(s.port(), "GET", "/fhir/.well-known/smart-configuration");
  call(s.port(), "GET", "/healthz");
  call(s.port(), "GET", "/nothing/here");
  EXPECT_TRUE(s.recorded().empty());
}

TEST(AuditObserver, KeepsPathSegmentsOnlyWhenTheyAreTypesAndIds) {
  audited_server s;
  call(s.port(), "GET", "/fhir/Patient/John%20Smith", {}, group_cm);
  call(s.port(), "GET", "/fhir/not%20a%20type/x", {}, group_cm);
  const auto rows = s.recorded();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].entity_type, "Patient");
  EXPECT_EQ(rows[0].entity_id, "(invalid)");
  EXPECT_EQ(rows[1].entity_type, "(invalid)");
  EXPECT_EQ(rows[1].entity_id, "x");
}

TEST(AuditObserver, TokenRequestsNameTheClientOnlyWhenATokenWasIssued) {
  audited_server s;
  const fields form = {{"Content-Type", "application/x-www-form-urlencoded"}};
  call(s.port(), "POST", "/auth/token", "grant_type=client_credentials&client_id=intruder&x=bad",
       form);
  // A client assertion whose payload is {"iss":"cm-riverside","sub":"cm-riverside"}.
  const std::string jwt =
      "eyJhbGciOiJSUzM4NCJ9.eyJpc3MiOiJjbS1yaXZlcnNpZGUiLCJzdWIiOiJjbS1yaXZlcnNpZGUifQ.sig";
  call(s.port(), "POST", "/auth/token",
       "grant_type=client_credentials&client_assertion=" + jwt + "&scope=good", form);
  const auto rows = s.recorded();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].subtype, "token");
  EXPECT_EQ(rows[0].status, 401u);
  EXPECT_EQ(rows[0].outcome, 4);
  EXPECT_EQ(rows[0].client_id, "");  // unverified: not named
  EXPECT_EQ(rows[0].role, "anonymous");
  EXPECT_EQ(rows[1].status, 200u);
  EXPECT_EQ(rows[1].client_id, "cm-riverside");
  EXPECT_EQ(rows[1].action, 'E');
  for (const auto& r : rows) EXPECT_THAT(r.detail + r.query, Not(HasSubstr("TOKEN")));
}

TEST(AuditObserver, PhiFreeQuery) {
  EXPECT_EQ(fr::phi_free_query(""), "");
  EXPECT_EQ(fr::phi_free_query("family=O%27Brien&given=Ann&_count=5"), "family&given&_count=5");
  EXPECT_EQ(fr::phi_free_query("patient=John%20Smith"), "patient");  // not an id
  EXPECT_EQ(fr::phi_free_query("subject:Patient=Patient/abc"), "subject:Patient=Patient/abc");
  EXPECT_EQ(fr::phi_free_query("identifier=urn:mrn|12345"), "identifier");
  EXPECT_EQ(fr::phi_free_query("%ZZ"), "(malformed)");
}

// ---- GET /fhir/AuditEvent -----------------------------------------------------------------------

TEST(AuditEventApi, OnlyOpsMaySearchOrRead) {
  audited_server s;
  call(s.port(), "GET", "/fhir/Patient/p1", {}, group_cm);
  s.log().flush();
  auto r = call(s.port(), "GET", "/fhir/AuditEvent", {}, group_cm);
  EXPECT_EQ(r.status, 403u);
  EXPECT_THAT(r.body, HasSubstr("OperationOutcome"));
  r = call(s.port(), "GET", "/fhir/AuditEvent");
  EXPECT_EQ(r.status, 403u);
  r = call(s.port(), "GET", "/fhir/AuditEvent/1", {}, {{"X-Test-Principal", "sender:mercy"}});
  EXPECT_EQ(r.status, 403u);
  r = call(s.port(), "GET", "/fhir/AuditEvent", {}, ops);
  EXPECT_EQ(r.status, 200u);
  const auto b = json(r.body);
  EXPECT_STREQ(b["type"].GetString(), "searchset");
  ASSERT_TRUE(b.HasMember("entry"));
  const auto& first = b["entry"][0]["resource"];
  EXPECT_STREQ(first["resourceType"].GetString(), "AuditEvent");
  EXPECT_STREQ(first["entity"][0]["what"]["reference"].GetString(), "Patient/p1");
  const std::string id = first["id"].GetString();
  EXPECT_EQ(std::string(b["entry"][0]["fullUrl"].GetString()),
            "https://gw.example/fhir/AuditEvent/" + id);
  r = call(s.port(), "GET", "/fhir/AuditEvent/" + id, {}, ops);
  EXPECT_EQ(r.status, 200u);
  EXPECT_STREQ(json(r.body)["id"].GetString(), id.c_str());
  EXPECT_EQ(call(s.port(), "GET", "/fhir/AuditEvent/999999", {}, ops).status, 404u);
  EXPECT_EQ(call(s.port(), "GET", "/fhir/AuditEvent/abc", {}, ops).status, 404u);
  // The searches themselves are audited (refused ones too).
  s.log().flush();
  EXPECT_FALSE(s.log()
                   .query(where([&](audit::audit_filter& f) {
                     f.entity_type = "AuditEvent";
                     f.outcome = 4;
                   }))
                   .empty());
}

std::vector<std::string> entity_ids(const std::string& body) {
  const auto b = json(body);
  std::vector<std::string> out;
  if (!b.HasMember("entry")) return out;
  for (const auto& e : b["entry"].GetArray()) {
    const auto& res = e["resource"];
    out.push_back(res.HasMember("entity") && res["entity"][0].HasMember("what")
                      ? res["entity"][0]["what"]["reference"].GetString()
                      : "-");
  }
  return out;
}

TEST(AuditEventApi, FiltersAndDates) {
  audited_server s;
  auto& log = s.log();
  const std::int64_t day = 86'400'000'000;
  const std::int64_t t = 1'780'000'000'000'000;  // 2026-05-28T20:26:40Z
  auto rec = [&](std::string client, std::string type, std::string id, std::int64_t at,
                 char action = 'R', unsigned status = 200) {
    audit::audit_record r;
    r.time_us = at;
    r.client_id = std::move(client);
    r.role = "group";
    r.entity_type = std::move(type);
    r.entity_id = std::move(id);
    r.action = action;
    r.subtype = action == 'R' ? "read" : "update";
    r.status = status;
    r.outcome = audit::outcome_of_status(status);
    log.record(r);
  };
  rec("a", "Patient", "p1", t);
  rec("b", "Patient", "p2", t + day);
  rec("a", "Encounter", "e1", t + 2 * day, 'U');
  rec("c", "Patient", "p1", t + 3 * day, 'R', 403);
  log.flush();
  using V = std::vector<std::string>;
  const auto search = [&](const std::string& q) {
    const auto r = call(s.port(), "GET", "/fhir/AuditEvent?" + q, {}, ops);
    EXPECT_EQ(r.status, 200u) << q << ": " << r.body;
    return entity_ids(r.body);
  };
  EXPECT_EQ(search("agent=a"), (V{"Patient/p1", "Encounter/e1"}));
  EXPECT_EQ(search("entity=Patient/p1"), (V{"Patient/p1", "Patient/p1"}));
  EXPECT_EQ(search("entity-type=Encounter"), (V{"Encounter/e1"}));
  EXPECT_EQ(search("action=U"), (V{"Encounter/e1"}));
  EXPECT_EQ(search("outcome=4&entity-type=Patient"), (V{"Patient/p1"}));
  EXPECT_EQ(search("subtype=http://hl7.org/fhir/restful-interaction|update"), (V{"Encounter/e1"}));
  EXPECT_EQ(search("date=2026-05-29"), (V{"Patient/p2"}));
  EXPECT_EQ(search("date=ge2026-05-29&date=lt2026-05-31"), (V{"Patient/p2", "Encounter/e1"}));
  EXPECT_EQ(search("date=gt2026-05-29&entity-type=Patient"), (V{"Patient/p1"}));
  EXPECT_EQ(search("date=le2026-05-29&entity-type=Patient"), (V{"Patient/p1", "Patient/p2"}));
  EXPECT_EQ(search("date=2026-05&entity-type=Patient").size(), 3u);
  EXPECT_EQ(search("date=ge2026-05-28T20:26:40Z&date=le2026-05-28T20:26:40Z"), (V{"Patient/p1"}));
  EXPECT_EQ(search("date=lt2026-05-28T20:26:40Z"), V{});

  for (const char* bad : {"date=2026-02-30", "date=ne2026-05-01", "action=X", "outcome=3",
                          "_count=0", "entity=p1", "name=Smith", "agent=a&agent=b"}) {
    const auto r = call(s.port(), "GET", std::string("/fhir/AuditEvent?") + bad, {}, ops);
    EXPECT_EQ(r.status, 400u) << bad;
    EXPECT_THAT(r.body, HasSubstr("OperationOutcome"));
    EXPECT_THAT(r.body, Not(HasSubstr("Smith")));
  }
}

TEST(AuditEventApi, PagesWithANextLink) {
  audited_server s;
  for (int i = 0; i < 25; ++i) {
    audit::audit_record r;
    r.client_id = "a";
    r.entity_type = "Patient";
    r.entity_id = "p" + std::to_string(i);
    r.status = 200;
    s.log().record(r);
  }
  s.log().flush();
  std::vector<std::string> all;
  std::string target = "/fhir/AuditEvent?agent=a&_count=10";
  for (int page = 0; page < 5 && !target.empty(); ++page) {
    const auto r = call(s.port(), "GET", target, {}, ops);
    ASSERT_EQ(r.status, 200u) << r.body;
    for (auto& e : entity_ids(r.body)) all.push_back(e);
    const auto b = json(r.body);
    if (const char* dump = std::getenv("CAREBRIDGE_DUMP_DIR");
        dump != nullptr && *dump && page == 0) {
      std::ofstream f(std::filesystem::path(dump) / "auditevent-searchset.json");
      f << r.body << '\n';
    }
    target.clear();
    for (const auto& l : b["link"].GetArray())
      if (std::string_view(l["relation"].GetString()) == "next") {
        const std::string url = l["url"].GetString();
        ASSERT_THAT(url, HasSubstr("https://gw.example/fhir/AuditEvent?agent=a&_count=10&_after="));
        target = url.substr(std::string("https://gw.example").size());
      }
  }
  ASSERT_EQ(all.size(), 25u);
  EXPECT_EQ(all.front(), "Patient/p0");
  EXPECT_EQ(all.back(), "Patient/p24");
}

}  // namespace
