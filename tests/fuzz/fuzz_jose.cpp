// Fuzz target: the JOSE core (gateway/auth/jose) — what the token endpoint does with an untrusted
// client assertion and an untrusted JWK Set (from a client's JWKS URL). The first input byte picks
// the path (mod 3), the rest is the text:
//   0: parse_jws() on the text, then select_key() and verify() against fixed keys (a Node.js-made
//      RSA 2048 and EC P-384 pair, the unit tests' known-answer vectors);
//   1: parse_jwks() on the text, then select_key() and verify() of the fixed signed assertions
//      against whatever keys came out;
//   2: base64url_decode() / base64url_encode().
// Invariants:
//   - base64url is strict: a text that decodes is the encoding of what it decodes to, and any
//     bytes round-trip;
//   - a parsed JWS has RS384 or ES384, its signing input is the input up to the second dot, and it
//     verifies against a fixed key only when it is that key's own assertion (no forgery);
//   - a parsed JWK Set holds only usable keys (RSA 2048–8192 bits, EC 384 bits), and a fixed
//     assertion verifies under one of them only when that key is the fixed key itself.
#include "tests/fuzz/fuzz_check.hpp"

#include "gateway/auth/jose.hpp"
#include "tests/support/jose_kat.hpp"

#include <openssl/evp.h>

#include <string>

namespace {

namespace auth = carebridge::gateway::auth;

namespace kat = carebridge::test_auth::kat;

struct fixed {
  auth::jwk_set keys;
  auth::jws rsa_token, ec_token;
};

const fixed& fixtures() {
  static const fixed f = [] {
    fixed x;
    auto r = auth::parse_jwks(kat::rsa_jwks).value();
    auto e = auth::parse_jwks(kat::ec_jwks).value();
    x.keys.keys = {r.keys.at(0), e.keys.at(0)};
    x.rsa_token = auth::parse_jws(kat::rsa_jws).value();
    x.ec_token = auth::parse_jws(kat::ec_jws).value();
    return x;
  }();
  return f;
}

bool same_key(const auth::jwk& a, const auth::jwk& b) {
  return EVP_PKEY_eq(a.key.get(), b.key.get()) == 1;
}

void check_jws(std::string_view text) {
  const auto& f = fixtures();
  const auto t = auth::parse_jws(text);
  if (!t) return;
  CB_FUZZ_REQUIRE(t->alg == auth::jws_alg::rs384 || t->alg == auth::jws_alg::es384);
  const auto dot2 = text.find('.', text.find('.') + 1);
  CB_FUZZ_REQUIRE(dot2 != std::string_view::npos && t->signing_input == text.substr(0, dot2));
  const auto k = auth::select_key(f.keys, *t);
  if (!k) return;
  CB_FUZZ_REQUIRE((*k)->kid == t->kid && (*k)->alg == t->alg);
  if (!auth::verify(*t, **k)) {
    const auto& own = t->alg == auth::jws_alg::rs384 ? f.rsa_token : f.ec_token;
    CB_FUZZ_REQUIRE(t->signing_input == own.signing_input);
  }
}

void check_jwks(std::string_view text) {
  const auto& f = fixtures();
  const auto set = auth::parse_jwks(text);
  if (!set) return;
  for (const auto& k : set->keys) {
    CB_FUZZ_REQUIRE(k.key != nullptr);
    CB_FUZZ_REQUIRE(k.alg == auth::jws_alg::rs384 ? (k.bits >= 2048 && k.bits <= 8192)
                                                  : k.bits == 384);
  }
  for (const auth::jws* t : {&f.rsa_token, &f.ec_token}) {
    const auto k = auth::select_key(*set, *t);
    if (!k) continue;
    if (!auth::verify(*t, **k)) {
      const auto& fixed_key = t->alg == auth::jws_alg::rs384 ? f.keys.keys[0] : f.keys.keys[1];
      CB_FUZZ_REQUIRE(same_key(**k, fixed_key));
    }
  }
}

void check_base64url(std::string_view text) {
  if (const auto bytes = auth::base64url_decode(text))
    CB_FUZZ_REQUIRE(auth::base64url_encode(*bytes) == text);
  const std::string enc = auth::base64url_encode(text);
  CB_FUZZ_REQUIRE(auth::base64url_decode(enc) == std::string(text));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto text = carebridge::fuzz::as_text(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      check_jws(text);
      break;
    case 1:
      check_jwks(text);
      break;
    default:
      check_base64url(text);
      break;
  }
  return 0;
}
