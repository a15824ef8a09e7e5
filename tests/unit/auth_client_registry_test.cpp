// The client registry (gateway/auth/client_registry): DATA_DIR/clients.db, validation, and a
// second handle (the running gateway) seeing the CLI's changes.
#include "gateway/auth/client_registry.hpp"

#include "tests/support/auth_keys.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <thread>

namespace {

namespace auth = carebridge::gateway::auth;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using carebridge::test_auth::ec_key;
using carebridge::test_auth::jwks_of;

class AuthClientRegistry : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cb-clients-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path file() const { return dir_ / "clients.db"; }

  static auth::registered_client group_client() {
    auth::registered_client c;
    c.client_id = "riverside-care";
    c.kind = auth::role::group;
    c.group = "G-RIVERSIDE";
    c.scopes = "system/Subscription.crud system/*.rs";
    c.jwks = jwks_of({{ec_key().get(), "k1"}});
    c.certificate_names = {"riverside.test"};
    return c;
  }

  fs::path dir_;
  const std::chrono::system_clock::time_point t0_{std::chrono::seconds(1700000000)};
};

TEST_F(AuthClientRegistry, StoresAndReadsBack) {
  auth::client_registry reg(file());
  EXPECT_FALSE(reg.find("riverside-care"));
  reg.put(group_client(), t0_);
  const auto c = reg.find("riverside-care");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, auth::role::group);
  EXPECT_EQ(c->group, "G-RIVERSIDE");
  EXPECT_EQ(c->certificate_names, std::vector<std::string>{"riverside.test"});
  EXPECT_TRUE(c->enabled);
  EXPECT_EQ(c->revision, 1);
  EXPECT_EQ(c->created, 1700000000);
  auto changed = group_client();
  changed.scopes = "system/*.rs";
  reg.put(changed, t0_ + 10s);
  const auto c2 = reg.find("riverside-care");
  EXPECT_EQ(c2->revision, 2);
  EXPECT_EQ(c2->created, 1700000000);
  EXPECT_EQ(c2->updated, 1700000010);
  EXPECT_EQ(c2->scopes, "system/*.rs");
  EXPECT_EQ(c->scopes, "system/Subscription.crud system/*.rs");  // the old snapshot is unchanged

  auth::registered_client s;
  s.client_id = "mercy-engine";
  s.kind = auth::role::sender;
  s.facilities = {"MERCY", "MERCY-WEST"};
  s.scopes = "system/Encounter.cu";
  s.jwks_url = "https://mercy.example/jwks.json";
  reg.put(s, t0_);
  const auto all = reg.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].client_id, "mercy-engine");
  EXPECT_EQ(all[0].facilities, (std::vector<std::string>{"MERCY", "MERCY-WEST"}));
  EXPECT_TRUE(all[0].certificate_names.empty());
}

TEST_F(AuthClientRegistry, EnableDisableRemove) {
  auth::client_registry reg(file());
  reg.put(group_client(), t0_);
  EXPECT_TRUE(reg.set_enabled("riverside-care", false, t0_));
  EXPECT_FALSE(reg.find("riverside-care")->enabled);
  EXPECT_EQ(reg.find("riverside-care")->revision, 2);
  EXPECT_TRUE(reg.set_enabled("riverside-care", true, t0_));
  EXPECT_TRUE(reg.find("riverside-care")->enabled);
  EXPECT_FALSE(reg.set_enabled("nobody", true, t0_));
  EXPECT_TRUE(reg.remove("riverside-care"));
  EXPECT_FALSE(reg.remove("riverside-care"));
  EXPECT_FALSE(reg.find("riverside-care"));
}

TEST_F(AuthClientRegistry, AnotherHandleSeesChangesAfterItsRecheck) {
  auth::client_registry gateway(file(), 0ms);  // the running gateway: recheck every call
  auth::client_registry cli(file());
  EXPECT_FALSE(gateway.find("riverside-care"));
  cli.put(group_client(), t0_);
  ASSERT_TRUE(gateway.find("riverside-care"));
  cli.set_enabled("riverside-care", false, t0_);
  EXPECT_FALSE(gateway.find("riverside-care")->enabled);
  cli.remove("riverside-care");
  EXPECT_FALSE(gateway.find("riverside-care"));

  auth::client_registry slow(file(), std::chrono::hours(1));
  cli.put(group_client(), t0_);
  EXPECT_FALSE(slow.find("riverside-care"));  // not rechecked yet: within the interval
}

TEST_F(AuthClientRegistry, RefusesANewerSchema) {
  { auth::client_registry reg(file()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file().c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "UPDATE clients_meta SET value = '99' WHERE key = 'schema'", nullptr, nullptr,
               nullptr);
  sqlite3_close(db);
  try {
    auth::client_registry reg(file());
    FAIL() << "opened a newer schema";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

TEST(AuthClientValidate, NamesEachProblem) {
  auth::registered_client c;
  c.client_id = "bad id";
  c.kind = auth::role::group;
  c.scopes = "launch";
  const auto p = auth::validate(c);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_NE(p[0].find("client id"), std::string::npos);
  EXPECT_NE(p[1].find("--group"), std::string::npos);
  EXPECT_NE(p[2].find("launch"), std::string::npos);
  EXPECT_NE(p[3].find("exactly one"), std::string::npos);

  c.client_id = "ok";
  c.kind = auth::role::sender;
  c.scopes = "system/Encounter.cu";
  c.jwks = R"({"keys":[{"kty":"RSA","kid":"small","n":"AQAB","e":"AQAB"}]})";
  const auto p2 = auth::validate(c);
  ASSERT_EQ(p2.size(), 2u);
  EXPECT_NE(p2[0].find("--facility"), std::string::npos);
  EXPECT_NE(p2[1].find("no usable"), std::string::npos);

  c.facilities = {"MERCY"};
  c.jwks.clear();
  c.jwks_url = "http://mercy.example/jwks";
  EXPECT_EQ(auth::validate(c).size(), 1u);
  c.jwks_url = "https://mercy.example/jwks";
  EXPECT_TRUE(auth::validate(c).empty());
}

TEST(AuthClientValidate, JwksUrls) {
  EXPECT_TRUE(auth::acceptable_jwks_url("https://a.example/jwks.json", false));
  EXPECT_TRUE(auth::acceptable_jwks_url("https://a.example:8443", false));
  EXPECT_FALSE(auth::acceptable_jwks_url("https://user@a.example/jwks", false));
  EXPECT_FALSE(auth::acceptable_jwks_url("https://a.example/jwks#x", false));
  EXPECT_FALSE(auth::acceptable_jwks_url("https:///jwks", false));
  EXPECT_FALSE(auth::acceptable_jwks_url("ftp://a.example/jwks", false));
  EXPECT_FALSE(auth::acceptable_jwks_url("http://127.0.0.1:9/jwks", false));
  EXPECT_TRUE(auth::acceptable_jwks_url("http://127.0.0.1:9/jwks", true));
  EXPECT_TRUE(auth::acceptable_jwks_url("http://[::1]:9/jwks", true));
  EXPECT_FALSE(auth::acceptable_jwks_url("http://a.example/jwks", true));
}

}  // namespace
