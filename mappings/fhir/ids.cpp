#include "mappings/fhir/ids.hpp"

// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but EVP's provider dispatch
// (init, final, cleanse) costs more than hashing one of our keys, and a Bundle needs a score of
// them: the direct functions are used, the same SHA-256 of the same bytes.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <array>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace carebridge::mappings::fhir {

uuid_text derived_uuid(std::string_view resource_type,
                       std::initializer_list<std::string_view> key) {
  // The hashed text: each part with a 4-byte big-endian length before it, so ("ab","c") and
  // ("a","bc") differ. It is built in one buffer (on the stack for the usual key) and hashed in one
  // update.
  std::size_t total = 4 + resource_type.size();
  for (std::string_view part : key) total += 4 + part.size();
  std::array<unsigned char, 512> small;  // not cleared: only the bytes written are read
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
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx;
  if (SHA256_Init(&ctx) != 1 || SHA256_Update(&ctx, buf, total) != 1 || SHA256_Final(md, &ctx) != 1)
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
