// JOSE for SMART Backend Services (RFC 7515 JWS compact form, RFC 7517 JWK, RFC 7518 RS384 and
// ES384, RFC 7519 JWT claims): what the token endpoint needs to check a client's signed assertion,
// and what `carebridge clients keygen|assertion` and the tests need to make one.
//
// Pure: no I/O, no clock (the caller checks the claims' times). Every function is safe to call from
// any thread at once; a parsed `jwk_set` is immutable and may be shared. Keys are OpenSSL 3
// EVP_PKEYs built from parameters (EVP_PKEY_fromdata), never the deprecated RSA / EC_KEY calls.
//
// What is refused: anything but the compact form; base64url with padding, blanks, another alphabet
// or stray bits; header or claims that are not JSON objects, hold a member twice, or exceed the
// size limit; `alg` other than RS384 and ES384 (`none`, HS*, RS256… alike); a `crit` header; RSA
// keys under 2048 bits (or over 8192); EC keys not on P-384; an ES384 signature that is not
// 96 bytes of r||s, an RS384 one that is not the modulus length. Errors never quote a token, a
// claim value or key material.
#pragma once

#include <openssl/types.h>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace carebridge::gateway::auth {

enum class jose_error {
  /// The JWS or JWK Set is over its size limit.
  too_large = 1,
  /// Not a compact JWS (three dot-separated parts), or a part is not what it must be.
  malformed,
  /// A part or a key member is not strict base64url.
  bad_base64,
  /// The header or claims are not a JSON object, a member has the wrong type or appears twice.
  bad_json,
  /// `alg` is not RS384 or ES384 (`none` included), or the header has `crit`.
  unsupported_alg,
  /// No key has the JWS's `kid`.
  no_key,
  /// Several keys have the JWS's `kid`.
  ambiguous_key,
  /// The key's type (or its `alg`) does not fit the JWS's `alg`.
  key_mismatch,
  /// A JWK cannot be used: missing or malformed members, RSA under 2048 bits, EC not P-384 or not a
  /// valid point, not a signing key.
  bad_key,
  /// The signature has the wrong length for the algorithm and key.
  bad_signature_length,
  /// The signature does not verify.
  bad_signature,
  /// OpenSSL failed for a reason of its own (out of memory, provider missing).
  crypto_failure,
};

const boost::system::error_category& jose_category() noexcept;

inline boost::system::error_code make_error_code(jose_error e) noexcept {
  return {static_cast<int>(e), jose_category()};
}

// ---- base64url (RFC 4648 §5, no padding) ----

std::string base64url_encode(std::string_view bytes);
/// Strict: only A–Z a–z 0–9 - _, no padding, no blanks, a length that is not 1 mod 4 and zero
/// unused bits in the last character (one text per byte string). nullopt otherwise.
std::optional<std::string> base64url_decode(std::string_view text);

// ---- algorithms and keys ----

enum class jws_alg : std::uint8_t { rs384, es384 };

std::string_view alg_name(jws_alg a);  // "RS384", "ES384"
std::optional<jws_alg> parse_alg(std::string_view name);

struct pkey_deleter {
  void operator()(EVP_PKEY* k) const noexcept;
};
using pkey_ptr = std::shared_ptr<EVP_PKEY>;

/// A public signing key of a JWK Set.
struct jwk {
  std::string kid;
  jws_alg alg = jws_alg::rs384;  // what it can verify: RSA → RS384, EC P-384 → ES384
  bool alg_declared = false;     // the JWK named its `alg`
  int bits = 0;                  // RSA modulus / EC field size
  pkey_ptr key;
};

struct jwk_set {
  std::vector<jwk> keys;
  /// Keys left out, one PHI-free line each ("kid \"k1\": RSA key under 2048 bits"): an encryption
  /// key, an unsupported type or curve, a private key published by mistake, a weak key.
  std::vector<std::string> skipped;
};

/// A JWK Set ({"keys": [...]}) or a single JWK object. Unusable keys are skipped and named in
/// `skipped`; a set with no usable key is still a value (the caller decides). bad_json / too_large
/// when the text is not a JWK Set at all.
boost::system::result<jwk_set> parse_jwks(std::string_view json, std::size_t max_bytes = 64 * 1024);

// ---- compact JWS / JWT ----

/// The registered claims the token endpoint reads (RFC 7519 §4.1); NumericDates as seconds since
/// the epoch (a fraction is dropped).
struct jwt_claims {
  std::string iss, sub, jti;
  std::vector<std::string> aud;  // a string becomes one element
  std::optional<std::int64_t> exp, nbf, iat;
};

struct jws {
  jws_alg alg = jws_alg::rs384;
  std::string kid;  // "" when absent
  std::optional<std::string> typ;
  std::optional<std::string> jku;
  jwt_claims claims;
  std::string signing_input;  // "header.payload" as received
  std::string signature;      // raw bytes
};

/// Parses a compact JWS whose payload is a JWT claims set. Checks the form, the header (`alg`,
/// `crit`) and the claims' types; not the signature, not the times.
boost::system::result<jws> parse_jws(std::string_view compact, std::size_t max_bytes = 16 * 1024);

/// The one key of `keys` for `token`: by `kid`; none or several fail, and so does a key whose type
/// or declared `alg` does not fit the token's `alg`.
boost::system::result<const jwk*> select_key(const jwk_set& keys, const jws& token);

/// Checks the signature of `token` with `key` (SHA-384; ES384's r||s turned into DER first).
boost::system::error_code verify(const jws& token, const jwk& key);

// ---- making keys and signatures (CLI, tests) ----

/// A new key pair: RSA 3072 bits for RS384, P-384 for ES384.
boost::system::result<pkey_ptr> generate_key(jws_alg alg);
/// A PEM private key (PKCS#8 or traditional, unencrypted); the algorithm follows from its type.
boost::system::result<pkey_ptr> read_private_key_pem(std::string_view pem);
/// The private key as unencrypted PKCS#8 PEM.
boost::system::result<std::string> private_key_pem(EVP_PKEY* key);
/// What `key` signs with: RS384 for RSA, ES384 for EC P-384; nullopt otherwise.
std::optional<jws_alg> alg_of(EVP_PKEY* key);
/// The public half of `key` as one JWK object: {"kty","kid","use":"sig","alg",n/e or crv/x/y}.
boost::system::result<std::string> public_jwk_json(EVP_PKEY* key, std::string_view kid);
/// A compact JWS of `payload` under `header_json`, both used as they are (tests craft odd
/// headers with it); signed as `key`'s type says (RS384 or ES384 r||s), whatever the header says.
boost::system::result<std::string> sign_compact(EVP_PKEY* key, std::string_view header_json,
                                                std::string_view payload);
/// A compact JWS of `claims_json` (a JSON object, used as is) with header {alg, kid, typ: JWT}.
boost::system::result<std::string> sign_jwt(EVP_PKEY* key, std::string_view kid,
                                            std::string_view claims_json);

}  // namespace carebridge::gateway::auth

template <>
struct boost::system::is_error_code_enum<carebridge::gateway::auth::jose_error> : std::true_type {};
