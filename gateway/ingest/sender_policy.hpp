// Which sending facilities (MSH-4) a connection may send for.
//
// A sender rule ties certificate names (subject CN, SAN DNS name, or the whole subject as
// "CN=…,O=…") and/or peer addresses (IPs or CIDR blocks) to the facilities they may send for. A connection matches a rule when it meets every
// condition the rule sets; it may send for the union of the facilities of the rules it matches.
// With no rules at all the policy is open (every facility from every connection): fine for a demo,
// and `carebridge serve` warns about it at start.
#pragma once

#include "mappings/hl7v2/charset.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::gateway::ingest {

/// What is known of a connection when it is accepted (and after its TLS handshake).
struct connection_info {
  std::string listener;             // "mllp"
  std::string peer_address;         // "127.0.0.1", "::1"
  std::uint16_t peer_port = 0;
  bool tls = false;
  std::string certificate_subject;  // one-line subject, e.g. "CN=mercy-engine"
  std::vector<std::string> certificate_names;  // CN and SAN DNS names of the client certificate

  /// "127.0.0.1:5555" plus " CN=…" when there is a client certificate: for logs and the store.
  std::string describe() const;
};

struct sender_rule {
  std::string name;                            // for logs, metrics and the store
  std::vector<std::string> facilities;         // MSH-4.1 values; "*" means any
  std::vector<std::string> certificate_names;  // CN, SAN DNS or full subject; empty: no condition
  std::vector<std::string> addresses;          // IPs or CIDRs; empty: no address condition
  mappings::hl7v2::charset fallback_charset = mappings::hl7v2::charset::none;
};

/// What a connection may do, decided once per connection.
struct sender_grant {
  bool open = false;                     // no rules configured: anything goes
  std::vector<const sender_rule*> rules;  // the rules the connection matched

  bool allows(std::string_view facility) const;
  /// The first matching rule's name, or "" (open policy / no match).
  std::string_view sender_name() const;
  mappings::hl7v2::charset fallback_charset() const;
};

class sender_policy {
 public:
  sender_policy() = default;
  /// Throws std::invalid_argument with one clear line for a malformed address or CIDR.
  explicit sender_policy(std::vector<sender_rule> rules);

  bool open() const { return rules_.empty(); }
  sender_grant grant(const connection_info& c) const;
  const std::vector<sender_rule>& rules() const { return rules_; }

 private:
  std::vector<sender_rule> rules_;
};

/// True when `address` (IPv4 or IPv6 text) lies in `cidr` ("10.0.0.0/8", "::1", "127.0.0.1").
/// False for malformed input.
bool address_in(std::string_view address, std::string_view cidr);
/// True when `cidr` is a well-formed address or block.
bool valid_cidr(std::string_view cidr);

}  // namespace carebridge::gateway::ingest
