// Test keys and signed client assertions for the SMART auth tests: one RSA and one EC P-384 key
// pair per test process (made once: RSA key generation is slow), their JWK Sets, and a signer.
#pragma once

#include "gateway/auth/jose.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace carebridge::test_auth {

namespace auth = gateway::auth;

inline const auth::pkey_ptr& rsa_key() {
  static const auth::pkey_ptr k = auth::generate_key(auth::jws_alg::rs384).value();
  return k;
}
inline const auth::pkey_ptr& ec_key() {
  static const auth::pkey_ptr k = auth::generate_key(auth::jws_alg::es384).value();
  return k;
}
/// Another EC key under the same kid as ec_key(): a signature that must not verify.
inline const auth::pkey_ptr& other_ec_key() {
  static const auth::pkey_ptr k = auth::generate_key(auth::jws_alg::es384).value();
  return k;
}

inline std::string jwks_of(std::initializer_list<std::pair<EVP_PKEY*, std::string>> keys) {
  std::string out = "{\"keys\":[";
  bool first = true;
  for (const auto& [k, kid] : keys) {
    if (!first) out += ",";
    first = false;
    out += auth::public_jwk_json(k, kid).value();
  }
  return out + "]}";
}

/// Claims of a client assertion; members left empty / unset are not written.
struct assertion_claims {
  std::string iss, sub, jti;
  std::vector<std::string> aud;
  bool aud_as_array = false;
  std::optional<std::int64_t> exp, nbf, iat;
};

inline std::string claims_json(const assertion_claims& c) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  w.StartObject();
  const auto str = [&w](const char* k, const std::string& v) {
    if (v.empty()) return;
    w.Key(k);
    w.String(v.c_str());
  };
  str("iss", c.iss);
  str("sub", c.sub);
  str("jti", c.jti);
  if (!c.aud.empty()) {
    w.Key("aud");
    if (c.aud.size() == 1 && !c.aud_as_array) {
      w.String(c.aud[0].c_str());
    } else {
      w.StartArray();
      for (const auto& a : c.aud) w.String(a.c_str());
      w.EndArray();
    }
  }
  if (c.exp) {
    w.Key("exp");
    w.Int64(*c.exp);
  }
  if (c.nbf) {
    w.Key("nbf");
    w.Int64(*c.nbf);
  }
  if (c.iat) {
    w.Key("iat");
    w.Int64(*c.iat);
  }
  w.EndObject();
  return b.GetString();
}

inline std::string sign(EVP_PKEY* key, const std::string& kid, const assertion_claims& c) {
  return auth::sign_jwt(key, kid, claims_json(c)).value();
}

/// `s` encoded for an application/x-www-form-urlencoded body (unreserved characters kept).
inline std::string form_encode(const std::string& s) {
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

/// The body of a client-credentials token request with a JWT client assertion (SMART Backend
/// Services): the assertion as is, the scope form-encoded.
inline std::string token_form(const std::string& assertion, const std::string& scope) {
  return "grant_type=client_credentials&client_assertion_type=" +
         form_encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
         "&client_assertion=" + assertion + "&scope=" + form_encode(scope);
}

/// A compact JWS with a header of our choosing (`header_json` as is): for tampering tests.
inline std::string sign_with_header(EVP_PKEY* key, const std::string& header_json,
                                    const std::string& claims) {
  return auth::sign_compact(key, header_json, claims).value();
}

}  // namespace carebridge::test_auth
