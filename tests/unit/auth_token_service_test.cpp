// The token service (gateway/auth/token_service): every rule of the client-assertion exchange,
// the JWKS-URL protocol with its cache, issued tokens and their resolution and revocation.
#include "gateway/auth/token_service.hpp"

#include "tests/support/auth_keys.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

namespace {

namespace auth = carebridge::gateway::auth;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace carebridge::test_auth;
using clock_type = std::chrono::system_clock;

constexpr const char* endpoint = "https://gw.example/auth/token";
constexpr const char* jwks_url = "https://riverside.example/.well-known/jwks.json";

class AuthTokenService : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cb-tokens-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    registry_ = std::make_unique<auth::client_registry>(dir_ / "clients.db", 0ms);
    auth::registered_client c;
    c.client_id = "riverside";
    c.kind = auth::role::group;
    c.group = "G-RIVERSIDE";
    c.scopes = "system/Subscription.crud system/*.rs";
    c.jwks = jwks_of({{ec_key().get(), "ec1"}, {rsa_key().get(), "rsa1"}});
    registry_->put(c, now_);
    auth::registered_client u;
    u.client_id = "mercy";
    u.kind = auth::role::sender;
    u.facilities = {"MERCY"};
    u.scopes = "system/Encounter.cu";
    u.jwks_url = jwks_url;
    registry_->put(u, now_);
    auth::token_options o;
    o.random = [this](std::span<unsigned char> out) {
      for (auto& b : out) b = static_cast<unsigned char>(++counter_);
      return true;
    };
    service_ = std::make_unique<auth::token_service>(*registry_, o);
  }
  void TearDown() override {
    service_.reset();
    registry_.reset();
    fs::remove_all(dir_);
  }

  assertion_claims claims(const std::string& client = "riverside") {
    assertion_claims c;
    c.iss = c.sub = client;
    c.aud = {endpoint};
    c.exp = secs(now_) + 240;
    c.jti = "jti-" + std::to_string(++jti_);
    return c;
  }
  static std::int64_t secs(clock_type::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  }
  std::string form(const std::string& assertion, const std::string& scope = "system/*.rs") {
    return token_form(assertion, scope);
  }
  auth::exchange_result run(const std::string& body,
                            const carebridge::gateway::ingest::connection_info& conn = {}) {
    const std::vector<std::string> aud{endpoint};
    return service_->exchange(body, conn, aud, now_);
  }
  // The refusal's error, failing the test when a token was issued.
  auth::token_refused refused(const auth::exchange_result& r) {
    if (const auto* x = std::get_if<auth::token_refused>(&r)) return *x;
    ADD_FAILURE() << "not refused";
    return {};
  }
  auth::token_issued issued(const auth::exchange_result& r) {
    if (const auto* x = std::get_if<auth::token_issued>(&r)) return *x;
    if (const auto* x = std::get_if<auth::token_refused>(&r))
      ADD_FAILURE() << "refused: " << auth::oauth_error_name(x->error) << ": " << x->description;
    else
      ADD_FAILURE() << "jwks needed";
    return {};
  }
  void expect_refused(const auth::exchange_result& r, auth::oauth_error e,
                      const std::string& text) {
    const auto x = refused(r);
    EXPECT_EQ(x.error, e) << x.description;
    EXPECT_NE(x.description.find(text), std::string::npos) << x.description;
  }

  fs::path dir_;
  std::unique_ptr<auth::client_registry> registry_;
  std::unique_ptr<auth::token_service> service_;
  clock_type::time_point now_{std::chrono::seconds(1700000000)};
  int counter_ = 0;
  int jti_ = 0;
};

TEST_F(AuthTokenService, IssuesATokenForEachAlg) {
  for (const auto& [key, kid] :
       {std::pair{ec_key().get(), "ec1"}, std::pair{rsa_key().get(), "rsa1"}}) {
    const auto t = issued(run(form(sign(key, kid, claims()))));
    EXPECT_EQ(t.expires_in, 300);
    EXPECT_EQ(t.scope, "system/*.rs");
    EXPECT_EQ(t.client_id, "riverside");
    EXPECT_EQ(t.access_token.size(), 43u);  // 256 bits, base64url
    const auto who = service_->resolve(t.access_token, {}, now_ + 10s);
    ASSERT_TRUE(who);
    EXPECT_EQ(who->client_id, "riverside");
    EXPECT_EQ(who->kind, auth::role::group);
    EXPECT_EQ(who->group, "G-RIVERSIDE");
    EXPECT_TRUE(who->by_token);
    EXPECT_TRUE(who->scopes.permits("Encounter", auth::action::read));
    EXPECT_FALSE(who->scopes.permits("Subscription", auth::action::create));
  }
  EXPECT_EQ(service_->active_tokens(), 2u);
}

TEST_F(AuthTokenService, GrantsTheIntersectionOfScopes) {
  const auto t = issued(run(form(sign(ec_key().get(), "ec1", claims()),
                                 "system/Subscription.cruds system/Patient.rs launch")));
  // Subscription: crud from its own scope, s from *.rs.
  EXPECT_EQ(t.scope, "system/Subscription.cruds system/Patient.rs");
  expect_refused(run(form(sign(ec_key().get(), "ec1", claims()), "system/Patient.cud")),
                 auth::oauth_error::invalid_scope, "none of the requested scopes");
  expect_refused(run(form(sign(ec_key().get(), "ec1", claims()), "patient/*.rs")),
                 auth::oauth_error::invalid_scope, "none");
}

TEST_F(AuthTokenService, RefusesBadRequests) {
  const std::string a = sign(ec_key().get(), "ec1", claims());
  expect_refused(run("grant_type=password&username=x"), auth::oauth_error::unsupported_grant_type,
                 "client_credentials");
  expect_refused(run("scope=x"), auth::oauth_error::invalid_request, "grant_type");
  expect_refused(run("grant_type=client_credentials&scope=system%2F*.rs"),
                 auth::oauth_error::invalid_request, "client_assertion");
  expect_refused(
      run("grant_type=client_credentials&client_assertion_type=urn%3Ax&client_assertion=" + a +
          "&scope=system%2F*.rs"),
      auth::oauth_error::invalid_client, "client_assertion_type");
  expect_refused(run(form(a) + "&grant_type=client_credentials"),
                 auth::oauth_error::invalid_request, "repeated");
  expect_refused(run(form(a, "")), auth::oauth_error::invalid_request, "scope");
  expect_refused(run(form(a) + "&x=%zz"), auth::oauth_error::invalid_request, "malformed");
  expect_refused(run(form("not.a.jws")), auth::oauth_error::invalid_client, "client assertion");
  EXPECT_EQ(auth::oauth_error_status(auth::oauth_error::invalid_client), 401u);
  EXPECT_EQ(auth::oauth_error_status(auth::oauth_error::invalid_scope), 400u);
}

TEST_F(AuthTokenService, RefusesEachClaimRule) {
  auto c = claims();
  c.sub = "someone-else";
  expect_refused(run(form(sign(ec_key().get(), "ec1", c))), auth::oauth_error::invalid_client,
                 "iss and sub");
  c = claims("nobody");
  expect_refused(run(form(sign(ec_key().get(), "ec1", c))), auth::oauth_error::invalid_client,
                 "unknown");
  c = claims();
  c.aud = {"https://other.example/token"};
  expect_refused(run(form(sign(ec_key().get(), "ec1", c))), auth::oauth_error::invalid_client,
                 "aud");
  c = claims();
  c.aud = {"https://other.example/token", endpoint};  // an array naming us is fine
  issued(run(form(sign(ec_key().get(), "ec1", c))));
  c = claims();
  c.aud = {endpoint};
  c.aud_as_array = true;
  issued(run(form(sign(ec_key().get(), "ec1", c))));
  c = claims();
  c.exp.reset();
  expect_refused(run(form(sign(ec_key().get(), "ec1", c))), auth::oauth_error::invalid_client,
                 "exp missing");
  c = claims();
  c.exp = secs(now_) - 61;  // past the 60 s skew
  expect_refused(run(form(sign(ec_key().get(), "ec1", c))), auth::oauth_error::invalid_client,
                 "expired");
  c = claims();
  c.exp = secs(now_) - 30;  // within the skew
  issued(run(form(sign(ec_key().get(), "ec1", c))));
  c = claims();
  c.exp = secs(now_) + 300 + 61;
  expect_refused(run(form(sign(ec_key().get(), "ec1", c))), auth::oauth_error::invalid_client,
                 "5 minutes");
  c = claims();
  c.nbf = secs(now_) + 120;
  expect_refused(run(form(sign(ec_key().get(), "ec1", c))), auth::oauth_error::invalid_client,
                 "nbf");
  c = claims();
  c.iat = secs(now_) + 120;
  expect_refused(run(form(sign(ec_key().get(), "ec1", c))), auth::oauth_error::invalid_client,
                 "iat");
  c = claims();
  c.jti.clear();
  expect_refused(run(form(sign(ec_key().get(), "ec1", c))), auth::oauth_error::invalid_client,
                 "jti");
}

TEST_F(AuthTokenService, RefusesHeaderRules) {
  const std::string body = claims_json(claims());
  expect_refused(run(form(sign_with_header(
                     ec_key().get(), R"({"alg":"ES384","kid":"ec1","typ":"JOSE+JSON"})", body))),
                 auth::oauth_error::invalid_client, "typ");
  expect_refused(run(form(sign_with_header(ec_key().get(), R"({"alg":"ES384"})", body))),
                 auth::oauth_error::invalid_client, "kid missing");
  expect_refused(run(form(sign_with_header(
                     ec_key().get(),
                     R"({"alg":"ES384","kid":"ec1","jku":"https://evil.example/jwks"})", body))),
                 auth::oauth_error::invalid_client, "jku");
  expect_refused(run(form(sign(ec_key().get(), "nope", claims()))),
                 auth::oauth_error::invalid_client, "kid");
  // Signed with another key under a registered kid.
  expect_refused(run(form(sign(other_ec_key().get(), "ec1", claims()))),
                 auth::oauth_error::invalid_client, "does not verify");
  // alg none.
  const std::string none = auth::base64url_encode(R"({"alg":"none","kid":"ec1"})") + "." +
                           auth::base64url_encode(body) + ".";
  expect_refused(run(form(none)), auth::oauth_error::invalid_client, "client assertion");
}

TEST_F(AuthTokenService, RefusesAReplayedJti) {
  auto c = claims();
  issued(run(form(sign(ec_key().get(), "ec1", c))));
  expect_refused(run(form(sign(ec_key().get(), "ec1", c))), auth::oauth_error::invalid_client,
                 "jti already used");
  // Another client may use the same jti.
  // After the assertion's life (exp + skew) the entry may go: it could not be accepted anyway.
  now_ += 240s + 61s;
  c.exp = secs(now_) + 100;
  issued(run(form(sign(ec_key().get(), "ec1", c))));
}

TEST_F(AuthTokenService, ReplayCacheFullRefusesRatherThanForgets) {
  auth::token_options o;
  o.max_replay_entries = 2;
  auth::token_service small(*registry_, o);
  const std::vector<std::string> aud{endpoint};
  auto ex = [&](const assertion_claims& c) {
    return small.exchange(form(sign(ec_key().get(), "ec1", c)), {}, aud, now_);
  };
  const auto c1 = claims();
  issued(ex(c1));
  issued(ex(claims()));
  expect_refused(ex(claims()), auth::oauth_error::invalid_request, "try again later");
  expect_refused(ex(c1), auth::oauth_error::invalid_client, "jti already used");
}

TEST_F(AuthTokenService, DisabledClientAndRevocation) {
  const auto t = issued(run(form(sign(ec_key().get(), "ec1", claims()))));
  ASSERT_TRUE(service_->resolve(t.access_token, {}, now_));
  registry_->set_enabled("riverside", false, now_);
  EXPECT_FALSE(service_->resolve(t.access_token, {}, now_));
  expect_refused(run(form(sign(ec_key().get(), "ec1", claims()))),
                 auth::oauth_error::invalid_client, "disabled");
  registry_->set_enabled("riverside", true, now_);
  // Re-enabled: tokens from before the change stay revoked (the revision moved on).
  EXPECT_FALSE(service_->resolve(t.access_token, {}, now_));
  const auto t2 = issued(run(form(sign(ec_key().get(), "ec1", claims()))));
  EXPECT_TRUE(service_->resolve(t2.access_token, {}, now_));
  registry_->remove("riverside");
  EXPECT_FALSE(service_->resolve(t2.access_token, {}, now_));
}

TEST_F(AuthTokenService, TokensExpireAndAreSwept) {
  const auto t = issued(run(form(sign(ec_key().get(), "ec1", claims()))));
  EXPECT_TRUE(service_->resolve(t.access_token, {}, now_ + 299s));
  EXPECT_FALSE(service_->resolve(t.access_token, {}, now_ + 300s));
  EXPECT_FALSE(service_->resolve("", {}, now_));
  EXPECT_FALSE(service_->resolve(t.access_token + "x", {}, now_));
  EXPECT_EQ(service_->active_tokens(), 1u);
  service_->sweep(now_ + 301s);
  EXPECT_EQ(service_->active_tokens(), 0u);
}

TEST_F(AuthTokenService, TokenCountIsBounded) {
  auth::token_options o;
  o.max_tokens = 1;
  auth::token_service small(*registry_, o);
  const std::vector<std::string> aud{endpoint};
  issued(small.exchange(form(sign(ec_key().get(), "ec1", claims())), {}, aud, now_));
  expect_refused(small.exchange(form(sign(ec_key().get(), "ec1", claims())), {}, aud, now_),
                 auth::oauth_error::invalid_request, "too many active tokens");
  // Once the first has expired, there is room again.
  now_ += 301s;
  issued(small.exchange(form(sign(ec_key().get(), "ec1", claims())), {}, aud, now_));
}

TEST_F(AuthTokenService, CertificateBinding) {
  auto c = *registry_->find("riverside");
  c.certificate_names = {"riverside.test"};
  registry_->put(c, now_);
  carebridge::gateway::ingest::connection_info plain, right, wrong;
  right.tls = wrong.tls = true;
  right.certificate_names = {"riverside-gw", "riverside.test"};
  wrong.certificate_names = {"mercy-engine"};
  expect_refused(run(form(sign(ec_key().get(), "ec1", claims())), plain),
                 auth::oauth_error::invalid_client, "certificate");
  expect_refused(run(form(sign(ec_key().get(), "ec1", claims())), wrong),
                 auth::oauth_error::invalid_client, "certificate");
  const auto t = issued(run(form(sign(ec_key().get(), "ec1", claims())), right));
  EXPECT_TRUE(service_->resolve(t.access_token, right, now_));
  EXPECT_FALSE(service_->resolve(t.access_token, wrong, now_));
  EXPECT_FALSE(service_->resolve(t.access_token, plain, now_));
}

TEST_F(AuthTokenService, JwksUrlIsFetchedCachedAndRefetchedOnANewKid) {
  const auto assertion = [&](const char* kid) {
    auto c = claims("mercy");
    return form(sign(ec_key().get(), kid, c), "system/Encounter.cu");
  };
  // No copy yet: the caller must fetch.
  auto r = run(assertion("m1"));
  ASSERT_TRUE(std::holds_alternative<auth::jwks_needed>(r));
  EXPECT_EQ(std::get<auth::jwks_needed>(r).url, jwks_url);
  EXPECT_FALSE(service_->jwks_fetched(jwks_url, jwks_of({{ec_key().get(), "m1"}}), 600s, now_));
  const auto t = issued(run(assertion("m1")));
  EXPECT_EQ(t.scope, "system/Encounter.cu");
  const auto who = service_->resolve(t.access_token, {}, now_);
  ASSERT_TRUE(who);
  EXPECT_TRUE(who->may_send_for("MERCY"));
  EXPECT_FALSE(who->may_send_for("OTHER"));

  // A kid the copy lacks, just after the fetch: no refetch (at most one per 30 s) → refused.
  now_ += 10s;
  expect_refused(run(assertion("m2")), auth::oauth_error::invalid_client, "kid");
  // 30 s after the fetch: one refetch is asked for.
  now_ += 25s;
  r = run(assertion("m2"));
  ASSERT_TRUE(std::holds_alternative<auth::jwks_needed>(r));
  service_->jwks_fetched(jwks_url, jwks_of({{ec_key().get(), "m1"}, {rsa_key().get(), "m2"}}),
                         std::nullopt, now_);
  // m2 is now an RSA key: an ES384 assertion under it has the wrong kty.
  expect_refused(run(assertion("m2")), auth::oauth_error::invalid_client, "does not fit");
  issued(run(form(sign(rsa_key().get(), "m2", claims("mercy")), "system/Encounter.cu")));

  // The max-age (default 5 minutes) ends the copy: fetched again.
  now_ += 301s;
  r = run(assertion("m1"));
  ASSERT_TRUE(std::holds_alternative<auth::jwks_needed>(r));
  // The fetch fails: the last good copy keeps serving for now.
  service_->jwks_fetch_failed(jwks_url, now_);
  issued(run(assertion("m1")));
}

TEST_F(AuthTokenService, JwksFetchFailureWithNoCopyRefuses) {
  auto c = claims("mercy");
  const auto body = form(sign(ec_key().get(), "m1", c), "system/Encounter.cu");
  ASSERT_TRUE(std::holds_alternative<auth::jwks_needed>(run(body)));
  service_->jwks_fetch_failed(jwks_url, now_);
  expect_refused(run(body), auth::oauth_error::invalid_client, "could not be fetched");
  // An unparsable body counts as a failure too.
  now_ += 31s;
  ASSERT_TRUE(std::holds_alternative<auth::jwks_needed>(run(body)));
  EXPECT_TRUE(service_->jwks_fetched(jwks_url, "<html>", std::nullopt, now_));
  expect_refused(run(body), auth::oauth_error::invalid_client, "could not be fetched");
}

TEST_F(AuthTokenService, ManyThreadsResolveWhileTokensAreIssued) {
  const auto t = issued(run(form(sign(ec_key().get(), "ec1", claims()))));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      for (int j = 0; j < 200; ++j)
        if (service_->resolve(t.access_token, {}, now_)) ++ok;
    });
  for (int i = 0; i < 5; ++i) issued(run(form(sign(ec_key().get(), "ec1", claims()))));
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 800);
}

TEST(AuthTokenHelpers, ParseMaxAge) {
  EXPECT_EQ(auth::parse_max_age("max-age=600"), 600s);
  EXPECT_EQ(auth::parse_max_age("public, Max-Age=\"60\", must-revalidate"), 60s);
  EXPECT_EQ(auth::parse_max_age("no-store"), 0s);
  EXPECT_EQ(auth::parse_max_age("public"), std::nullopt);
  EXPECT_EQ(auth::parse_max_age("max-age=abc"), std::nullopt);
  EXPECT_EQ(auth::parse_max_age(""), std::nullopt);
}

TEST(AuthTokenHelpers, ParseForm) {
  const auto f = auth::parse_form("a=1&b=x+y%2Fz&&c=&d");
  ASSERT_TRUE(f);
  ASSERT_EQ(f->size(), 4u);
  EXPECT_EQ((*f)[1].second, "x y/z");
  EXPECT_EQ((*f)[2].second, "");
  EXPECT_EQ((*f)[3].first, "d");
  EXPECT_FALSE(auth::parse_form("a=%4"));
  EXPECT_FALSE(auth::parse_form("a=%g0"));
}

}  // namespace
