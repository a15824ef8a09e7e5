// The registered SMART backend clients: DATA_DIR/clients.db (SQLite, WAL), written by
// `carebridge clients register|enable|disable|remove` and read by a running gateway's token
// service.
//
// A client is tied to what it acts for (principal.hpp: a physician group, a sender's facilities, or
// ops), the scopes it may be granted, its public keys — a static JWK Set or a JWKS URL (https; http
// only to loopback when allowed) — and, optionally, the certificate names its TLS connections must
// present (mutual-TLS binding: a stolen key alone is then not enough). Every change bumps the
// client's `revision`, so access tokens issued before it stop resolving.
//
// Threads: every member function may be called from any thread (one connection behind a mutex).
// find() answers from an in-memory snapshot that is re-read when the file changed — checked with
// `PRAGMA data_version` (one page read) at most once per `recheck` — so a client disabled or
// removed by the CLI stops resolving within that interval; writes through this object refresh the
// snapshot at once. The tables are `clients` and `clients_meta` (schema version), created here.
#pragma once

#include "gateway/auth/principal.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct sqlite3;

namespace carebridge::gateway::auth {

struct registered_client {
  std::string client_id;
  role kind = role::group;
  std::string group;                           // role::group
  std::vector<std::string> facilities;         // role::sender ("*": any)
  std::string scopes;                          // allowed scopes, space-separated as registered
  std::string jwks;                            // a static JWK Set (JSON), or ""
  std::string jwks_url;                        // or the URL it is published at
  std::vector<std::string> certificate_names;  // empty: no certificate binding
  bool enabled = true;
  std::int64_t revision = 0;  // bumped by every change
  std::int64_t created = 0;   // seconds since the epoch (UTC)
  std::int64_t updated = 0;
};

/// The client's problems, one PHI-free line each (empty: fine): the id's characters, the role's
/// group or facilities, the scopes (each must parse), exactly one of a JWK Set with a usable RS384
/// or ES384 key and a JWKS URL (https, or http to loopback when `allow_insecure_loopback`),
/// certificate names without control characters.
std::vector<std::string> validate(const registered_client& c, bool allow_insecure_loopback = false);

/// True for an https URL with a host (http when `allow_insecure_loopback` and the host is
/// localhost, 127.x.x.x or [::1]). No user info, no fragment.
bool acceptable_jwks_url(std::string_view url, bool allow_insecure_loopback);

std::optional<role> parse_role(std::string_view name);

class client_registry {
 public:
  /// Opens DATA_DIR/clients.db (`file`), creating it and its schema when new. Throws
  /// std::runtime_error (one line) when it cannot be opened or its schema is newer than ours.
  explicit client_registry(const std::filesystem::path& file,
                           std::chrono::milliseconds recheck = std::chrono::seconds(1));
  ~client_registry();
  client_registry(const client_registry&) = delete;
  client_registry& operator=(const client_registry&) = delete;

  /// The client as the snapshot has it (re-read first when due and the file changed); null when
  /// unknown. Disabled clients are returned too (callers check `enabled`).
  std::shared_ptr<const registered_client> find(std::string_view client_id) const;
  /// Every client, ordered by id, read now.
  std::vector<registered_client> list() const;

  /// Inserts or replaces a client (keeping `created` of one that exists), bumping its revision.
  /// Does not validate: callers run validate() first. Throws std::runtime_error on failure.
  void put(const registered_client& c, std::chrono::system_clock::time_point now);
  /// Enables or disables a client; false when there is none.
  bool set_enabled(std::string_view client_id, bool enabled,
                   std::chrono::system_clock::time_point now);
  /// Removes a client; false when there was none.
  bool remove(std::string_view client_id);

 private:
  using snapshot = std::unordered_map<std::string, std::shared_ptr<const registered_client>>;
  void reload_locked() const;  // db_mu_ held
  void maybe_reload() const;

  sqlite3* db_ = nullptr;
  std::chrono::milliseconds recheck_;
  mutable std::mutex db_mu_;
  mutable std::int64_t data_version_ = -1;
  mutable std::chrono::steady_clock::time_point checked_{};
  mutable std::mutex snap_mu_;
  mutable std::shared_ptr<const snapshot> snap_;
};

}  // namespace carebridge::gateway::auth
