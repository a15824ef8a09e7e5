// Test helper: a SMART Backend Services client of a real `carebridge serve`, made with the
// binary's own commands as an operator and a client's IT team would — `clients keygen` (a key pair
// and its JWK Set), `clients register` (in the data dir, before or beside the gateway), `clients
// assertion` (a signed client assertion) — and a token from POST /auth/token.
#pragma once

#include "tests/e2e/http_client.hpp"
#include "tests/e2e/process.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

namespace carebridge::test {

struct smart_client {
  std::string id;
  std::string kid;
  std::filesystem::path key;  // the private key (PEM)
};

/// Makes a key pair in `dir` and registers client `id` in `data_dir` with `role_args` ("--role",
/// "group", "--group", "G1", …) and `scope`. ES384 unless `alg` says otherwise.
inline smart_client register_smart_client(const std::filesystem::path& dir,
                                          const std::filesystem::path& data_dir,
                                          const std::string& id,
                                          const std::vector<std::string>& role_args,
                                          const std::string& scope,
                                          const std::string& alg = "ES384") {
  const std::string bin = CAREBRIDGE_BIN;
  smart_client c{id, id + "-key-1", dir / (id + ".key.pem")};
  const auto prefix = (dir / id).string();
  const auto made =
      run_process({bin, "clients", "keygen", "--alg", alg, "--kid", c.kid, "--out", prefix});
  EXPECT_EQ(made.exit_code, 0) << made.err;
  std::vector<std::string> args{bin,     "clients", "register", "--id",       id,
                                "--scope", scope,   "--jwks",   prefix + ".jwks.json",
                                "--data-dir", data_dir.string()};
  args.insert(args.end(), role_args.begin(), role_args.end());
  const auto registered = run_process(args);
  EXPECT_EQ(registered.exit_code, 0) << registered.err;
  return c;
}

/// A signed client assertion for the token endpoint of the gateway on `port`.
inline std::string client_assertion(const smart_client& c, int port) {
  const auto r = run_process({CAREBRIDGE_BIN, "clients", "assertion", "--id", c.id, "--key",
                              c.key.string(), "--kid", c.kid, "--aud",
                              "http://127.0.0.1:" + std::to_string(port) + "/auth/token"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string jwt = r.out;
  while (!jwt.empty() && (jwt.back() == '\n' || jwt.back() == '\r')) jwt.pop_back();
  return jwt;
}

/// POST /auth/token with a client assertion: the raw response.
inline std::string token_response(int port, const std::string& assertion, const std::string& scope) {
  auto enc = [](const std::string& s) {
    std::string out;
    for (const char c0 : s) {
      const auto ch = static_cast<unsigned char>(c0);
      if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
        out.push_back(static_cast<char>(ch));
      } else {
        char b[4];
        std::snprintf(b, sizeof b, "%%%02X", ch);
        out += b;
      }
    }
    return out;
  };
  const std::string form =
      "grant_type=client_credentials&scope=" + enc(scope) +
      "&client_assertion_type=" + enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
      "&client_assertion=" + enc(assertion);
  return http_exchange(port, "POST", "/auth/token", form, {},
                       "application/x-www-form-urlencoded");
}

/// An access token for `c` with `scope` ("" when the endpoint refused).
inline std::string access_token(const smart_client& c, int port, const std::string& scope) {
  const std::string response = token_response(port, client_assertion(c, port), scope);
  rapidjson::Document d;
  const std::string body = body_of(response);
  d.Parse(body.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("access_token") ||
      !d["access_token"].IsString()) {
    ADD_FAILURE() << "no access token: " << response;
    return "";
  }
  return d["access_token"].GetString();
}

inline std::string bearer(const std::string& token) { return "Authorization: Bearer " + token; }

}  // namespace carebridge::test
