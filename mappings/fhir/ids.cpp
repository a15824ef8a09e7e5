#include "mappings/fhir/ids.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace carebridge::mappings::fhir {

uuid_text derived_uuid(std::string_view resource_type,
                       std::initializer_list<std::string_view> key) {
  // The hashed text: each part with a 4-byte big-endian length before it, so ("ab","c") and
  // ("a","bc") differ. It is built in one buffer and hashed in one update; the digest is fetched
  // once and the context reused per thread (a Bundle needs a score of ids: the per-call set-up
  // would cost more than the hashing).
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct ctx_holder {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~ctx_holder() { EVP_MD_CTX_free(ctx); }
  };
  thread_local ctx_holder holder;
  std::size_t total = 4 + resource_type.size();
  for (std::string_view part : key) total += 4 + part.size();
  std::array<unsigned char, 512> small{};
  std::vector<unsigned char> large;
  unsigned char* buf = small.data();
  if (total > small.size()) {
    large.resize(total);
    buf = large.data();
  }
  unsigned char* at = buf;
  auto feed = [&](std::string_view part) {
    const std::size_t n = part.size();
    *at++ = static_cast<unsigned char>(n >> 24);
    *at++ = static_cast<unsigned char>(n >> 16);
    *at++ = static_cast<unsigned char>(n >> 8);
    *at++ = static_cast<unsigned char>(n);
    if (n != 0) std::memcpy(at, part.data(), n);
    at += n;
  };
  feed(resource_type);
  for (std::string_view part : key) feed(part);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (sha256 == nullptr || holder.ctx == nullptr ||
      EVP_DigestInit_ex2(holder.ctx, sha256, nullptr) != 1 ||
      EVP_DigestUpdate(holder.ctx, buf, total) != 1 ||
      EVP_DigestFinal_ex(holder.ctx, md, &md_len) != 1)
    throw std::runtime_error("SHA-256 unavailable");
  md[6] = static_cast<unsigned char>((md[6] & 0x0F) | 0x80);  // version 8
  md[8] = static_cast<unsigned char>((md[8] & 0x3F) | 0x80);  // variant 10
  static constexpr char hex[] = "0123456789abcdef";
  uuid_text out;
  std::size_t o = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.text[o++] = '-';
    out.text[o++] = hex[md[static_cast<std::size_t>(i)] >> 4];
    out.text[o++] = hex[md[static_cast<std::size_t>(i)] & 0x0F];
  }
  return out;
}

}  // namespace carebridge::mappings::fhir
