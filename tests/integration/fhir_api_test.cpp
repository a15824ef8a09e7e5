// The FHIR REST API over real loopback sockets (port 0), plain and with TLS and client certificates
// from the dev CA: store before the 2xx (the resources are readable when it arrives), duplicates,
// every error status with an OperationOutcome, the CapabilityStatement, reads with versionId and
// ETag, Prefer, the sender's facility from its certificate, and the read-policy hook.
#include "adapters/fhir_rest/fhir_api.hpp"
#include "adapters/fhir_rest/http_server.hpp"
#include "gateway/config/config.hpp"
#include "gateway/ingest/conversion_stage.hpp"
#include "gateway/ingest/pipeline_worker.hpp"
#include "gateway/store/sqlite_store.hpp"
#include "mappings/fhir/v2_to_fhir.hpp"
#include "mappings/hl7v2/message.hpp"
#include "tests/e2e/process.hpp"
#include "tests/integration/http_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <map>
#include <thread>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
namespace store = carebridge::gateway::store;
using namespace carebridge;
using namespace std::chrono_literals;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace carebridge::test_http;

const fs::path data = fs::path(CAREBRIDGE_SOURCE_DIR) / "tests" / "data";

const gateway::config::config& sample_config() {
  static const auto cfg =
      gateway::config::load_text(test::slurp(data / "fhir" / "facilities.json"), "facilities.json");
  return cfg;
}

std::string input(const std::string& name) {
  return test::slurp(data / "fhir" / "input" / name);
}

/// The v2 mapper's event for an HL7 sample (the ids a FHIR input of the same stay must land on).
mappings::event::clinical_event v2_event(const std::string& sample) {
  const std::string raw = test::slurp(data / "hl7" / "adt" / (sample + ".hl7"));
  auto parsed = mappings::hl7v2::parse(raw);
  mappings::fhir::convert_options o;
  o.sender =
      &sample_config().facilities.at(std::string(parsed->segment(0).field(4).component(1).raw()));
  return mappings::fhir::convert(*parsed, o)->event;
}

struct settings {
  std::vector<gateway::ingest::sender_rule> rules = {};
  bool tls = false;
  std::size_t max_body_bytes = 1u << 20;
  std::string default_facility = "STBRIGID";
  adapters::fhir_rest::read_policy can_read = {};
  std::chrono::milliseconds processing_wait = 5s;
  bool pipeline = true;
};

// A gateway slice: real store, pipeline (with the conversion stage) and HTTP server with the FHIR
// API, the io_context on a background thread.
class server {
 public:
  explicit server(settings s = {}) : policy_(std::move(s.rules)) {
    store_ = store::sqlite_store::open(dir_.path(), {});
    convert_ = std::make_unique<gateway::ingest::conversion_stage>(sample_config(), metrics_);
    worker_ = std::make_unique<gateway::ingest::pipeline_worker>(
        *store_, metrics_, 200ms,
        [this](const store::stored_message& m, store::processing_result& out) {
          return (*convert_)(m, out);
        });
    if (s.pipeline) worker_->start();
    adapters::fhir_rest::http_options ho;
    ho.host = "127.0.0.1";
    ho.port = 0;
    ho.max_body_bytes = s.max_body_bytes;
    if (s.tls)
      ho.tls = adapters::tls::server_options{(certs_dir() / "server.crt").string(),
                                             (certs_dir() / "server.key").string(),
                                             (certs_dir() / "ca.crt").string(), false};
    http_ = std::make_unique<adapters::fhir_rest::http_server>(ioc_, metrics_, ho);
    adapters::fhir_rest::fhir_api_options fo;
    fo.default_facility = s.default_facility;
    fo.processing_wait = s.processing_wait;
    fo.can_read = std::move(s.can_read);
    adapters::fhir_rest::register_fhir_api(
        *http_,
        {*store_, policy_, sample_config().facilities, metrics_, ioc_.get_executor(),
         [this](store::stored_message m) { worker_->enqueue(std::move(m)); }},
        std::move(fo));
    port_ = http_->bind().port();
    http_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~server() {
    http_->stop(200ms);
    thread_.join();
    worker_->stop();
    store_->close();
  }
  std::uint16_t port() const { return port_; }
  store::sqlite_store& db() { return *store_; }
  std::string metrics() { return metrics_.expose(); }

 private:
  test::temp_dir dir_;
  gateway::obs::registry metrics_;
  gateway::ingest::sender_policy policy_;
  std::unique_ptr<store::sqlite_store> store_;
  std::unique_ptr<gateway::ingest::conversion_stage> convert_;
  std::unique_ptr<gateway::ingest::pipeline_worker> worker_;
  asio::io_context ioc_;
  std::unique_ptr<adapters::fhir_rest::http_server> http_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};


// ---- store, then answer
// --------------------------------------------------------------------------

TEST(FhirApi, NotificationIsStoredAndReadableWhenTheTwoHundredArrives) {
  server g;
  const auto v2 = v2_event("stbrigid_v24_A03_03");
  const reply r = call(g.port(), "POST", "/fhir/$process-message",
                       input("davinci_discharge_notification.json"));
  expect_outcome(r, 200, "informational");
  // Stored before the answer…
  const auto stats = g.db().stats();
  EXPECT_EQ(stats.accepted, 1u);
  // …and converted: the stay's Encounter is readable, on the id the HL7 v2 feed gives it.
  const reply e = call(g.port(), "GET", "/fhir/Encounter/" + v2.encounter_resource_id);
  ASSERT_EQ(e.status, 200u) << e.body;
  EXPECT_EQ(e.header("etag"), "W/\"1\"");
  EXPECT_FALSE(e.header("last-modified").empty());
  rapidjson::Document d = json(e.body);
  EXPECT_STREQ(d["id"].GetString(), v2.encounter_resource_id.c_str());
  EXPECT_STREQ(d["meta"]["versionId"].GetString(), "1");
  EXPECT_TRUE(d["meta"].HasMember("lastUpdated"));
  EXPECT_STREQ(d["status"].GetString(), "finished");
  EXPECT_EQ(call(g.port(), "GET", "/fhir/Patient/" + v2.patient_resource_id).status, 200u);
  // The clinical event is stored for the patient, as for the v2 message.
  const auto events = g.db().events_for_patient(v2.patient_resource_id);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "discharge");
  EXPECT_EQ(events[0].encounter_resource_id, v2.encounter_resource_id);
  // If-None-Match with the current ETag: 304.
  EXPECT_EQ(call(g.port(), "GET", "/fhir/Encounter/" + v2.encounter_resource_id, {},
                 {{"If-None-Match", "W/\"1\""}})
                .status,
            304u);
}

TEST(FhirApi, AResendIsADuplicateAndGetsTheSameAnswer) {
  server g;
  const std::string body = input("transaction_bundle.json");
  const reply first = call(g.port(), "POST", "/fhir", body, {{"Content-Type", "application/json"}});
  ASSERT_EQ(first.status, 200u) << first.body;
  const reply again = call(g.port(), "POST", "/fhir", body, {{"Content-Type", "application/json"}});
  EXPECT_EQ(again.status, 200u);
  EXPECT_EQ(again.body, first.body);
  const auto stats = g.db().stats();
  EXPECT_EQ(stats.total, 1u);
  EXPECT_EQ(stats.duplicates, 1u);
  EXPECT_THAT(
      g.metrics(),
      HasSubstr("carebridge_fhir_inputs_total{route=\"bundle\",disposition=\"duplicate\"} 1"));
}

TEST(FhirApi, TransactionAnswersOneEntryPerInputEntry) {
  server g({.default_facility = "LUH"});
  const std::string body = input("transaction_bundle.json");
  const reply r = call(g.port(), "POST", "/fhir", body);
  ASSERT_EQ(r.status, 200u) << r.body;
  rapidjson::Document d = json(r.body);
  EXPECT_STREQ(d["type"].GetString(), "transaction-response");
  rapidjson::Document in = json(body);
  ASSERT_EQ(d["entry"].Size(), in["entry"].Size());
  const auto v2 = v2_event("lakeshore_v251_A01_01");
  bool saw_encounter = false;
  for (rapidjson::SizeType i = 0; i < d["entry"].Size(); ++i) {
    const auto& resp = d["entry"][i]["response"];
    const std::string type = in["entry"][i]["resource"]["resourceType"].GetString();
    if (type == "Provenance" || type == "RelatedPerson") {  // not kept: answered, not stored
      EXPECT_STREQ(resp["status"].GetString(), "200 OK");
      EXPECT_STREQ(resp["outcome"]["issue"][0]["severity"].GetString(), "warning");
      continue;
    }
    EXPECT_STREQ(resp["status"].GetString(), "201 Created");
    const std::string location = resp["location"].GetString();
    EXPECT_TRUE(location.starts_with(type + "/")) << location;
    EXPECT_TRUE(location.ends_with("/_history/1")) << location;
    EXPECT_STREQ(resp["etag"].GetString(), "W/\"1\"");
    if (type == "Encounter") {
      saw_encounter = true;
      EXPECT_EQ(location, "Encounter/" + v2.encounter_resource_id + "/_history/1");
      EXPECT_EQ(call(g.port(), "GET",
                     "/" + std::string("fhir/") + location.substr(0, location.find("/_history")))
                    .status,
                200u);
    }
  }
  EXPECT_TRUE(saw_encounter);
  // Prefer: return=representation carries the stored resources, with meta.
  rapidjson::Document rep =
      json(call(g.port(), "POST", "/fhir", body + " ", {{"Prefer", "return=representation"}}).body);
  ASSERT_TRUE(rep["entry"][2].HasMember("resource"));
  EXPECT_TRUE(rep["entry"][2]["resource"]["meta"].HasMember("versionId"));
  // Prefer: return=OperationOutcome answers an OperationOutcome instead of the Bundle.
  expect_outcome(
      call(g.port(), "POST", "/fhir", body + "  ", {{"Prefer", "return=OperationOutcome"}}), 200,
      "informational");
}

TEST(FhirApi, EncounterCreateAndUpdateWithVersions) {
  server g({.default_facility = "RRMC"});
  const std::string body = input("finished_encounter.json");
  const auto v2 = v2_event("riverbend_v23_A03_01");
  const reply created = call(g.port(), "PUT", "/fhir/Encounter/rrmc-v000418231", body);
  ASSERT_EQ(created.status, 201u) << created.body;
  EXPECT_EQ(created.header("location"),
            "http://127.0.0.1/fhir/Encounter/" + v2.encounter_resource_id + "/_history/1");
  EXPECT_EQ(created.header("etag"), "W/\"1\"");
  rapidjson::Document d = json(created.body);
  EXPECT_STREQ(d["resourceType"].GetString(), "Encounter");
  EXPECT_STREQ(d["meta"]["versionId"].GetString(), "1");

  // The stay goes on: a changed Encounter is version 2 of the same resource.
  std::string changed = body;
  const auto at = changed.find("2026-11-19T11:15:00-06:00");
  ASSERT_NE(at, std::string::npos);
  changed.replace(at, 25, "2026-11-19T12:15:00-06:00");
  const reply updated = call(g.port(), "PUT", "/fhir/Encounter/rrmc-v000418231", changed,
                             {{"Prefer", "return=minimal"}});
  EXPECT_EQ(updated.status, 200u) << updated.body;
  EXPECT_TRUE(updated.body.empty());
  EXPECT_EQ(updated.header("etag"), "W/\"2\"");
  EXPECT_THAT(updated.header("location"), HasSubstr("/_history/2"));
  const reply read = call(g.port(), "GET", "/fhir/Encounter/" + v2.encounter_resource_id);
  EXPECT_EQ(read.header("etag"), "W/\"2\"");
  EXPECT_THAT(read.body, HasSubstr("2026-11-19T12:15:00-06:00"));

  // POST /fhir/Encounter of the same stay: an update of the existing resource (200).
  const reply posted = call(g.port(), "POST", "/fhir/Encounter", changed + "\n",
                            {{"Prefer", "return=OperationOutcome"}});
  expect_outcome(posted, 200, "informational");
}

TEST(FhirApi, ExpectContinueGetsTheGoAheadBeforeTheBody) {
  server g;
  const std::string body = input("davinci_discharge_notification.json");
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), g.port()));
  const std::string head =
      "POST /fhir/$process-message HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/fhir+json\r\nExpect: 100-continue\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n";
  asio::write(s, asio::buffer(head));
  asio::streambuf got;
  asio::read_until(s, got, "\r\n\r\n");
  const std::string interim{asio::buffers_begin(got.data()), asio::buffers_end(got.data())};
  EXPECT_THAT(interim, HasSubstr("HTTP/1.1 100 Continue"));
  got.consume(got.size());
  asio::write(s, asio::buffer(body));
  asio::read_until(s, got, "\r\n\r\n");
  const std::string final_head{asio::buffers_begin(got.data()), asio::buffers_end(got.data())};
  EXPECT_THAT(final_head, HasSubstr("HTTP/1.1 200 OK"));
}

// ---- errors ------------------------------------------------------------------------------------

TEST(FhirApi, ErrorsAreOperationOutcomesWithTheRightStatus) {
  server g({.max_body_bytes = 40'000});
  const std::string good = input("finished_encounter.json");
  expect_outcome(call(g.port(), "POST", "/fhir", "{not json"), 400, "structure");
  expect_outcome(call(g.port(), "POST", "/fhir", good, {{"Content-Type", "text/plain"}}), 415,
                 "not-supported");
  expect_outcome(call(g.port(), "POST", "/fhir", good, {{"Content-Type", "application/fhir+xml"}}),
                 415, "not-supported");
  expect_outcome(call(g.port(), "POST", "/fhir", good, {{"Accept", "application/fhir+xml"}}), 406,
                 "not-supported");
  expect_outcome(call(g.port(), "GET", "/fhir/metadata?_format=xml"), 406, "not-supported");
  expect_outcome(
      call(
          g.port(), "POST", "/fhir/Encounter",
          R"({"resourceType":"Encounter","class":{"code":"IMP"},"subject":{"identifier":{"value":"1"}}})"),
      422, "required");
  expect_outcome(call(g.port(), "PUT", "/fhir/Encounter/another-id", good), 400, "invalid");
  expect_outcome(call(g.port(), "POST", "/fhir", std::string(50'000, ' ')), 413, "too-long");
  expect_outcome(call(g.port(), "GET", "/fhir/Encounter/no-such-id"), 404, "not-found");
  expect_outcome(call(g.port(), "GET", "/fhir/Basic/x"), 404, "not-supported");
  expect_outcome(call(g.port(), "GET", "/fhir/Encounter/bad_id"), 400, "invalid");
  expect_outcome(call(g.port(), "GET", "/fhir/nothing/here/at/all"), 404, "not-found");
  const reply m = call(g.port(), "DELETE", "/fhir/Encounter/x");
  expect_outcome(m, 405, "not-supported");
  EXPECT_EQ(m.header("allow"), "PUT, GET");
  expect_outcome(call(g.port(), "GET", "/fhir"), 405, "not-supported");
  // Everything refused after the body was read is kept as rejected (the 413 was never read whole).
  const auto stats = g.db().stats();
  EXPECT_EQ(stats.rejected, 6u);
  EXPECT_EQ(stats.accepted, 0u);
}

TEST(FhirApi, AStoreThatCannotCommitAnswers503) {
  server g;
  g.db().close();
  expect_outcome(call(g.port(), "POST", "/fhir/$process-message",
                      input("davinci_discharge_notification.json")),
                 503, "transient");
}

// ---- metadata ----------------------------------------------------------------------------------

TEST(FhirApi, CapabilityStatementSaysWhatIsSupported) {
  server g;
  const reply r =
      call(g.port(), "GET", "/fhir/metadata", {}, {{"Accept", "application/fhir+json"}});
  ASSERT_EQ(r.status, 200u);
  EXPECT_THAT(r.header("content-type"), HasSubstr("application/fhir+json"));
  rapidjson::Document d = json(r.body);
  EXPECT_STREQ(d["resourceType"].GetString(), "CapabilityStatement");
  EXPECT_STREQ(d["fhirVersion"].GetString(), "4.0.1");
  EXPECT_STREQ(d["kind"].GetString(), "instance");
  EXPECT_STREQ(d["format"][0].GetString(), "application/fhir+json");
  const auto& rest = d["rest"][0];
  EXPECT_STREQ(rest["mode"].GetString(), "server");
  std::set<std::string> system;
  for (const auto& i : rest["interaction"].GetArray()) system.insert(i["code"].GetString());
  EXPECT_EQ(system, (std::set<std::string>{"transaction", "batch"}));
  EXPECT_STREQ(rest["operation"][0]["name"].GetString(), "process-message");
  // SMART Backend Services: the service and the token endpoint (from the request's origin here).
  EXPECT_STREQ(rest["security"]["service"][0]["coding"][0]["code"].GetString(), "SMART-on-FHIR");
  EXPECT_STREQ(rest["security"]["extension"][0]["url"].GetString(),
               "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris");
  EXPECT_THAT(std::string(rest["security"]["extension"][0]["extension"][0]["valueUri"].GetString()),
              ::testing::EndsWith("/auth/token"));
  std::map<std::string, std::set<std::string>> by_type;
  for (const auto& res : rest["resource"].GetArray())
    for (const auto& i : res["interaction"].GetArray())
      by_type[res["type"].GetString()].insert(i["code"].GetString());
  EXPECT_EQ(by_type["Encounter"], (std::set<std::string>{"read", "create", "update"}));
  EXPECT_EQ(by_type["Patient"], (std::set<std::string>{"read"}));
  EXPECT_EQ(by_type["RiskAssessment"], (std::set<std::string>{"read"}));  // the care stage's
  EXPECT_EQ(by_type["Task"], (std::set<std::string>{"read"}));
  EXPECT_EQ(by_type.size(), 12u);
  // application/json is answered as such.
  const reply j = call(g.port(), "GET", "/fhir/metadata", {}, {{"Accept", "application/json"}});
  EXPECT_EQ(j.status, 200u);
  EXPECT_THAT(j.header("content-type"), HasSubstr("application/json"));
}

// ---- senders and reads -------------------------------------------------------------------------

TEST(FhirApi, OverMutualTlsTheCertificateNamesTheFacility) {
  gateway::ingest::sender_rule rule;
  rule.name = "st-brigids";
  rule.facilities = {"STBRIGID"};
  rule.certificate_names = {"mercy-engine"};
  server g({.rules = {rule}, .tls = true, .default_facility = "FHIR"});
  const auto v2 = v2_event("stbrigid_v24_A03_03");
  const reply r = call_tls(g.port(), "client-mercy", "POST", "/fhir/$process-message",
                           input("davinci_discharge_notification.json"));
  expect_outcome(r, 200, "informational");
  const auto pending = g.db().stats();
  EXPECT_EQ(pending.by_sender.count("STBRIGID"), 1u);
  const reply e =
      call_tls(g.port(), "client-mercy", "GET", "/fhir/Encounter/" + v2.encounter_resource_id);
  EXPECT_EQ(e.status, 200u);
  // Another certificate, no rule: refused, and kept as rejected.
  expect_outcome(call_tls(g.port(), "client-other", "POST", "/fhir/$process-message",
                          input("davinci_discharge_notification.json")),
                 403, "forbidden");
  // No certificate at all (the listener does not require one): refused too.
  expect_outcome(call_tls(g.port(), "", "POST", "/fhir/$process-message",
                          input("davinci_discharge_notification.json")),
                 403, "forbidden");
  EXPECT_EQ(g.db().stats().rejected, 2u);
}

TEST(FhirApi, ReadsGoThroughTheReadPolicy) {
  server g(
      {.can_read = [](const adapters::fhir_rest::read_request& r, const store::stored_resource&) {
        if (r.type == "Patient") return adapters::fhir_rest::read_decision::forbid;
        if (r.type == "Coverage") return adapters::fhir_rest::read_decision::hide;
        return adapters::fhir_rest::read_decision::allow;
      }});
  const auto v2 = v2_event("stbrigid_v24_A03_03");
  ASSERT_EQ(
      call(g.port(), "POST", "/fhir/$process-message", input("davinci_discharge_notification.json"))
          .status,
      200u);
  EXPECT_EQ(call(g.port(), "GET", "/fhir/Encounter/" + v2.encounter_resource_id).status, 200u);
  expect_outcome(call(g.port(), "GET", "/fhir/Patient/" + v2.patient_resource_id), 403,
                 "forbidden");
  // A hidden resource is indistinguishable from a missing one (the stay's Coverage, as the v2 feed
  // would key it: tests/data/fhir/golden/stbrigid_v24_A03_03.json).
  const std::string coverage = "389f699e-fd88-8bf2-a55e-0bd6de9c53d4";
  ASSERT_TRUE(g.db().read_resource("Coverage", coverage));
  expect_outcome(call(g.port(), "GET", "/fhir/Coverage/" + coverage), 404, "not-found");
}

TEST(FhirApi, WithoutThePipelineTheAnswerStillComesAfterTheCommit) {
  server g({.processing_wait = 300ms, .pipeline = false});
  const auto started = std::chrono::steady_clock::now();
  const reply r =
      call(g.port(), "PUT", "/fhir/Encounter/rrmc-v000418231", input("finished_encounter.json"));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms);
  EXPECT_EQ(r.status,
            201u);  // stored (pending): accepted; the resources follow when the pipeline runs
  EXPECT_FALSE(r.body.empty());
  EXPECT_EQ(g.db().stats().pending, 1u);
}

}  // namespace
