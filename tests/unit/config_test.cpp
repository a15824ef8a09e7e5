// Configuration: defaults, strict checking with one clear line, sender rules, HOST:PORT.
#include "gateway/config/config.hpp"
#include "gateway/ingest/sender_policy.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace {

using namespace carebridge::gateway;
using ::testing::HasSubstr;

std::string error_of(const std::string& json) {
  try {
    config::load_text(json, "test.json");
  } catch (const config::config_error& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsWhenEmpty) {
  const auto c = config::load_text("{}", "test.json");
  EXPECT_EQ(c.mllp.listen.host, "127.0.0.1");
  EXPECT_EQ(c.mllp.listen.port, 2575);
  EXPECT_EQ(c.http.listen.port, 8080);
  EXPECT_EQ(c.mllp.max_frame_bytes, 16u << 20);
  EXPECT_TRUE(c.store.fsync);
  EXPECT_TRUE(c.senders.empty());
}

TEST(Config, ReadsEveryKnownKey) {
  const auto c = config::load_text(R"({
    "data_dir": "/var/lib/carebridge", "log_level": "warn", "shutdown_grace_seconds": 5,
    "threads": 2,
    "mllp": {"listen": "0.0.0.0:6661", "max_frame_bytes": 1000000, "max_connections": 10,
             "max_connections_per_peer": 3, "idle_timeout_seconds": 60,
             "frame_timeout_seconds": 5, "ack_write_timeout_seconds": 2,
             "handshake_timeout_seconds": 3, "tcp_keepalive": false,
             "release2_commit_bytes": true, "fallback_charset": "windows-1252"},
    "http": {"listen": "[::1]:9090"},
    "store": {"max_batch": 64, "fsync": false},
    "senders": [{"name": "mercy", "facilities": ["MERCY", "MERCYEAST"],
                 "certificate_names": ["mercy-engine"], "addresses": ["10.1.0.0/16"],
                 "fallback_charset": "8859/1"}]
  })", "test.json");
  EXPECT_EQ(c.data_dir, "/var/lib/carebridge");
  EXPECT_EQ(c.mllp.listen.host, "0.0.0.0");
  EXPECT_EQ(c.mllp.listen.port, 6661);
  EXPECT_EQ(c.mllp.max_connections, 10u);
  EXPECT_FALSE(c.mllp.tcp_keepalive);
  EXPECT_TRUE(c.mllp.release2_commit_bytes);
  EXPECT_EQ(c.http.listen.host, "::1");
  EXPECT_EQ(c.http.listen.port, 9090);
  EXPECT_EQ(c.store.max_batch, 64u);
  ASSERT_EQ(c.senders.size(), 1u);
  EXPECT_EQ(c.senders[0].facilities.size(), 2u);
  EXPECT_EQ(c.threads, 2u);
}

TEST(Config, RefusesUnknownKeysWithOneLineNamingThem) {
  EXPECT_EQ(error_of(R"({"mllp": {"lisen": "1.2.3.4:5"}})"),
            "config test.json: mllp: unknown key 'lisen'");
  EXPECT_EQ(error_of(R"({"colour": "blue"})"), "config test.json: unknown key 'colour'");
}

TEST(Config, RefusesBadValues) {
  EXPECT_THAT(error_of(R"({"mllp": {"max_frame_bytes": 0}})"), HasSubstr("mllp.max_frame_bytes"));
  EXPECT_THAT(error_of(R"({"mllp": {"max_frame_bytes": "big"}})"), HasSubstr("whole number"));
  EXPECT_THAT(error_of(R"({"mllp": {"idle_timeout_seconds": -1}})"), HasSubstr("idle_timeout_seconds"));
  EXPECT_THAT(error_of(R"({"mllp": {"listen": "nonsense"}})"), HasSubstr("HOST:PORT"));
  EXPECT_THAT(error_of(R"({"mllp": {"listen": "1.2.3.4:99999"}})"), HasSubstr("port"));
  EXPECT_THAT(error_of(R"({"log_level": "chatty"})"), HasSubstr("log_level"));
  EXPECT_THAT(error_of(R"({"mllp": {"fallback_charset": "klingon"}})"), HasSubstr("klingon"));
  EXPECT_THAT(error_of(R"({"mllp": {"tls": {"certificate": "/nope.crt", "private_key": "/nope.key"}}})"),
              HasSubstr("file not found: /nope.crt"));
  EXPECT_THAT(error_of(R"({"senders": [{"name": "x", "facilities": ["A"], "addresses": ["10.0.0.0/99"]}]})"),
              HasSubstr("CIDR"));
  EXPECT_THAT(error_of(R"({"senders": [{"name": "x", "facilities": ["A"]}]})"),
              HasSubstr("certificate_names and/or addresses"));
  EXPECT_THAT(error_of("{not json"), HasSubstr("not valid JSON"));
  EXPECT_THAT(error_of("[]"), HasSubstr("JSON object"));
  // Every error is one line.
  EXPECT_EQ(error_of(R"({"mllp": {"max_connections": -5}})").find('\n'), std::string::npos);
}

TEST(Config, GroupClients) {
  const auto c = config::load_text(R"({"group_clients": [
      {"name": "riverside", "group": "G1", "certificate_names": ["cm.riverside.example.org"]},
      {"name": "harbor", "group": "G2", "addresses": ["10.1.0.0/16"]}],
      "fhir": {"allow_insecure_loopback_endpoints": true}})",
                                   "test.json");
  ASSERT_EQ(c.group_clients.size(), 2u);
  EXPECT_EQ(c.group_clients[0].group, "G1");
  EXPECT_EQ(c.group_clients[0].certificate_names, std::vector<std::string>{"cm.riverside.example.org"});
  EXPECT_EQ(c.group_clients[1].addresses, std::vector<std::string>{"10.1.0.0/16"});
  EXPECT_TRUE(c.fhir.allow_insecure_loopback_endpoints);
  EXPECT_FALSE(config::load_text("{}", "test.json").fhir.allow_insecure_loopback_endpoints);
  // A client without a condition would be anybody; a bad address; no group.
  EXPECT_THAT(error_of(R"({"group_clients": [{"name": "x", "group": "G1"}]})"),
              HasSubstr("needs certificate_names or addresses"));
  EXPECT_THAT(error_of(R"({"group_clients": [{"name": "x", "group": "G1", "addresses": ["10.0.0.0/99"]}]})"),
              HasSubstr("addresses"));
  EXPECT_THAT(error_of(R"({"group_clients": [{"name": "x", "addresses": ["10.0.0.1"]}]})"),
              HasSubstr("group"));
  EXPECT_THAT(error_of(R"({"group_clients": {}})"), HasSubstr("array"));
}

TEST(Config, Auth) {
  const auto d = config::load_text("{}", "t.json");
  EXPECT_EQ(d.auth.mode, "smart");  // tokens unless a site chooses certificates alone
  EXPECT_EQ(d.auth.token_lifetime_seconds, 300);
  const auto c = config::load_text(R"({"auth": {"mode": "certificate", "token_lifetime_seconds": 120,
      "token_url": "https://gw.example.org/auth/token", "jwks_ca_file": "/etc/ssl/ca.pem",
      "allow_insecure_loopback_jwks": true}})",
                                   "t.json");
  EXPECT_EQ(c.auth.mode, "certificate");
  EXPECT_EQ(c.auth.token_lifetime_seconds, 120);
  EXPECT_EQ(c.auth.token_url, "https://gw.example.org/auth/token");
  EXPECT_EQ(c.auth.jwks_ca_file, "/etc/ssl/ca.pem");
  EXPECT_TRUE(c.auth.allow_insecure_loopback_jwks);
  EXPECT_THAT(error_of(R"({"auth": {"mode": "none"}})"), HasSubstr("auth.mode"));
  EXPECT_THAT(error_of(R"({"auth": {"token_lifetime_seconds": 86400}})"),
              HasSubstr("auth.token_lifetime_seconds"));
  EXPECT_THAT(error_of(R"({"auth": {"token_url": "gw/token"}})"), HasSubstr("auth.token_url"));
  EXPECT_THAT(error_of(R"({"auth": {"scopes": "x"}})"), HasSubstr("auth: unknown key 'scopes'"));
}

TEST(Config, CareLaceWeights) {
  EXPECT_EQ(config::load_text("{}", "t.json").care.lace_weights,
            carebridge::gateway::risk::weight_set::lace);
  EXPECT_EQ(config::load_text(R"({"care": {"lace_weights": "quan-2011"}})", "t.json")
                .care.lace_weights,
            carebridge::gateway::risk::weight_set::quan_2011);
  EXPECT_THAT(error_of(R"({"care": {"lace_weights": "elixhauser"}})"),
              HasSubstr("care.lace_weights"));
  EXPECT_THAT(error_of(R"({"care": {"weights": "lace"}})"), HasSubstr("care: unknown key 'weights'"));
}

TEST(SenderPolicy, CertificateAndAddressConditions) {
  ingest::sender_policy p({{"mercy", {"MERCY"}, {"mercy-engine"}, {"127.0.0.0/8"}, {}},
                           {"lab", {"LAB", "LAB2"}, {}, {"10.2.0.0/16", "::1"}, {}},
                           {"any", {"*"}, {"superuser"}, {}, {}}});
  ingest::connection_info c;
  c.peer_address = "127.0.0.1";
  c.certificate_names = {"mercy-engine"};
  auto g = p.grant(c);
  EXPECT_TRUE(g.allows("MERCY"));
  EXPECT_FALSE(g.allows("LAB"));
  EXPECT_EQ(g.sender_name(), "mercy");
  c.peer_address = "192.168.1.1";  // right certificate, wrong network
  EXPECT_FALSE(p.grant(c).allows("MERCY"));
  c.certificate_names.clear();
  c.peer_address = "10.2.200.3";
  EXPECT_TRUE(p.grant(c).allows("LAB2"));
  c.peer_address = "::1";
  EXPECT_TRUE(p.grant(c).allows("LAB"));
  c.certificate_names = {"superuser"};
  EXPECT_TRUE(p.grant(c).allows("ANYTHING"));
  EXPECT_TRUE(ingest::sender_policy().grant(c).allows("ANYTHING"));  // open policy
  // The whole subject names a certificate too.
  ingest::sender_policy by_subject({{"dn", {"DN"}, {"CN=mercy-engine,O=Mercy"}, {}, {}}});
  ingest::connection_info d;
  d.certificate_subject = "CN=mercy-engine,O=Mercy";
  d.certificate_names = {"mercy-engine"};
  EXPECT_TRUE(by_subject.grant(d).allows("DN"));
  d.certificate_subject = "CN=mercy-engine,O=Other";
  EXPECT_FALSE(by_subject.grant(d).allows("DN"));
}

TEST(SenderPolicy, AddressMatching) {
  EXPECT_TRUE(ingest::address_in("10.1.2.3", "10.1.0.0/16"));
  EXPECT_FALSE(ingest::address_in("10.2.2.3", "10.1.0.0/16"));
  EXPECT_TRUE(ingest::address_in("10.1.2.3", "10.1.2.3"));
  EXPECT_TRUE(ingest::address_in("10.1.2.3", "0.0.0.0/0"));
  EXPECT_TRUE(ingest::address_in("::ffff:10.1.2.3", "10.1.0.0/16"));
  EXPECT_TRUE(ingest::address_in("fd00::1", "fd00::/8"));
  EXPECT_FALSE(ingest::address_in("10.1.2.3", "fd00::/8"));
  EXPECT_FALSE(ingest::address_in("not-an-ip", "10.0.0.0/8"));
  EXPECT_FALSE(ingest::valid_cidr("10.0.0.0/33"));
  EXPECT_TRUE(ingest::valid_cidr("10.0.0.0/32"));
}

TEST(Config, HostPort) {
  EXPECT_EQ(config::parse_host_port("localhost:0", "x").host, "127.0.0.1");
  EXPECT_EQ(config::parse_host_port("[::1]:2575", "x").port, 2575);
  EXPECT_THROW(config::parse_host_port(":2575", "x"), config::config_error);
  EXPECT_THROW(config::parse_host_port("host:", "x"), config::config_error);
}

}  // namespace

namespace {

TEST(Config, TheDeployExampleLoads) {
  std::ifstream in(CAREBRIDGE_SOURCE_DIR "/deploy/carebridge.example.json");
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  ASSERT_FALSE(text.empty());
  // The TLS files of the example do not exist here: point them at a file that does.
  const std::string stand_in = CAREBRIDGE_SOURCE_DIR "/deploy/carebridge.example.json";
  for (const char* p : {"/etc/carebridge/tls/server.crt", "/etc/carebridge/tls/server.key",
                        "/etc/carebridge/tls/hospital-ca.crt"})
    text.replace(text.find(p), std::string(p).size(), stand_in);
  const auto c = carebridge::gateway::config::load_text(text, "carebridge.example.json");
  EXPECT_EQ(c.data_dir, "/var/lib/carebridge");
  EXPECT_EQ(c.mllp.listen.host, "0.0.0.0");
  ASSERT_TRUE(c.mllp.tls.has_value());
  EXPECT_EQ(c.senders.size(), 2u);
  EXPECT_EQ(c.senders[0].facilities.size(), 2u);
  EXPECT_EQ(c.group_clients.size(), 1u);
  EXPECT_EQ(c.notify.failure_threshold, 15u);
}

TEST(Config, Notify) {
  const auto c = config::load_text(R"({"notify": {"ca_file": "/etc/ca.pem",
      "attempt_timeout_seconds": 5, "failure_threshold": 3}})",
                                   "test.json");
  EXPECT_EQ(c.notify.ca_file, "/etc/ca.pem");
  EXPECT_EQ(c.notify.attempt_timeout_seconds, 5.0);
  EXPECT_EQ(c.notify.failure_threshold, 3u);
  EXPECT_EQ(c.notify.backoff_initial_ms, 1000u);  // defaults
  EXPECT_EQ(c.notify.backoff_max_ms, 300'000u);
  const auto fast = config::load_text(
      R"({"notify": {"backoff_initial_ms": 50, "backoff_max_ms": 200}})", "test.json");
  EXPECT_EQ(fast.notify.backoff_initial_ms, 50u);
  EXPECT_EQ(fast.notify.backoff_max_ms, 200u);
  EXPECT_THAT(error_of(R"({"notify": {"backoff_initial_ms": 0}})"),
              HasSubstr("backoff_initial_ms"));
  EXPECT_THAT(error_of(R"({"notify": {"backoff_max_ms": 3600001}})"),
              HasSubstr("backoff_max_ms"));
  EXPECT_THAT(error_of(R"({"notify": {"backoff_initial_ms": 500, "backoff_max_ms": 100}})"),
              HasSubstr("must not be above backoff_max_ms"));
  EXPECT_THAT(error_of(R"({"notify": {"certificate": "/a.crt"}})"), HasSubstr("go together"));
  EXPECT_THAT(error_of(R"({"notify": {"attempt_timeout_seconds": 0}})"),
              HasSubstr("attempt_timeout_seconds"));
  EXPECT_THAT(error_of(R"({"notify": {"failure_threshold": 0}})"), HasSubstr("failure_threshold"));
  EXPECT_THAT(error_of(R"({"notify": {"retries": 3}})"), HasSubstr("unknown key 'retries'"));
}

}  // namespace

// ---- "fhir" (the FHIR REST API) ------------------------------------------------------------------

namespace {

TEST(Config, FhirKeys) {
  const auto d = config::load_text("{}", "test.json");
  EXPECT_EQ(d.fhir.default_facility, "FHIR");
  EXPECT_EQ(d.fhir.max_body_bytes, 4u << 20);
  EXPECT_EQ(d.fhir.processing_wait_seconds, 5.0);
  const auto c = config::load_text(R"({"fhir": {"default_facility": "STBRIGID", "max_body_bytes": 65536,
      "max_entries": 50, "base_url": "https://gw.example.org/fhir/", "processing_wait_seconds": 0}})",
                                   "test.json");
  EXPECT_EQ(c.fhir.default_facility, "STBRIGID");
  EXPECT_EQ(c.fhir.max_body_bytes, 65536u);
  EXPECT_EQ(c.fhir.max_entries, 50u);
  EXPECT_EQ(c.fhir.base_url, "https://gw.example.org/fhir");
  EXPECT_EQ(c.fhir.processing_wait_seconds, 0.0);
  EXPECT_THAT(error_of(R"({"fhir": {"default_facility": ""}})"), HasSubstr("fhir.default_facility"));
  EXPECT_THAT(error_of(R"({"fhir": {"base_url": "gw.example.org"}})"), HasSubstr("fhir.base_url"));
  EXPECT_THAT(error_of(R"({"fhir": {"processing_wait_seconds": 61}})"),
              HasSubstr("fhir.processing_wait_seconds"));
  EXPECT_THAT(error_of(R"({"fhir": {"max_body_bytes": 0}})"), HasSubstr("fhir.max_body_bytes"));
  EXPECT_THAT(error_of(R"({"fhir": {"nope": 1}})"), HasSubstr("unknown key 'nope'"));
}

}  // namespace
