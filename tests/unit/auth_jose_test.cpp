// The JOSE core (gateway/auth/jose): base64url, compact JWS parsing, JWK Sets, key selection,
// RS384/ES384 verification and signing, with known-answer vectors from another implementation.
#include "gateway/auth/jose.hpp"

#include "tests/support/auth_keys.hpp"
#include "tests/support/jose_kat.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>

namespace {

namespace auth = carebridge::gateway::auth;
using auth::jose_error;
using namespace carebridge::test_auth;

// Known-answer vectors made by an independent implementation (Node.js 20 crypto, generated once:
// RSA 2048 and EC P-384 keys, JWKs exported by Node, JWS signed by Node with dsaEncoding
// ieee-p1363). RS384 (PKCS#1 v1.5) is deterministic, so our signature must equal Node's. The
// public halves and the signed assertions are in tests/support/jose_kat.hpp (the fuzz target
// uses them too); the private key and the claims are only needed here.
namespace kat {
using namespace carebridge::test_auth::kat;
constexpr std::string_view claims =
    R"({"iss":"kat-client","sub":"kat-client","aud":"https://gw.example/auth/token","exp":1700000300,"jti":"kat-1"})";
constexpr std::string_view rsa_pem = R"KAT(-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQD1pN3qH3ISLg9D
vIybur0/66ZYgC9XWN/WduHw/s0tIiMImWnoadSK1JAuCsNX9bdwYV5hao6bZryD
LrNyvhCkcld+CbOJGd5hnHGwYs42vI4+9/AmMzLwby0MQklXJrFERPayKvrpwl0Q
iNt4jbW8O8mDkYkKOIf8C4/N5D3MBbbZnRjVT837ZMK10OtAwMYRGCjzWnLBz/DD
vX4QphstDSCiDnXDw7Y9HJ+EdzOG0dFrEdVst4bMiZ/nynMTuQLTL64AIP7IErnb
gYh+8Udo64pJdg9l9XPYh+4VadjrZFqGKzeb9gLf3B0caaXIXxZdaLRc5/c3q5ac
Ra3FvbBRAgMBAAECggEANCqHxR9Z9IHrFHW/f5fr9l3nRO6t/xT87jjveSRHcuEH
wxz/aI/HBxemqdx3yR+BziAjcLk2IUrzWEGL8t9pvd6ZdYb+ZWyEtUKJw01sYSPw
am9xhM9FL1nQ3YRbOmKZbTffEw29HPT9mhQSVbr0gA3LWQFIcs74E/7pkm448HFQ
sW3wm9wA0FFRIbu3DDsNYnuBqCIxqbL4n7e4iKkoSMn9ERGwoEVcOCbzNDFX+M/o
su4hfbdKmqKLKQ5SkhpcWgaJR5goXcf1DojmiF9aAcjltvTZV/qOl1PiNj32WOId
T4GTeliQoNYNlSNM1Lv/nsMKFbCuR0gtqHb6DDBfpQKBgQD/NSppLGTGFYV+s8bQ
3qKrlBxariIvu1DEK+SuvheEVzovun2TmnfNpy545FFG0foaR7MGctzVJXXjGUQg
xHCUYaOt7M2u+fumPuypTnC4jwWMn9bCAuw3HgH3dhOTn9jdRkuzwi9Os+f/26Ze
RTNIBgqGXAQ35E5LZweVVNnwlQKBgQD2aBmkJPkNjFHSsl/NvyDkgaYANPi7w5wk
nt3zbVNbjsS2JQKfVAe1jUlkKfedglcRsGhjdT5laWse9W2HayMQty23pchOW49X
u6+qbS5Hv1zPYcZm5ckVQfdiHjDqdwFnUmgsAg7KG6v3VwMiSGIVie8dxXayIiXo
GFa/XIilzQKBgDqrJDbNZ9VJuUipV3lI1SiQgfwur9k9PJH8bTPmq01XKB80xg2a
oxP57OsJwc2AE/japsNCwJWXaQRuGIVX43GZCKHBIH+rJDjRmmJJkAw9hM8RJ7Ou
LFN3aIhU8qcrRhWIRXrrlyiGnzzoZ9SgH+vcx6qfmLCooX8gDlQ8D2YJAoGBANqY
Z4bzNe8K+NvOWqeQU4HkcnvkgnUwh6kFNynpZvXmpiRgmP738Q7jFKTDhmQ5aTzM
Hw98x6n354xDdrOYHDeMCgbOD/FT0MqoOqMa0N/dqFxiBTzrxYQSTYDB/+tBQAGF
Xd0MxkoOWnTGwIT9aeZpw7PJpg9JtA8+6FZDpQZRAoGBAIH2tZLcosB4NdZwgvwZ
sXthejaZV7SqX6mjBm0WGZACm5iMJO7i9ONpjJZRMDY3zuX2pineBXKm0OHgdRtZ
M/l007y6R49Tse+cTkvxLp1Hp1hQ9ouvV4V4q0vQUlhLP4jF7GQ1ZVZxPpaV6BWy
NTcEAhz/nEzkg0wrqFlEYLeA
-----END PRIVATE KEY-----
)KAT";
}  // namespace kat

assertion_claims sample() {
  assertion_claims c;
  c.iss = c.sub = "client-1";
  c.jti = "j1";
  c.aud = {"https://gw.example/auth/token"};
  c.exp = 1700000300;
  return c;
}

std::string replace_part(const std::string& jws, int part, const std::string& text) {
  const auto d1 = jws.find('.');
  const auto d2 = jws.find('.', d1 + 1);
  if (part == 0) return text + jws.substr(d1);
  if (part == 1) return jws.substr(0, d1 + 1) + text + jws.substr(d2);
  return jws.substr(0, d2 + 1) + text;
}

std::string part(const std::string& jws, int n) {
  const auto d1 = jws.find('.');
  const auto d2 = jws.find('.', d1 + 1);
  if (n == 0) return jws.substr(0, d1);
  if (n == 1) return jws.substr(d1 + 1, d2 - d1 - 1);
  return jws.substr(d2 + 1);
}

TEST(AuthBase64url, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    const auto text = auth::base64url_encode(bytes);
    EXPECT_EQ(text.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(auth::base64url_decode(text), bytes) << i;
    bytes.push_back(static_cast<char>(i * 37 + 200));
  }
  EXPECT_EQ(auth::base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(auth::base64url_decode("-_8"), std::string("\xfb\xff"));
}

TEST(AuthBase64url, IsStrict) {
  EXPECT_FALSE(auth::base64url_decode("QQ=="));   // padding
  EXPECT_FALSE(auth::base64url_decode("Q Q"));    // blank
  EXPECT_FALSE(auth::base64url_decode("+/8"));    // base64, not base64url
  EXPECT_FALSE(auth::base64url_decode("QUJDR"));  // length 1 mod 4
  EXPECT_FALSE(auth::base64url_decode("QR"));     // stray bits: "QQ" is the text of "A"
  EXPECT_EQ(auth::base64url_decode("QQ"), std::string("A"));
  EXPECT_FALSE(auth::base64url_decode("QUJ"));  // stray bits, 2 bytes
  EXPECT_EQ(auth::base64url_decode("QUI"), std::string("AB"));
  EXPECT_EQ(auth::base64url_decode(""), std::string());
}

TEST(AuthJoseKnownAnswer, VerifiesNodeSignedRs384AndMatchesItsSignature) {
  const auto set = auth::parse_jwks(kat::rsa_jwks);
  ASSERT_TRUE(set) << set.error().message();
  ASSERT_EQ(set->keys.size(), 1u);
  EXPECT_EQ(set->keys[0].bits, 2048);
  const auto token = auth::parse_jws(kat::rsa_jws);
  ASSERT_TRUE(token);
  EXPECT_EQ(token->alg, auth::jws_alg::rs384);
  EXPECT_EQ(token->kid, "rsa-kat");
  EXPECT_EQ(token->claims.iss, "kat-client");
  EXPECT_EQ(token->claims.exp, 1700000300);
  const auto key = auth::select_key(*set, *token);
  ASSERT_TRUE(key);
  EXPECT_FALSE(auth::verify(*token, **key));
  // PKCS#1 v1.5 is deterministic: signing the same input with the same key gives Node's bytes.
  const auto priv = auth::read_private_key_pem(kat::rsa_pem);
  ASSERT_TRUE(priv);
  EXPECT_EQ(auth::sign_jwt(priv->get(), "rsa-kat", kat::claims).value(), kat::rsa_jws);
  // And the public JWK we derive from the private key is Node's.
  const auto ours = auth::parse_jwks(auth::public_jwk_json(priv->get(), "rsa-kat").value());
  ASSERT_TRUE(ours);
  ASSERT_EQ(ours->keys.size(), 1u);
  EXPECT_EQ(EVP_PKEY_eq(ours->keys[0].key.get(), set->keys[0].key.get()), 1);
}

TEST(AuthJoseKnownAnswer, VerifiesNodeSignedEs384) {
  const auto set = auth::parse_jwks(kat::ec_jwks);
  ASSERT_TRUE(set);
  ASSERT_EQ(set->keys.size(), 1u);
  EXPECT_EQ(set->keys[0].alg, auth::jws_alg::es384);
  const auto token = auth::parse_jws(kat::ec_jws);
  ASSERT_TRUE(token);
  EXPECT_EQ(token->signature.size(), 96u);
  const auto key = auth::select_key(*set, *token);
  ASSERT_TRUE(key);
  EXPECT_FALSE(auth::verify(*token, **key));
  // One bit of the signature flipped: refused.
  auto bad = *token;
  bad.signature[10] = static_cast<char>(bad.signature[10] ^ 1);
  EXPECT_EQ(auth::verify(bad, **key), jose_error::bad_signature);
  // Claims changed under the same signature: refused.
  auto forged = *token;
  forged.signing_input =
      part(std::string(kat::ec_jws), 0) + "." +
      auth::base64url_encode(
          R"({"iss":"kat-client","sub":"kat-client","aud":"https://gw.example/auth/token","exp":1900000300,"jti":"kat-1"})");
  EXPECT_EQ(auth::verify(forged, **key), jose_error::bad_signature);
}

class AuthJoseSign : public ::testing::TestWithParam<auth::jws_alg> {
 protected:
  EVP_PKEY* key() const {
    return GetParam() == auth::jws_alg::rs384 ? rsa_key().get() : ec_key().get();
  }
};

TEST_P(AuthJoseSign, SignsWhatItVerifies) {
  const std::string jwks = jwks_of({{key(), "k1"}});
  const auto set = auth::parse_jwks(jwks);
  ASSERT_TRUE(set);
  ASSERT_EQ(set->keys.size(), 1u) << (set->skipped.empty() ? "" : set->skipped[0]);
  EXPECT_TRUE(set->keys[0].alg_declared);
  const std::string jwt = sign(key(), "k1", sample());
  const auto token = auth::parse_jws(jwt);
  ASSERT_TRUE(token);
  EXPECT_EQ(token->alg, GetParam());
  EXPECT_EQ(token->typ, "JWT");
  EXPECT_EQ(token->claims.aud, std::vector<std::string>{"https://gw.example/auth/token"});
  const auto k = auth::select_key(*set, *token);
  ASSERT_TRUE(k);
  EXPECT_FALSE(auth::verify(*token, **k));
}

TEST_P(AuthJoseSign, TamperedHeaderOrClaimsFail) {
  const auto set = auth::parse_jwks(jwks_of({{key(), "k1"}}));
  ASSERT_TRUE(set);
  const std::string jwt = sign(key(), "k1", sample());
  auto c = sample();
  c.iss = c.sub = "client-2";
  const std::string claims2 = auth::base64url_encode(claims_json(c));
  const auto t1 = auth::parse_jws(replace_part(jwt, 1, claims2));
  ASSERT_TRUE(t1);
  EXPECT_EQ(auth::verify(*t1, set->keys[0]), jose_error::bad_signature);
  const std::string h = std::string(R"({"alg":")") + std::string(auth::alg_name(GetParam())) +
                        R"(","kid":"k1","typ":"JWT","x":1})";
  const auto t2 = auth::parse_jws(replace_part(jwt, 0, auth::base64url_encode(h)));
  ASSERT_TRUE(t2);
  EXPECT_EQ(auth::verify(*t2, set->keys[0]), jose_error::bad_signature);
}

TEST_P(AuthJoseSign, AnotherKeyUnderTheSameKidFails) {
  // Another key of the same type registered under the signer's kid (for RSA, the known-answer
  // key: generating a second 3072-bit key would only slow the test down).
  const auto kat_rsa = auth::read_private_key_pem(kat::rsa_pem);
  ASSERT_TRUE(kat_rsa);
  EVP_PKEY* other = GetParam() == auth::jws_alg::es384 ? other_ec_key().get() : kat_rsa->get();
  const auto set = auth::parse_jwks(jwks_of({{other, "k1"}}));
  ASSERT_TRUE(set);
  ASSERT_EQ(set->keys.size(), 1u);
  const auto token = auth::parse_jws(sign(key(), "k1", sample()));
  ASSERT_TRUE(token);
  const auto ec = auth::verify(*token, set->keys[0]);
  // RSA: a 3072-bit signature is not a 2048-bit key's length; EC: it does not verify.
  EXPECT_TRUE(ec == jose_error::bad_signature || ec == jose_error::bad_signature_length)
      << ec.message();
  EXPECT_TRUE(ec);
}

INSTANTIATE_TEST_SUITE_P(BothAlgs, AuthJoseSign,
                         ::testing::Values(auth::jws_alg::rs384, auth::jws_alg::es384));

TEST(AuthJoseSelect, ByKidNoneOrSeveralFail) {
  const auto set = auth::parse_jwks(
      jwks_of({{rsa_key().get(), "r"}, {ec_key().get(), "e"}, {other_ec_key().get(), "e"}}));
  ASSERT_TRUE(set);
  ASSERT_EQ(set->keys.size(), 3u);
  auto token = auth::parse_jws(sign(rsa_key().get(), "r", sample())).value();
  EXPECT_EQ(auth::select_key(*set, token).value(), &set->keys[0]);
  token.kid = "nope";
  EXPECT_EQ(auth::select_key(*set, token).error(), jose_error::no_key);
  auto etoken = auth::parse_jws(sign(ec_key().get(), "e", sample())).value();
  EXPECT_EQ(auth::select_key(*set, etoken).error(), jose_error::ambiguous_key);
}

TEST(AuthJoseSelect, KeyTypeMustFitAlg) {
  // An RS384 token whose kid names an EC key: kty does not match alg.
  const auto set = auth::parse_jwks(jwks_of({{ec_key().get(), "k"}}));
  const std::string jwt =
      sign_with_header(rsa_key().get(), R"({"alg":"RS384","kid":"k"})", claims_json(sample()));
  const auto token = auth::parse_jws(jwt);
  ASSERT_TRUE(token);
  EXPECT_EQ(auth::select_key(*set, *token).error(), jose_error::key_mismatch);
  EXPECT_EQ(auth::verify(*token, set->keys[0]), jose_error::key_mismatch);
  // An ES384 header over an RSA signature and key.
  const auto rset = auth::parse_jwks(jwks_of({{rsa_key().get(), "k"}}));
  const auto t2 = auth::parse_jws(
      sign_with_header(rsa_key().get(), R"({"alg":"ES384","kid":"k"})", claims_json(sample())));
  ASSERT_TRUE(t2);
  EXPECT_EQ(auth::select_key(*rset, *t2).error(), jose_error::key_mismatch);
}

TEST(AuthJoseParse, RefusesAlgNoneAndOthers) {
  const std::string claims = auth::base64url_encode(claims_json(sample()));
  for (const char* alg : {"none", "None", "HS384", "RS256", "ES256", "PS384", "ES512", ""}) {
    const std::string h =
        auth::base64url_encode(std::string(R"({"alg":")") + alg + R"(","kid":"k"})");
    EXPECT_EQ(auth::parse_jws(h + "." + claims + ".c2ln").error(), jose_error::unsupported_alg)
        << alg;
  }
  // Unsigned "none" token with an empty signature part: not even a JWS to us.
  const std::string none = auth::base64url_encode(R"({"alg":"none"})") + "." + claims + ".";
  EXPECT_FALSE(auth::parse_jws(none));
  // crit: an extension we cannot honour.
  const std::string crit =
      auth::base64url_encode(R"({"alg":"RS384","kid":"k","crit":["exp"],"exp":1})");
  EXPECT_EQ(auth::parse_jws(crit + "." + claims + ".c2ln").error(), jose_error::unsupported_alg);
  // A key carried in the header is never trusted.
  const std::string embedded = auth::base64url_encode(R"({"alg":"RS384","kid":"k","jwk":{}})");
  EXPECT_EQ(auth::parse_jws(embedded + "." + claims + ".c2ln").error(), jose_error::bad_json);
}

TEST(AuthJoseParse, RefusesMalformedForms) {
  const std::string good = sign(ec_key().get(), "k", sample());
  EXPECT_TRUE(auth::parse_jws(good));
  EXPECT_EQ(auth::parse_jws("abc").error(), jose_error::malformed);
  EXPECT_EQ(auth::parse_jws("a.b").error(), jose_error::malformed);
  EXPECT_EQ(auth::parse_jws(good + ".x").error(), jose_error::malformed);  // JWE-like 4+ parts
  EXPECT_EQ(auth::parse_jws(replace_part(good, 2, "")).error(), jose_error::malformed);
  EXPECT_EQ(auth::parse_jws(replace_part(good, 1, part(good, 1) + "=")).error(),
            jose_error::bad_base64);
  EXPECT_EQ(auth::parse_jws(replace_part(good, 0, "e30+")).error(), jose_error::bad_base64);
  EXPECT_EQ(auth::parse_jws(std::string(20000, 'a')).error(), jose_error::too_large);
  const auto header = auth::base64url_encode(R"({"alg":"ES384","kid":"k"})");
  const auto with_claims = [&](const std::string& c) {
    return auth::parse_jws(header + "." + auth::base64url_encode(c) + ".c2ln");
  };
  EXPECT_EQ(with_claims("[1]").error(), jose_error::bad_json);
  EXPECT_EQ(with_claims("{\"iss\":1}").error(), jose_error::bad_json);
  EXPECT_EQ(with_claims("{\"aud\":[1]}").error(), jose_error::bad_json);
  EXPECT_EQ(with_claims("{\"exp\":\"soon\"}").error(), jose_error::bad_json);
  EXPECT_EQ(with_claims("{\"iss\":\"a\",\"iss\":\"b\"}").error(), jose_error::bad_json);
  EXPECT_EQ(with_claims("{\"exp\":1} x").error(), jose_error::bad_json);
  const auto ok = with_claims(R"({"aud":["a","b"],"exp":1700000000.9,"nbf":5,"iat":6})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->claims.aud.size(), 2u);
  EXPECT_EQ(ok->claims.exp, 1700000000);
  const auto dup = auth::base64url_encode(R"({"alg":"ES384","alg":"none"})");
  EXPECT_EQ(auth::parse_jws(dup + "." + auth::base64url_encode("{}") + ".c2ln").error(),
            jose_error::bad_json);
}

TEST(AuthJoseVerify, Es384SignatureMustBe96Bytes) {
  const auto set = auth::parse_jwks(jwks_of({{ec_key().get(), "k"}}));
  auto token = auth::parse_jws(sign(ec_key().get(), "k", sample())).value();
  ASSERT_EQ(token.signature.size(), 96u);
  auto shorter = token;
  shorter.signature.pop_back();
  EXPECT_EQ(auth::verify(shorter, set->keys[0]), jose_error::bad_signature_length);
  auto longer = token;
  longer.signature.push_back('\0');
  EXPECT_EQ(auth::verify(longer, set->keys[0]), jose_error::bad_signature_length);
  // The DER form OpenSSL makes is not what JWS carries.
  auto der = token;
  der.signature = std::string(103, '\x30');
  EXPECT_EQ(auth::verify(der, set->keys[0]), jose_error::bad_signature_length);
  auto zero = token;
  zero.signature = std::string(96, '\0');
  EXPECT_EQ(auth::verify(zero, set->keys[0]), jose_error::bad_signature);
}

TEST(AuthJoseVerify, Rs384SignatureMustBeTheModulusLength) {
  const auto set = auth::parse_jwks(jwks_of({{rsa_key().get(), "k"}}));
  auto token = auth::parse_jws(sign(rsa_key().get(), "k", sample())).value();
  EXPECT_EQ(token.signature.size(), 384u);  // 3072 bits
  token.signature.pop_back();
  EXPECT_EQ(auth::verify(token, set->keys[0]), jose_error::bad_signature_length);
}

TEST(AuthJoseJwks, SkipsUnusableKeysAndSaysWhy) {
  const std::string ec = auth::public_jwk_json(ec_key().get(), "good").value();
  const std::string jwks =
      std::string(R"({"keys":[)") + ec + "," +
      R"({"kty":"RSA","kid":"small","n":"AQAB","e":"AQAB"},)"
      R"({"kty":"EC","kid":"p256","crv":"P-256","x":"AA","y":"AA"},)"
      R"({"kty":"OKP","kid":"ed","crv":"Ed25519","x":"AA"},)"
      R"({"kty":"EC","kid":"enc","use":"enc","crv":"P-384","x":"AA","y":"AA"},)"
      R"({"kty":"RSA","kid":"priv","n":"AQAB","e":"AQAB","d":"AQAB"},)"
      R"({"kty":"RSA","kid":"hs","alg":"HS256","n":"AQAB","e":"AQAB"},)"
      R"("not an object"]})";
  const auto set = auth::parse_jwks(jwks);
  ASSERT_TRUE(set);
  ASSERT_EQ(set->keys.size(), 1u);
  EXPECT_EQ(set->keys[0].kid, "good");
  ASSERT_EQ(set->skipped.size(), 7u);
  EXPECT_NE(set->skipped[0].find("under 2048"), std::string::npos) << set->skipped[0];
  EXPECT_NE(set->skipped[1].find("P-384"), std::string::npos) << set->skipped[1];
  EXPECT_NE(set->skipped[4].find("private"), std::string::npos) << set->skipped[4];
}

TEST(AuthJoseJwks, RejectsAPointNotOnTheCurve) {
  auto jwk = auth::public_jwk_json(ec_key().get(), "k").value();
  // Replace y with another 48-byte value: (x, y') is (almost surely) not on P-384.
  const auto y = jwk.find("\"y\":\"") + 5;
  jwk.replace(y, 64, std::string(64, 'A'));
  const auto set = auth::parse_jwks(jwk);
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->keys.empty());
  ASSERT_EQ(set->skipped.size(), 1u);
  EXPECT_NE(set->skipped[0].find("not on P-384"), std::string::npos) << set->skipped[0];
}

TEST(AuthJoseJwks, AlgMustFitKty) {
  auto jwk = auth::public_jwk_json(ec_key().get(), "k").value();
  jwk.replace(jwk.find("ES384"), 5, "RS384");
  const auto set = auth::parse_jwks(jwk);
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->keys.empty());
}

TEST(AuthJoseJwks, RefusesWhatIsNoJwkSet) {
  EXPECT_EQ(auth::parse_jwks("[]").error(), jose_error::bad_json);
  EXPECT_EQ(auth::parse_jwks("{\"keys\":{}}").error(), jose_error::bad_json);
  EXPECT_EQ(auth::parse_jwks("{}").error(), jose_error::bad_json);
  EXPECT_EQ(auth::parse_jwks("{\"keys\":[]} trailing").error(), jose_error::bad_json);
  EXPECT_EQ(auth::parse_jwks(std::string(70000, ' ')).error(), jose_error::too_large);
  EXPECT_TRUE(auth::parse_jwks("{\"keys\":[]}").value().keys.empty());
}

TEST(AuthJoseKeys, PemRoundTripAndAlgOf) {
  const auto pem = auth::private_key_pem(ec_key().get());
  ASSERT_TRUE(pem);
  EXPECT_NE(pem->find("BEGIN PRIVATE KEY"), std::string::npos);
  const auto back = auth::read_private_key_pem(*pem);
  ASSERT_TRUE(back);
  EXPECT_EQ(auth::alg_of(back->get()), auth::jws_alg::es384);
  EXPECT_EQ(auth::alg_of(rsa_key().get()), auth::jws_alg::rs384);
  EXPECT_FALSE(
      auth::read_private_key_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  // A P-256 key is not one we sign with.
  auth::pkey_ptr p256(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), auth::pkey_deleter{});
  EXPECT_FALSE(auth::alg_of(p256.get()));
  EXPECT_FALSE(auth::sign_jwt(p256.get(), "k", "{}"));
}

}  // namespace
