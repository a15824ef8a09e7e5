// SMART Backend Services over real loopback TLS with the dev CA: the smart-configuration, POST
// /auth/token with static and URL-registered keys (the JWK Set served by a second HTTPS server,
// fetched once and cached, redirects refused, an unreachable URL), certificate binding, and the
// OAuth error answers.
#include "adapters/fhir_rest/smart_api.hpp"
#include "adapters/fhir_rest/http_server.hpp"
#include "gateway/auth/token_service.hpp"
#include "tests/e2e/process.hpp"
#include "tests/integration/http_client.hpp"
#include "tests/support/auth_keys.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <thread>

namespace {

namespace auth = carebridge::gateway::auth;
namespace fhir_rest = carebridge::adapters::fhir_rest;
using namespace carebridge::test_http;
using namespace carebridge::test_auth;
using namespace std::chrono_literals;

const fields form_type{{"Content-Type", "application/x-www-form-urlencoded"}};

carebridge::adapters::tls::server_options tls_files() {
  return {(certs_dir() / "server.crt").string(), (certs_dir() / "server.key").string(),
          (certs_dir() / "ca.crt").string(), false};
}

// A client's JWKS host: GET /jwks.json (counted), GET /moved (302 to /jwks.json).
class jwks_host {
 public:
  explicit jwks_host(std::string jwks) : jwks_(std::move(jwks)) {
    fhir_rest::http_options o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.tls = tls_files();
    server_ = std::make_unique<fhir_rest::http_server>(ioc_, metrics_, o);
    server_->add("GET", "/jwks.json", [this](const fhir_rest::http_request&) {
      ++fetches;
      return fhir_rest::http_response{
          200, "application/json", jwks_, {{"Cache-Control", "max-age=120"}}};
    });
    server_->add("GET", "/moved", [](const fhir_rest::http_request&) {
      return fhir_rest::http_response{302, "text/plain", "", {{"Location", "/jwks.json"}}};
    });
    port_ = server_->bind().port();
    server_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~jwks_host() {
    server_->stop(100ms);
    thread_.join();
  }
  std::string url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::atomic<int> fetches{0};

 private:
  std::string jwks_;
  carebridge::gateway::obs::registry metrics_;
  boost::asio::io_context ioc_;
  std::unique_ptr<fhir_rest::http_server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

class SmartApiTls : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = std::make_unique<jwks_host>(jwks_of({{ec_key().get(), "m1"}}));
    registry_ = std::make_unique<auth::client_registry>(dir_ / "clients.db", 0ms);
    const auto now = std::chrono::system_clock::now();
    auth::registered_client g;
    g.client_id = "riverside";
    g.kind = auth::role::group;
    g.group = "G-RIVERSIDE";
    g.scopes = "system/*.rs system/Subscription.crud";
    g.jwks = jwks_of({{rsa_key().get(), "r1"}});
    registry_->put(g, now);
    auth::registered_client m = g;
    m.client_id = "mercy";
    m.kind = auth::role::sender;
    m.group.clear();
    m.facilities = {"MERCY"};
    m.scopes = "system/Encounter.cu";
    m.jwks.clear();
    m.jwks_url = host_->url("/jwks.json");
    m.certificate_names = {"mercy-engine"};
    registry_->put(m, now);
    auth::registered_client moved = g;
    moved.client_id = "moved";
    moved.jwks.clear();
    moved.jwks_url = host_->url("/moved");
    registry_->put(moved, now);
    auth::registered_client gone = moved;
    gone.client_id = "gone";
    gone.jwks_url = "https://127.0.0.1:1/jwks.json";
    registry_->put(gone, now);
    tokens_ = std::make_unique<auth::token_service>(*registry_);

    fhir_rest::http_options o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.tls = tls_files();
    server_ = std::make_unique<fhir_rest::http_server>(ioc_, metrics_, o);
    port_ = server_->bind().port();
    endpoint_ = "https://127.0.0.1:" + std::to_string(port_) + "/auth/token";
    fhir_rest::smart_api_options so;
    so.token_endpoint = endpoint_;
    so.issuer = "https://127.0.0.1:" + std::to_string(port_);
    so.jwks_fetch.ca_file = (certs_dir() / "ca.crt").string();
    so.jwks_fetch.attempt_timeout = 5s;
    smart_ = fhir_rest::register_smart_api(*server_, ioc_, *tokens_, so);
    server_->start();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void TearDown() override {
    smart_->shutdown();
    server_->stop(200ms);
    thread_.join();
    host_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string assertion(EVP_PKEY* key, const std::string& kid, const std::string& client) {
    assertion_claims c;
    c.iss = c.sub = client;
    c.aud = {endpoint_};
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    c.exp = now + 240;
    c.iat = now;
    c.jti = "jti-" + std::to_string(++jti_);
    return sign(key, kid, c);
  }
  std::string form(const std::string& a, const std::string& scope) { return token_form(a, scope); }
  reply token(const std::string& body, const std::string& cert = {}) {
    return call_tls(port_, cert, "POST", "/auth/token", body, form_type);
  }
  static void expect_error(const reply& r, unsigned status, const std::string& error) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.header("cache-control"), "no-store");
    EXPECT_EQ(r.header("pragma"), "no-cache");
    const auto d = json(r.body);
    ASSERT_TRUE(d.IsObject());
    EXPECT_EQ(std::string(d["error"].GetString()), error) << r.body;
    EXPECT_TRUE(d["error_description"].IsString());
    if (status == 401) {
      EXPECT_THAT(r.header("www-authenticate"), HasSubstr("Bearer"));
    }
  }

  std::filesystem::path dir_ = [] {
    auto d = std::filesystem::temp_directory_path() /
             ("cb-smart-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    return d;
  }();
  std::unique_ptr<jwks_host> host_;
  std::unique_ptr<auth::client_registry> registry_;
  std::unique_ptr<auth::token_service> tokens_;
  carebridge::gateway::obs::registry metrics_;
  boost::asio::io_context ioc_;
  std::unique_ptr<fhir_rest::http_server> server_;
  std::shared_ptr<fhir_rest::smart_api> smart_;
  std::uint16_t port_ = 0;
  std::string endpoint_;
  std::thread thread_;
  int jti_ = 0;
};

TEST_F(SmartApiTls, SmartConfigurationAtBothPaths) {
  for (const char* path :
       {"/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"}) {
    const auto r = call_tls(port_, "", "GET", path);
    ASSERT_EQ(r.status, 200u) << path;
    EXPECT_THAT(r.header("content-type"), HasSubstr("application/json"));
    const auto d = json(r.body);
    EXPECT_EQ(std::string(d["token_endpoint"].GetString()), endpoint_);
    EXPECT_STREQ(d["token_endpoint_auth_methods_supported"][0].GetString(), "private_key_jwt");
    EXPECT_STREQ(d["token_endpoint_auth_signing_alg_values_supported"][0].GetString(), "RS384");
    EXPECT_STREQ(d["token_endpoint_auth_signing_alg_values_supported"][1].GetString(), "ES384");
    EXPECT_STREQ(d["grant_types_supported"][0].GetString(), "client_credentials");
    EXPECT_STREQ(d["capabilities"][0].GetString(), "client-confidential-asymmetric");
    EXPECT_TRUE(d["scopes_supported"].IsArray());
    EXPECT_TRUE(d.HasMember("issuer"));
  }
}

TEST_F(SmartApiTls, IssuesATokenForAStaticKey) {
  const auto r = token(form(assertion(rsa_key().get(), "r1", "riverside"), "system/*.rs"));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.header("cache-control"), "no-store");
  EXPECT_EQ(r.header("pragma"), "no-cache");
  const auto d = json(r.body);
  EXPECT_STREQ(d["token_type"].GetString(), "bearer");
  EXPECT_EQ(d["expires_in"].GetInt(), 300);
  EXPECT_STREQ(d["scope"].GetString(), "system/*.rs");
  const std::string access = d["access_token"].GetString();
  const auto who = tokens_->resolve(access, {}, std::chrono::system_clock::now());
  ASSERT_TRUE(who);
  EXPECT_EQ(who->group, "G-RIVERSIDE");
}

TEST_F(SmartApiTls, AnswersOAuthErrors) {
  // Replay of the same assertion.
  const std::string a = assertion(rsa_key().get(), "r1", "riverside");
  ASSERT_EQ(token(form(a, "system/*.rs")).status, 200u);
  expect_error(token(form(a, "system/*.rs")), 401, "invalid_client");
  expect_error(token(form(assertion(rsa_key().get(), "r1", "riverside"), "system/Patient.cud")),
               400, "invalid_scope");
  expect_error(token("grant_type=authorization_code&code=x"), 400, "unsupported_grant_type");
  expect_error(call_tls(port_, "", "POST", "/auth/token", form(a, "system/*.rs"),
                        {{"Content-Type", "application/json"}}),
               400, "invalid_request");
  expect_error(token(form(assertion(ec_key().get(), "r1", "riverside"), "system/*.rs")), 401,
               "invalid_client");  // ES384 under an RSA kid
  EXPECT_EQ(call_tls(port_, "", "GET", "/auth/token").status, 405u);
}

TEST_F(SmartApiTls, FetchesAJwksUrlOnceAndHonoursTheBinding) {
  // Bound to the mercy-engine certificate: without it, refused before any fetch.
  expect_error(token(form(assertion(ec_key().get(), "m1", "mercy"), "system/Encounter.cu")), 401,
               "invalid_client");
  EXPECT_EQ(host_->fetches.load(), 0);
  const auto r =
      token(form(assertion(ec_key().get(), "m1", "mercy"), "system/Encounter.cu"), "client-mercy");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(host_->fetches.load(), 1);
  const auto d = json(r.body);
  EXPECT_STREQ(d["scope"].GetString(), "system/Encounter.cu");
  // A second request uses the cached set (max-age=120).
  ASSERT_EQ(
      token(form(assertion(ec_key().get(), "m1", "mercy"), "system/Encounter.cu"), "client-mercy")
          .status,
      200u);
  EXPECT_EQ(host_->fetches.load(), 1);
  // An unknown kid right after a fetch: no refetch (at most once per 30 s), refused.
  expect_error(
      token(form(assertion(ec_key().get(), "m9", "mercy"), "system/Encounter.cu"), "client-mercy"),
      401, "invalid_client");
  EXPECT_EQ(host_->fetches.load(), 1);
  // Another client's certificate: refused.
  expect_error(
      token(form(assertion(ec_key().get(), "m1", "mercy"), "system/Encounter.cu"), "client-other"),
      401, "invalid_client");
}

TEST_F(SmartApiTls, RefusesRedirectsAndUnreachableJwksUrls) {
  const auto moved = token(form(assertion(rsa_key().get(), "r1", "moved"), "system/*.rs"));
  expect_error(moved, 401, "invalid_client");
  EXPECT_THAT(moved.body, HasSubstr("could not be fetched"));
  EXPECT_EQ(host_->fetches.load(), 0);  // the redirect was not followed
  const auto gone = token(form(assertion(rsa_key().get(), "r1", "gone"), "system/*.rs"));
  expect_error(gone, 401, "invalid_client");
  EXPECT_THAT(gone.body, HasSubstr("could not be fetched"));
}

}  // namespace
