#include "mappings/fhir/ids.hpp"

#include <openssl/evp.h>

#include <array>
#include <stdexcept>

namespace carebridge::mappings::fhir {

std::string derived_id(std::string_view resource_type,
                       std::initializer_list<std::string_view> key) {
  // The digest is fetched once and the context reused per thread: both are costly to make, and a
  // Bundle needs a score of ids.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct ctx_holder {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~ctx_holder() { EVP_MD_CTX_free(ctx); }
  };
  thread_local ctx_holder holder;
  EVP_MD_CTX* ctx = holder.ctx;
  if (sha256 == nullptr || ctx == nullptr || EVP_DigestInit_ex2(ctx, sha256, nullptr) != 1)
    throw std::runtime_error("SHA-256 unavailable");
  auto feed = [&](std::string_view part) {
    // Length-prefixed, so ("ab","c") and ("a","bc") differ.
    const std::size_t n = part.size();
    const unsigned char len[4] = {
        static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
        static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
    EVP_DigestUpdate(ctx, len, sizeof len);
    EVP_DigestUpdate(ctx, part.data(), part.size());
  };
  feed(resource_type);
  for (std::string_view part : key) feed(part);
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  EVP_DigestFinal_ex(ctx, md.data(), &md_len);
  md[6] = static_cast<unsigned char>((md[6] & 0x0F) | 0x80);  // version 8
  md[8] = static_cast<unsigned char>((md[8] & 0x3F) | 0x80);  // variant 10
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(hex[md[static_cast<std::size_t>(i)] >> 4]);
    out.push_back(hex[md[static_cast<std::size_t>(i)] & 0x0F]);
  }
  return out;
}

}  // namespace carebridge::mappings::fhir
