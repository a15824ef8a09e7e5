#include "gateway/ingest/sender_policy.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace carebridge::gateway::ingest {
namespace {

struct ip {
  std::array<unsigned char, 16> bytes{};
  int bits = 0;  // 32 or 128
};

std::optional<ip> parse_ip(std::string_view text) {
  const std::string s(text);
  ip out;
  if (inet_pton(AF_INET, s.c_str(), out.bytes.data()) == 1) {
    out.bits = 32;
    return out;
  }
  if (inet_pton(AF_INET6, s.c_str(), out.bytes.data()) == 1) {
    // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) compares as IPv4.
    static constexpr unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (std::memcmp(out.bytes.data(), mapped, 12) == 0) {
      std::memmove(out.bytes.data(), out.bytes.data() + 12, 4);
      std::fill(out.bytes.begin() + 4, out.bytes.end(), 0);
      out.bits = 32;
    } else {
      out.bits = 128;
    }
    return out;
  }
  return std::nullopt;
}

struct block {
  ip base;
  int prefix = 0;
};

std::optional<block> parse_cidr(std::string_view cidr) {
  const std::size_t slash = cidr.find('/');
  auto base = parse_ip(cidr.substr(0, slash));
  if (!base) return std::nullopt;
  int prefix = base->bits;
  if (slash != std::string_view::npos) {
    const std::string_view p = cidr.substr(slash + 1);
    const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc{} || end != p.data() + p.size() || prefix < 0 || prefix > base->bits)
      return std::nullopt;
  }
  return block{*base, prefix};
}

}  // namespace

std::string connection_info::describe() const {
  const bool v6 = peer_address.find(':') != std::string::npos;
  std::string s;
  if (v6) s.push_back('[');
  s.append(peer_address);
  if (v6) s.push_back(']');
  s.append(":").append(std::to_string(peer_port));
  if (!certificate_subject.empty()) s += " " + certificate_subject;
  return s;
}

bool address_in(std::string_view address, std::string_view cidr) {
  const auto a = parse_ip(address);
  const auto b = parse_cidr(cidr);
  if (!a || !b || a->bits != b->base.bits) return false;
  int left = b->prefix;
  for (std::size_t i = 0; left > 0; ++i, left -= 8) {
    const int n = std::min(left, 8);
    const auto mask = static_cast<unsigned char>(0xFF << (8 - n));
    if ((a->bytes[i] & mask) != (b->base.bytes[i] & mask)) return false;
  }
  return true;
}

bool valid_cidr(std::string_view cidr) { return parse_cidr(cidr).has_value(); }

sender_policy::sender_policy(std::vector<sender_rule> rules) : rules_(std::move(rules)) {
  for (const auto& r : rules_) {
    for (const auto& a : r.addresses)
      if (!valid_cidr(a))
        throw std::invalid_argument("sender '" + r.name + "': not an IP address or CIDR block: " + a);
    if (r.facilities.empty())
      throw std::invalid_argument("sender '" + r.name + "': no facilities (use \"*\" for any)");
    if (r.certificate_names.empty() && r.addresses.empty())
      throw std::invalid_argument("sender '" + r.name +
                                  "': give certificate_names and/or addresses to identify it");
  }
}

sender_grant sender_policy::grant(const connection_info& c) const {
  sender_grant g;
  g.open = rules_.empty();
  for (const auto& r : rules_) {
    if (!r.certificate_names.empty()) {
      // A rule names a certificate by its subject CN, a SAN DNS name, or its whole subject.
      const bool named = std::any_of(r.certificate_names.begin(), r.certificate_names.end(),
                                     [&](const std::string& n) {
                                       return (!c.certificate_subject.empty() &&
                                               n == c.certificate_subject) ||
                                              std::find(c.certificate_names.begin(),
                                                        c.certificate_names.end(),
                                                        n) != c.certificate_names.end();
                                     });
      if (!named) continue;
    }
    if (!r.addresses.empty()) {
      const bool inside = std::any_of(r.addresses.begin(), r.addresses.end(),
                                      [&](const std::string& a) { return address_in(c.peer_address, a); });
      if (!inside) continue;
    }
    g.rules.push_back(&r);
  }
  return g;
}

bool sender_grant::allows(std::string_view facility) const {
  if (open) return true;
  for (const sender_rule* r : rules)
    for (const auto& f : r->facilities)
      if (f == "*" || f == facility) return true;
  return false;
}

std::string_view sender_grant::sender_name() const {
  return rules.empty() ? std::string_view{} : std::string_view(rules.front()->name);
}

mappings::hl7v2::charset sender_grant::fallback_charset() const {
  for (const sender_rule* r : rules)
    if (r->fallback_charset != mappings::hl7v2::charset::none) return r->fallback_charset;
  return mappings::hl7v2::charset::none;
}

}  // namespace carebridge::gateway::ingest
