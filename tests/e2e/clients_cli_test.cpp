// `carebridge clients` end to end: keygen (both algorithms), register with its checks, list and
// show, disable / enable / remove, and assertion — the real binary, a temporary data directory.
#include "tests/e2e/process.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/stat.h>

#include <ctime>

namespace {

using carebridge::test::process_result;
using carebridge::test::run_process;
using carebridge::test::slurp;
using carebridge::test::temp_dir;
using carebridge::test::write_file;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string bin = CAREBRIDGE_BIN;

process_result cli(std::vector<std::string> args) {
  args.insert(args.begin(), bin);
  return run_process(args);
}

// base64url without padding → bytes ("" on a bad character): enough to read a JWT's parts.
std::string b64url(const std::string& in) {
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-'             ? 62
            : c == '_'             ? 63
                                   : -1;
    if (v < 0) return {};
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xffu));
    }
  }
  return out;
}

void expect_no_secret(const process_result& r) {
  EXPECT_THAT(r.out, Not(HasSubstr("PRIVATE KEY")));
  EXPECT_THAT(r.err, Not(HasSubstr("PRIVATE KEY")));
}

TEST(CliClients, KeygenRegisterListShowAndAssertion) {
  temp_dir dir;
  const std::string data = (dir / "data").string();
  for (const char* alg : {"ES384", "RS384"}) {
    const std::string prefix = (dir / alg).string();
    const auto k =
        cli({"clients", "keygen", "--alg", alg, "--kid", std::string("k-") + alg, "--out", prefix});
    ASSERT_EQ(k.exit_code, 0) << k.err;
    expect_no_secret(k);
    struct stat st {};
    ASSERT_EQ(::stat((prefix + ".key.pem").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_THAT(slurp(prefix + ".key.pem"), HasSubstr("BEGIN PRIVATE KEY"));
    const std::string jwks = slurp(prefix + ".jwks.json");
    EXPECT_THAT(jwks, HasSubstr(std::string("\"alg\":\"") + alg + "\""));
    EXPECT_THAT(jwks, Not(HasSubstr("\"d\"")));
    // Not over an existing key without --force.
    const auto again = cli({"clients", "keygen", "--alg", alg, "--kid", "x", "--out", prefix});
    EXPECT_EQ(again.exit_code, 1);
    EXPECT_THAT(again.err, HasSubstr("--force"));
  }

  const auto reg = cli({"clients", "register", "--id", "riverside", "--role", "group", "--group",
                        "G-RIVERSIDE", "--scope", "system/*.rs system/Subscription.crud", "--jwks",
                        (dir / "ES384.jwks.json").string(), "--certificate-name", "riverside.test",
                        "--data-dir", data});
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  EXPECT_THAT(reg.out, HasSubstr("registered riverside: group, group G-RIVERSIDE"));
  EXPECT_THAT(reg.out, HasSubstr("ES384 k-ES384"));
  EXPECT_THAT(reg.err, HasSubstr("no members.db"));  // the group could not be checked: said
  const auto sender = cli({"clients", "register", "--id", "mercy", "--role", "sender", "--facility",
                           "MERCY", "--facility", "MERCY-WEST", "--scope", "system/Encounter.cu",
                           "--jwks-url", "https://mercy.example/jwks", "--data-dir", data});
  ASSERT_EQ(sender.exit_code, 0) << sender.err;
  EXPECT_EQ(sender.err, "");

  const auto list = cli({"clients", "list", "--data-dir", data});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("mercy  enabled  sender  facilities MERCY,MERCY-WEST"));
  EXPECT_THAT(list.out, HasSubstr("riverside  enabled  group  group G-RIVERSIDE"));
  const auto json = cli({"clients", "list", "--json", "--data-dir", data});
  rapidjson::Document d;
  d.Parse(json.out.c_str());
  ASSERT_TRUE(d.IsArray()) << json.out;
  ASSERT_EQ(d.Size(), 2u);
  EXPECT_STREQ(d[1]["client_id"].GetString(), "riverside");
  EXPECT_STREQ(d[1]["keys"][0]["alg"].GetString(), "ES384");
  EXPECT_STREQ(d[1]["certificate_names"][0].GetString(), "riverside.test");
  EXPECT_STREQ(d[0]["jwks_url"].GetString(), "https://mercy.example/jwks");

  const auto show = cli({"clients", "show", "riverside", "--data-dir", data});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("\"enabled\": true"));
  EXPECT_EQ(cli({"clients", "show", "nobody", "--data-dir", data}).exit_code, 1);

  EXPECT_EQ(cli({"clients", "disable", "riverside", "--data-dir", data}).exit_code, 0);
  EXPECT_THAT(cli({"clients", "list", "--data-dir", data}).out, HasSubstr("riverside  DISABLED"));
  EXPECT_EQ(cli({"clients", "enable", "riverside", "--data-dir", data}).exit_code, 0);
  EXPECT_EQ(cli({"clients", "remove", "mercy", "--data-dir", data}).exit_code, 0);
  EXPECT_EQ(cli({"clients", "remove", "mercy", "--data-dir", data}).exit_code, 1);
  EXPECT_THAT(cli({"clients", "list", "--data-dir", data}).out, Not(HasSubstr("mercy")));

  const auto a =
      cli({"clients", "assertion", "--id", "riverside", "--key", (dir / "ES384.key.pem").string(),
           "--kid", "k-ES384", "--aud", "https://gw.example/auth/token", "--lifetime", "120"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  expect_no_secret(a);
  const std::string jwt = a.out.substr(0, a.out.find('\n'));
  const auto d1 = jwt.find('.');
  const auto d2 = jwt.find('.', d1 + 1);
  ASSERT_NE(d2, std::string::npos);
  rapidjson::Document h, c;
  h.Parse(b64url(jwt.substr(0, d1)).c_str());
  c.Parse(b64url(jwt.substr(d1 + 1, d2 - d1 - 1)).c_str());
  ASSERT_TRUE(h.IsObject() && c.IsObject()) << jwt;
  EXPECT_STREQ(h["alg"].GetString(), "ES384");
  EXPECT_STREQ(h["kid"].GetString(), "k-ES384");
  EXPECT_STREQ(h["typ"].GetString(), "JWT");
  EXPECT_STREQ(c["iss"].GetString(), "riverside");
  EXPECT_STREQ(c["sub"].GetString(), "riverside");
  EXPECT_STREQ(c["aud"].GetString(), "https://gw.example/auth/token");
  EXPECT_EQ(c["exp"].GetInt64() - c["iat"].GetInt64(), 120);
  EXPECT_NEAR(static_cast<double>(c["iat"].GetInt64()), static_cast<double>(std::time(nullptr)),
              30);
  EXPECT_GE(std::string(c["jti"].GetString()).size(), 20u);
  EXPECT_EQ(b64url(jwt.substr(d2 + 1)).size(), 96u);  // r||s, not DER
  // Two assertions never share a jti.
  const auto a2 = cli({"clients", "assertion", "--id", "riverside", "--key",
                       (dir / "ES384.key.pem").string(), "--kid", "k-ES384", "--aud", "x"});
  EXPECT_NE(a2.out, a.out);
  EXPECT_EQ(cli({"clients", "assertion", "--id", "r", "--key", (dir / "ES384.key.pem").string(),
                 "--kid", "k", "--aud", "x", "--lifetime", "301"})
                .exit_code,
            1);
}

TEST(CliClients, RegisterRefusesWhatCannotWork) {
  temp_dir dir;
  const std::string data = (dir / "data").string();
  ASSERT_EQ(
      cli({"clients", "keygen", "--alg", "ES384", "--kid", "k1", "--out", (dir / "k").string()})
          .exit_code,
      0);
  const std::string jwks = (dir / "k.jwks.json").string();
  auto r = cli({"clients", "register", "--id", "g", "--role", "group", "--scope", "system/*.rs",
                "--jwks", jwks, "--data-dir", data});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--group"));
  r = cli({"clients", "register", "--id", "s", "--role", "sender", "--scope", "system/*.rs",
           "--jwks", jwks, "--data-dir", data});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--facility"));
  r = cli({"clients", "register", "--id", "o", "--role", "ops", "--scope", "patient/*.rs", "--jwks",
           jwks, "--data-dir", data});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("scope not understood: patient/*.rs"));
  r = cli({"clients", "register", "--id", "o", "--role", "ops", "--scope", "system/*.rs",
           "--jwks-url", "http://keys.example/jwks", "--data-dir", data});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("https"));
  // A private key where the JWK Set should be.
  r = cli({"clients", "register", "--id", "o", "--role", "ops", "--scope", "system/*.rs", "--jwks",
           (dir / "k.key.pem").string(), "--data-dir", data});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("JWK Set"));
  expect_no_secret(r);
  // A JWK Set holding a weak key next to a good one: registered, the weak one named.
  const std::string good = slurp(jwks);
  write_file(dir / "mixed.json", good.substr(0, good.rfind(']')) +
                                     R"(,{"kty":"RSA","kid":"weak","n":"AQAB","e":"AQAB"}]})");
  r = cli({"clients", "register", "--id", "o", "--role", "ops", "--scope", "system/*.rs", "--jwks",
           (dir / "mixed.json").string(), "--data-dir", data});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("kid \"weak\": RSA key under 2048 bits (left out)"));
  // Once registered, changing it needs --replace.
  r = cli({"clients", "register", "--id", "o", "--role", "ops", "--scope", "system/*.read",
           "--jwks", jwks, "--data-dir", data});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--replace"));
  r = cli({"clients", "register", "--id", "o", "--role", "ops", "--scope", "system/*.read",
           "--jwks", jwks, "--replace", "--data-dir", data});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(cli({"clients", "frobnicate"}).exit_code, 1);
  EXPECT_EQ(cli({"clients", "list", "--data-dir", (dir / "none").string()}).out,
            "no clients registered\n");
}

}  // namespace
