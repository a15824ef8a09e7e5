#include "gateway/auth/jose.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

namespace carebridge::gateway::auth {

namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "jose"; }
  std::string message(int ev) const override {
    switch (static_cast<jose_error>(ev)) {
      case jose_error::too_large:
        return "too large";
      case jose_error::malformed:
        return "not a compact JWS";
      case jose_error::bad_base64:
        return "not base64url";
      case jose_error::bad_json:
        return "malformed JSON header, claims or key";
      case jose_error::unsupported_alg:
        return "signing algorithm not supported (RS384, ES384)";
      case jose_error::no_key:
        return "no registered key has this kid";
      case jose_error::ambiguous_key:
        return "several registered keys have this kid";
      case jose_error::key_mismatch:
        return "the key does not fit the signing algorithm";
      case jose_error::bad_key:
        return "unusable key";
      case jose_error::bad_signature_length:
        return "signature of the wrong length";
      case jose_error::bad_signature:
        return "signature does not verify";
      case jose_error::crypto_failure:
        return "cryptographic library failure";
    }
    return "jose error " + std::to_string(ev);
  }
};

constexpr std::string_view b64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

constexpr std::size_t p384_bytes = 48;
constexpr int rsa_min_bits = 2048;
constexpr int rsa_max_bits = 8192;

struct bn_free {
  void operator()(BIGNUM* b) const noexcept { BN_free(b); }
};
using bn_ptr = std::unique_ptr<BIGNUM, bn_free>;
struct ctx_free {
  void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
};
using ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, ctx_free>;
struct md_ctx_free {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_free>;
struct bld_free {
  void operator()(OSSL_PARAM_BLD* b) const noexcept { OSSL_PARAM_BLD_free(b); }
};
struct params_free {
  void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
};
struct sig_free {
  void operator()(ECDSA_SIG* s) const noexcept { ECDSA_SIG_free(s); }
};
using sig_ptr = std::unique_ptr<ECDSA_SIG, sig_free>;
struct bio_free {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using bio_ptr = std::unique_ptr<BIO, bio_free>;

pkey_ptr own(EVP_PKEY* k) {
  return pkey_ptr(k, pkey_deleter{});
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string_view str(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

// A JSON object with no member twice (RFC 7515 §4: a parser must reject or take the last; taking
// the first, as FindMember does, would differ from other parsers).
bool parse_object(std::string_view text, rapidjson::Document& doc) {
  doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) return false;
  std::set<std::string_view> names;
  for (auto m = doc.MemberBegin(); m != doc.MemberEnd(); ++m)
    if (!names.insert(str(m->name)).second) return false;
  return true;
}

// Optional string member: true when absent or a string; false for another type.
bool opt_string(const rapidjson::Value& obj, const char* name, std::optional<std::string>& out) {
  const auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return true;
  if (!it->value.IsString()) return false;
  out = std::string(str(it->value));
  return true;
}

bool opt_string(const rapidjson::Value& obj, const char* name, std::string& out) {
  std::optional<std::string> v;
  if (!opt_string(obj, name, v)) return false;
  if (v) out = std::move(*v);
  return true;
}

bool opt_date(const rapidjson::Value& obj, const char* name, std::optional<std::int64_t>& out) {
  const auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return true;
  const auto& v = it->value;
  if (v.IsInt64()) {
    out = v.GetInt64();
    return true;
  }
  if (v.IsUint64()) return false;  // beyond int64: not a date
  if (!v.IsNumber()) return false;
  const double d = std::floor(v.GetDouble());
  if (!std::isfinite(d) || d < -9.0e18 || d > 9.0e18) return false;
  out = static_cast<std::int64_t>(d);
  return true;
}

std::optional<std::string> b64_member(const rapidjson::Value& obj, const char* name) {
  const auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return base64url_decode(str(it->value));
}

bn_ptr to_bn(std::string_view big_endian) {
  return bn_ptr(BN_bin2bn(bytes(big_endian), static_cast<int>(big_endian.size()), nullptr));
}

// A public key from OSSL parameters, checked by the provider (RSA: modulus sanity; EC: the point
// is on the curve and not at infinity).
boost::system::result<pkey_ptr> from_params(const char* type, OSSL_PARAM* params) {
  ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0) return jose_error::crypto_failure;
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) <= 0 || raw == nullptr)
    return jose_error::bad_key;
  pkey_ptr key = own(raw);
  ctx_ptr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check) return jose_error::crypto_failure;
  if (EVP_PKEY_public_check(check.get()) != 1) return jose_error::bad_key;
  return key;
}

// One JWK; the reason it is unusable goes to `why` (a short PHI-free text).
std::optional<jwk> parse_one(const rapidjson::Value& v, std::string& why) {
  if (!v.IsObject()) {
    why = "not a JSON object";
    return std::nullopt;
  }
  jwk k;
  std::optional<std::string> kty, use, alg, crv;
  if (!opt_string(v, "kid", k.kid) || !opt_string(v, "kty", kty) || !opt_string(v, "use", use) ||
      !opt_string(v, "alg", alg) || !opt_string(v, "crv", crv)) {
    why = "a member has the wrong type";
    return std::nullopt;
  }
  if (!kty) {
    why = "no kty";
    return std::nullopt;
  }
  if (use && *use != "sig") {
    why = "not a signing key (use)";
    return std::nullopt;
  }
  if (const auto ops = v.FindMember("key_ops"); ops != v.MemberEnd()) {
    bool verify_op = false;
    if (ops->value.IsArray())
      for (const auto& o : ops->value.GetArray())
        verify_op = verify_op || (o.IsString() && str(o) == "verify");
    if (!verify_op) {
      why = "not a verification key (key_ops)";
      return std::nullopt;
    }
  }
  // A published private key is the client's mistake; using its public half would hide it.
  for (const char* priv : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (v.HasMember(priv)) {
      why = "holds private key material";
      return std::nullopt;
    }
  }
  if (alg) {
    const auto a = parse_alg(*alg);
    if (!a) {
      why = "alg is not RS384 or ES384";
      return std::nullopt;
    }
    k.alg = *a;
    k.alg_declared = true;
  }
  std::unique_ptr<OSSL_PARAM_BLD, bld_free> bld(OSSL_PARAM_BLD_new());
  if (!bld) {
    why = "out of memory";
    return std::nullopt;
  }
  const char* type = nullptr;
  bn_ptr n, e;
  std::string point;
  if (*kty == "RSA") {
    type = "RSA";
    if (k.alg_declared && k.alg != jws_alg::rs384) {
      why = "alg does not fit kty";
      return std::nullopt;
    }
    k.alg = jws_alg::rs384;
    const auto n_bytes = b64_member(v, "n");
    const auto e_bytes = b64_member(v, "e");
    if (!n_bytes || !e_bytes || n_bytes->empty() || e_bytes->empty() || e_bytes->size() > 8) {
      why = "RSA n or e missing or malformed";
      return std::nullopt;
    }
    n = to_bn(*n_bytes);
    e = to_bn(*e_bytes);
    if (!n || !e) {
      why = "out of memory";
      return std::nullopt;
    }
    const int nbits = BN_num_bits(n.get());
    if (nbits < rsa_min_bits || nbits > rsa_max_bits) {
      why = nbits < rsa_min_bits ? "RSA key under 2048 bits" : "RSA key over 8192 bits";
      return std::nullopt;
    }
    if (!BN_is_odd(e.get()) || BN_is_one(e.get())) {
      why = "RSA exponent unusable";
      return std::nullopt;
    }
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
  } else if (*kty == "EC") {
    type = "EC";
    if (k.alg_declared && k.alg != jws_alg::es384) {
      why = "alg does not fit kty";
      return std::nullopt;
    }
    k.alg = jws_alg::es384;
    if (crv != "P-384") {
      why = "EC curve is not P-384";
      return std::nullopt;
    }
    const auto x = b64_member(v, "x");
    const auto y = b64_member(v, "y");
    if (!x || !y || x->size() != p384_bytes || y->size() != p384_bytes) {
      why = "EC x or y missing or not 48 bytes";
      return std::nullopt;
    }
    point = "\x04" + *x + *y;  // uncompressed SEC1 point
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "secp384r1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                     point.size());
  } else {
    why = "kty is not RSA or EC";
    return std::nullopt;
  }
  std::unique_ptr<OSSL_PARAM, params_free> params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) {
    why = "out of memory";
    return std::nullopt;
  }
  auto key = from_params(type, params.get());
  if (!key) {
    why = *kty == "EC" ? "EC point not on P-384" : "RSA key rejected";
    return std::nullopt;
  }
  k.key = std::move(*key);
  k.bits = EVP_PKEY_get_bits(k.key.get());
  return k;
}

void write_json_string(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// A BIGNUM parameter of `key` as big-endian bytes, left-padded to `width` when width > 0.
std::optional<std::string> bn_param(EVP_PKEY* key, const char* name, int width) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1 || raw == nullptr) return std::nullopt;
  bn_ptr b(raw);
  const int len = width > 0 ? width : BN_num_bytes(b.get());
  std::string out(static_cast<std::size_t>(len), '\0');
  if (BN_bn2binpad(b.get(), reinterpret_cast<unsigned char*>(out.data()), len) != len)
    return std::nullopt;
  return out;
}

bool is_p384(EVP_PKEY* key) {
  char group[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) !=
      1)
    return false;
  return std::string_view(group, len) == "secp384r1";
}

}  // namespace

const boost::system::error_category& jose_category() noexcept {
  static const category c;
  return c;
}

void pkey_deleter::operator()(EVP_PKEY* k) const noexcept {
  EVP_PKEY_free(k);
}

std::string base64url_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  std::size_t i = 0;
  const auto b = [&](std::size_t j) {
    return static_cast<unsigned>(static_cast<unsigned char>(in[j]));
  };
  for (; i + 3 <= in.size(); i += 3) {
    const unsigned v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out.push_back(b64_alphabet[(v >> 18) & 63]);
    out.push_back(b64_alphabet[(v >> 12) & 63]);
    out.push_back(b64_alphabet[(v >> 6) & 63]);
    out.push_back(b64_alphabet[v & 63]);
  }
  if (in.size() - i == 1) {
    const unsigned v = b(i) << 16;
    out.push_back(b64_alphabet[(v >> 18) & 63]);
    out.push_back(b64_alphabet[(v >> 12) & 63]);
  } else if (in.size() - i == 2) {
    const unsigned v = (b(i) << 16) | (b(i + 1) << 8);
    out.push_back(b64_alphabet[(v >> 18) & 63]);
    out.push_back(b64_alphabet[(v >> 12) & 63]);
    out.push_back(b64_alphabet[(v >> 6) & 63]);
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  unsigned acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = b64_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xffu));
    }
    acc &= (1u << bits) - 1u;  // keep only the bits not yet written
  }
  if (acc != 0) return std::nullopt;  // non-zero unused bits: another text for the same bytes
  return out;
}

std::string_view alg_name(jws_alg a) {
  switch (a) {
    case jws_alg::rs384:
      return "RS384";
    case jws_alg::es384:
      return "ES384";
  }
  return "?";
}

std::optional<jws_alg> parse_alg(std::string_view name) {
  if (name == "RS384") return jws_alg::rs384;
  if (name == "ES384") return jws_alg::es384;
  return std::nullopt;
}

boost::system::result<jwk_set> parse_jwks(std::string_view json, std::size_t max_bytes) {
  if (json.size() > max_bytes) return jose_error::too_large;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return jose_error::bad_json;
  jwk_set out;
  const auto add = [&out](const rapidjson::Value& v, std::size_t index) {
    std::string why;
    if (auto k = parse_one(v, why)) {
      out.keys.push_back(std::move(*k));
      return;
    }
    std::string kid;
    if (v.IsObject()) {
      if (const auto it = v.FindMember("kid"); it != v.MemberEnd() && it->value.IsString())
        kid = std::string(str(it->value)).substr(0, 64);
    }
    out.skipped.push_back((kid.empty() ? "key " + std::to_string(index) : "kid \"" + kid + "\"") +
                          ": " + why);
  };
  if (auto keys = doc.FindMember("keys"); keys != doc.MemberEnd()) {
    if (!keys->value.IsArray()) return jose_error::bad_json;
    std::size_t i = 0;
    for (const auto& v : keys->value.GetArray()) add(v, i++);
  } else if (doc.HasMember("kty")) {
    add(doc, 0);
  } else {
    return jose_error::bad_json;
  }
  return out;
}

boost::system::result<jws> parse_jws(std::string_view compact, std::size_t max_bytes) {
  if (compact.size() > max_bytes) return jose_error::too_large;
  const std::size_t d1 = compact.find('.');
  if (d1 == std::string_view::npos) return jose_error::malformed;
  const std::size_t d2 = compact.find('.', d1 + 1);
  if (d2 == std::string_view::npos || compact.find('.', d2 + 1) != std::string_view::npos)
    return jose_error::malformed;
  const std::string_view h64 = compact.substr(0, d1);
  const std::string_view p64 = compact.substr(d1 + 1, d2 - d1 - 1);
  const std::string_view s64 = compact.substr(d2 + 1);
  if (h64.empty() || p64.empty() || s64.empty()) return jose_error::malformed;
  const auto header = base64url_decode(h64);
  const auto payload = base64url_decode(p64);
  auto signature = base64url_decode(s64);
  if (!header || !payload || !signature) return jose_error::bad_base64;

  jws out;
  rapidjson::Document h;
  if (!parse_object(*header, h)) return jose_error::bad_json;
  auto alg = h.FindMember("alg");
  if (alg == h.MemberEnd() || !alg->value.IsString()) return jose_error::bad_json;
  const auto a = parse_alg(str(alg->value));
  if (!a) return jose_error::unsupported_alg;
  // Extensions we would have to understand (RFC 7515 §4.1.11): we understand none.
  if (h.HasMember("crit")) return jose_error::unsupported_alg;
  out.alg = *a;
  if (!opt_string(h, "kid", out.kid) || !opt_string(h, "typ", out.typ) ||
      !opt_string(h, "jku", out.jku))
    return jose_error::bad_json;
  // A key sent along with the token is the attacker's key: never trusted, so refused outright.
  if (h.HasMember("jwk") || h.HasMember("x5c") || h.HasMember("x5u")) return jose_error::bad_json;

  rapidjson::Document c;
  if (!parse_object(*payload, c)) return jose_error::bad_json;
  jwt_claims& cl = out.claims;
  if (!opt_string(c, "iss", cl.iss) || !opt_string(c, "sub", cl.sub) ||
      !opt_string(c, "jti", cl.jti) || !opt_date(c, "exp", cl.exp) || !opt_date(c, "nbf", cl.nbf) ||
      !opt_date(c, "iat", cl.iat))
    return jose_error::bad_json;
  if (auto aud = c.FindMember("aud"); aud != c.MemberEnd()) {
    if (aud->value.IsString()) {
      cl.aud.emplace_back(str(aud->value));
    } else if (aud->value.IsArray()) {
      for (const auto& v : aud->value.GetArray()) {
        if (!v.IsString()) return jose_error::bad_json;
        cl.aud.emplace_back(str(v));
      }
    } else {
      return jose_error::bad_json;
    }
  }
  out.signing_input = std::string(compact.substr(0, d2));
  out.signature = std::move(*signature);
  return out;
}

boost::system::result<const jwk*> select_key(const jwk_set& keys, const jws& token) {
  const jwk* found = nullptr;
  for (const jwk& k : keys.keys) {
    if (k.kid != token.kid) continue;
    if (found != nullptr) return jose_error::ambiguous_key;
    found = &k;
  }
  if (found == nullptr) return jose_error::no_key;
  if (found->alg != token.alg) return jose_error::key_mismatch;
  return found;
}

boost::system::error_code verify(const jws& token, const jwk& key) {
  if (!key.key || key.alg != token.alg) return jose_error::key_mismatch;
  const bool is_rsa = EVP_PKEY_is_a(key.key.get(), "RSA") == 1;
  const bool is_ec = EVP_PKEY_is_a(key.key.get(), "EC") == 1;
  std::string der;
  std::string_view sig = token.signature;
  if (token.alg == jws_alg::rs384) {
    if (!is_rsa) return jose_error::key_mismatch;
    if (static_cast<int>(sig.size()) != EVP_PKEY_get_size(key.key.get()))
      return jose_error::bad_signature_length;
  } else {
    if (!is_ec) return jose_error::key_mismatch;
    if (sig.size() != 2 * p384_bytes) return jose_error::bad_signature_length;
    sig_ptr s(ECDSA_SIG_new());
    bn_ptr r = to_bn(sig.substr(0, p384_bytes));
    bn_ptr ss = to_bn(sig.substr(p384_bytes));
    if (!s || !r || !ss) return jose_error::crypto_failure;
    if (BN_is_zero(r.get()) || BN_is_zero(ss.get())) return jose_error::bad_signature;
    if (ECDSA_SIG_set0(s.get(), r.release(), ss.release()) != 1) return jose_error::crypto_failure;
    const int len = i2d_ECDSA_SIG(s.get(), nullptr);
    if (len <= 0) return jose_error::crypto_failure;
    der.resize(static_cast<std::size_t>(len));
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_ECDSA_SIG(s.get(), &p) != len) return jose_error::crypto_failure;
    sig = der;
  }
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx) return jose_error::crypto_failure;
  if (EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA384", nullptr, nullptr, key.key.get(),
                              nullptr) != 1)
    return jose_error::crypto_failure;
  const int rc = EVP_DigestVerify(ctx.get(), bytes(sig), sig.size(), bytes(token.signing_input),
                                  token.signing_input.size());
  if (rc == 1) return {};
  return jose_error::bad_signature;
}

boost::system::result<pkey_ptr> generate_key(jws_alg alg) {
  EVP_PKEY* raw = nullptr;
  if (alg == jws_alg::rs384)
    raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(3072));
  else
    raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  if (raw == nullptr) return jose_error::crypto_failure;
  return own(raw);
}

boost::system::result<pkey_ptr> read_private_key_pem(std::string_view pem) {
  if (pem.size() > 64 * 1024) return jose_error::too_large;
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return jose_error::crypto_failure;
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) return jose_error::bad_key;
  pkey_ptr key = own(raw);
  if (!alg_of(key.get())) return jose_error::bad_key;
  return key;
}

boost::system::result<std::string> private_key_pem(EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio) return jose_error::crypto_failure;
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return jose_error::crypto_failure;
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  if (n <= 0 || data == nullptr) return jose_error::crypto_failure;
  std::string out(data, static_cast<std::size_t>(n));
  return out;
}

std::optional<jws_alg> alg_of(EVP_PKEY* key) {
  if (key == nullptr) return std::nullopt;
  if (EVP_PKEY_is_a(key, "RSA") == 1) {
    const int bits = EVP_PKEY_get_bits(key);
    if (bits < rsa_min_bits || bits > rsa_max_bits) return std::nullopt;
    return jws_alg::rs384;
  }
  if (EVP_PKEY_is_a(key, "EC") == 1 && is_p384(key)) return jws_alg::es384;
  return std::nullopt;
}

boost::system::result<std::string> public_jwk_json(EVP_PKEY* key, std::string_view kid) {
  const auto alg = alg_of(key);
  if (!alg) return jose_error::bad_key;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  if (*alg == jws_alg::rs384) {
    const auto n = bn_param(key, OSSL_PKEY_PARAM_RSA_N, 0);
    const auto e = bn_param(key, OSSL_PKEY_PARAM_RSA_E, 0);
    if (!n || !e) return jose_error::crypto_failure;
    w.Key("kty");
    w.String("RSA");
    w.Key("kid");
    write_json_string(w, kid);
    w.Key("use");
    w.String("sig");
    w.Key("alg");
    w.String("RS384");
    w.Key("n");
    write_json_string(w, base64url_encode(*n));
    w.Key("e");
    write_json_string(w, base64url_encode(*e));
  } else {
    const auto x = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, static_cast<int>(p384_bytes));
    const auto y = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, static_cast<int>(p384_bytes));
    if (!x || !y) return jose_error::crypto_failure;
    w.Key("kty");
    w.String("EC");
    w.Key("kid");
    write_json_string(w, kid);
    w.Key("use");
    w.String("sig");
    w.Key("alg");
    w.String("ES384");
    w.Key("crv");
    w.String("P-384");
    w.Key("x");
    write_json_string(w, base64url_encode(*x));
    w.Key("y");
    write_json_string(w, base64url_encode(*y));
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

boost::system::result<std::string> sign_jwt(EVP_PKEY* key, std::string_view kid,
                                            std::string_view claims_json) {
  const auto alg = alg_of(key);
  if (!alg) return jose_error::bad_key;
  rapidjson::StringBuffer hb;
  rapidjson::Writer<rapidjson::StringBuffer> hw(hb);
  hw.StartObject();
  hw.Key("alg");
  write_json_string(hw, alg_name(*alg));
  hw.Key("kid");
  write_json_string(hw, kid);
  hw.Key("typ");
  hw.String("JWT");
  hw.EndObject();
  return sign_compact(key, std::string_view(hb.GetString(), hb.GetSize()), claims_json);
}

boost::system::result<std::string> sign_compact(EVP_PKEY* key, std::string_view header_json,
                                                std::string_view payload) {
  const auto alg = alg_of(key);
  if (!alg) return jose_error::bad_key;
  std::string input = base64url_encode(header_json) + "." + base64url_encode(payload);
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx) return jose_error::crypto_failure;
  if (EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA384", nullptr, nullptr, key, nullptr) != 1)
    return jose_error::crypto_failure;
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, bytes(input), input.size()) != 1)
    return jose_error::crypto_failure;
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, bytes(input),
                     input.size()) != 1)
    return jose_error::crypto_failure;
  sig.resize(len);
  if (*alg == jws_alg::es384) {
    // DER ECDSA-Sig-Value → the fixed-width r||s JWS wants (RFC 7518 §3.4).
    const auto* p = bytes(sig);
    sig_ptr s(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
    if (!s) return jose_error::crypto_failure;
    const BIGNUM* r = nullptr;
    const BIGNUM* ss = nullptr;
    ECDSA_SIG_get0(s.get(), &r, &ss);
    std::string raw(2 * p384_bytes, '\0');
    auto* out = reinterpret_cast<unsigned char*>(raw.data());
    if (BN_bn2binpad(r, out, static_cast<int>(p384_bytes)) != static_cast<int>(p384_bytes) ||
        BN_bn2binpad(ss, out + p384_bytes, static_cast<int>(p384_bytes)) !=
            static_cast<int>(p384_bytes))
      return jose_error::crypto_failure;
    sig = std::move(raw);
  }
  return input + "." + base64url_encode(sig);
}

}  // namespace carebridge::gateway::auth
