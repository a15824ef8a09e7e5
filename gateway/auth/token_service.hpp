// The SMART Backend Services token service (SMART App Launch 2.2.0 backend-services,
// client-confidential-asymmetric): exchanges a client's signed assertion for an access token, and
// resolves access tokens to the principal they were issued for.
//
// exchange() checks a token request (the form body of POST /auth/token) in this order: grant_type,
// client_assertion_type, the assertion's form (jose.hpp: RS384/ES384 only), typ, iss = sub = a
// registered enabled client, the certificate binding, jku, aud (one of the token endpoint's URLs),
// exp (present, not past, at most 5 minutes ahead, with clock skew), nbf/iat, jti, the signature
// (key by kid from the client's JWK Set), jti replay, then the scopes (requested ∩ registered;
// nothing granted: invalid_scope). Failures are RFC 6749 §5.2 errors whose description names the
// rule, never a token, a claim value or key material.
//
// Keys registered as a JWKS URL are fetched by the caller (the HTTP adapter), so this stays free of
// I/O: exchange() answers `jwks_needed{url}` when it has no fresh copy, or when the JWS names a kid
// the cached copy lacks and the URL was last fetched more than `jwks_refetch_interval` ago; the
// caller fetches, hands the result to jwks_fetched() / jwks_fetch_failed(), and calls exchange()
// again (which then answers with a token or an error, never jwks_needed twice in a row for the
// same URL within the refetch interval). Fetched sets are cached per URL for the Cache-Control
// max-age (default 5 minutes, at most 1 hour, at least 10 seconds); a failed fetch keeps the last
// good set.
//
// Access tokens are 256 random bits, base64url; only their SHA-256 is kept (in memory: a restart
// ends every token, clients simply ask again). resolve() returns null for an unknown or expired
// token, for one whose client has since been changed, disabled or removed in the registry (seen
// within the registry's recheck interval), and for one whose client is bound to certificate names
// its connection does not present.
//
// Threads: exchange(), jwks_*() and resolve() may be called from any thread at once (a shared
// mutex over the tokens; another over the replay and JWKS caches). The registry must outlive the
// service. Memory is bounded: tokens, replay entries and cached JWKS URLs each have a cap; expired
// entries are swept, and a full cache refuses new entries rather than forget live ones early.
#pragma once

#include "gateway/auth/client_registry.hpp"
#include "gateway/auth/jose.hpp"
#include "gateway/auth/principal.hpp"
#include "gateway/ingest/sender_policy.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace carebridge::gateway::auth {

enum class oauth_error : std::uint8_t {
  invalid_request,
  invalid_client,
  invalid_grant,
  invalid_scope,
  unauthorized_client,
  unsupported_grant_type,
};

std::string_view oauth_error_name(oauth_error e);  // "invalid_client"
/// 401 for invalid_client (with WWW-Authenticate), 400 for the others (RFC 6749 §5.2).
unsigned oauth_error_status(oauth_error e);

struct token_issued {
  std::string access_token;  // to the client only: never logged
  std::int64_t expires_in = 0;
  std::string scope;      // granted, space-separated
  std::string client_id;  // for logs and metrics
};

struct token_refused {
  oauth_error error = oauth_error::invalid_request;
  std::string description;  // for the client: the rule that failed, no values
  std::string client_id;    // the assertion's iss when known (logs); may name an unknown client
};

struct jwks_needed {
  std::string url;
};

using exchange_result = std::variant<token_issued, token_refused, jwks_needed>;

struct token_options {
  std::chrono::seconds token_lifetime{300};
  std::chrono::seconds clock_skew{60};
  std::chrono::seconds max_assertion_lifetime{300};  // exp at most this far ahead (plus skew)
  std::size_t max_tokens = 100000;
  std::size_t max_replay_entries = 100000;
  std::size_t max_jwks_urls = 1000;
  std::chrono::seconds jwks_default_max_age{300};
  std::chrono::seconds jwks_min_max_age{10};
  std::chrono::seconds jwks_max_max_age{3600};
  std::chrono::seconds jwks_refetch_interval{30};
  std::size_t max_jwks_bytes = 64 * 1024;
  /// Fills the buffer with random bytes; default OpenSSL RAND_bytes (tests inject their own).
  /// Returns false on failure (no token is issued then).
  std::function<bool(std::span<unsigned char>)> random;
};

/// Seconds of a Cache-Control `max-age` (0 for no-store / no-cache); nullopt when absent or
/// malformed.
std::optional<std::chrono::seconds> parse_max_age(std::string_view cache_control);

/// An application/x-www-form-urlencoded body as (name, value) pairs, '+' and %XX decoded; nullopt
/// when an escape is malformed.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view body);

class token_service {
 public:
  token_service(const client_registry& registry, token_options options = {});
  ~token_service();
  token_service(const token_service&) = delete;
  token_service& operator=(const token_service&) = delete;

  /// One token request. `audiences`: the token endpoint's URL(s) an assertion's aud must name.
  exchange_result exchange(std::string_view form_body, const ingest::connection_info& conn,
                           std::span<const std::string> audiences,
                           std::chrono::system_clock::time_point now);

  /// The JWK Set fetched from `url` (its body, and the Cache-Control max-age if the answer had
  /// one). An error (and the last good set kept) when it does not parse.
  boost::system::error_code jwks_fetched(std::string_view url, std::string_view body,
                                         std::optional<std::chrono::seconds> max_age,
                                         std::chrono::system_clock::time_point now);
  /// The fetch failed: the last good set (if any) stays; no new fetch before the refetch interval.
  void jwks_fetch_failed(std::string_view url, std::chrono::system_clock::time_point now);

  /// The principal of a bearer token, or null (unknown, expired, revoked, certificate mismatch).
  std::shared_ptr<const principal> resolve(std::string_view bearer_token,
                                           const ingest::connection_info& conn,
                                           std::chrono::system_clock::time_point now) const;

  /// Removes expired tokens and replay entries (also done now and then by exchange()).
  void sweep(std::chrono::system_clock::time_point now);

  std::size_t active_tokens() const;

 private:
  using digest = std::array<unsigned char, 32>;
  struct digest_hash {
    std::size_t operator()(const digest& d) const noexcept;
  };
  struct token_entry {
    std::shared_ptr<const principal> who;
    std::int64_t revision = 0;
    std::chrono::system_clock::time_point expires;
  };
  struct jwks_entry {
    std::shared_ptr<const jwk_set> keys;  // null: never fetched successfully
    std::chrono::system_clock::time_point fresh_until{};
    std::chrono::system_clock::time_point last_fetch{};  // success or failure
  };
  struct static_keys {
    std::int64_t revision = 0;
    std::shared_ptr<const jwk_set> keys;
  };

  std::variant<std::shared_ptr<const jwk_set>, token_refused, jwks_needed> keys_for(
      const registered_client& c, const jws& token, std::chrono::system_clock::time_point now);
  void sweep_locked(std::chrono::system_clock::time_point now);

  const client_registry& registry_;
  token_options opts_;

  mutable std::shared_mutex tokens_mu_;
  std::unordered_map<digest, token_entry, digest_hash> tokens_;
  std::chrono::system_clock::time_point next_token_sweep_{};

  std::mutex cache_mu_;
  std::map<std::pair<std::string, std::string>, std::chrono::system_clock::time_point> replay_;
  std::chrono::system_clock::time_point next_replay_sweep_{};
  std::unordered_map<std::string, jwks_entry> jwks_;
  std::unordered_map<std::string, static_keys> static_;  // by client id
};

}  // namespace carebridge::gateway::auth
