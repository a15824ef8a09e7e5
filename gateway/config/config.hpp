// The gateway's configuration: built-in defaults, overridden by a JSON file (--config), overridden
// by command-line flags. The file is checked strictly: an unknown key or a bad value stops the
// start with one line that names the key (config_error). deploy/carebridge.example.json documents
// every key.
#pragma once

#include "gateway/risk/comorbidity.hpp"
#include "gateway/ingest/sender_policy.hpp"
#include "mappings/fhir/v2_to_fhir.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace carebridge::gateway::config {

class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct tls_config {
  std::string certificate;
  std::string private_key;
  std::string client_ca;
  bool require_client_certificate = true;
};

struct host_port {
  std::string host;
  std::uint16_t port = 0;
};

/// Parses "HOST:PORT", "[::1]:PORT"; throws config_error naming `what`.
host_port parse_host_port(const std::string& text, const std::string& what);

struct mllp_config {
  host_port listen{"127.0.0.1", 2575};
  std::size_t max_frame_bytes = 16u << 20;
  std::size_t max_connections = 20'000;
  std::size_t max_connections_per_peer = 2'000;
  double idle_timeout_seconds = 3600;
  double frame_timeout_seconds = 30;
  double ack_write_timeout_seconds = 10;
  double handshake_timeout_seconds = 10;
  bool tcp_keepalive = true;
  bool release2_commit_bytes = false;
  std::string fallback_charset;  // e.g. "windows-1252"; empty: none
  std::optional<tls_config> tls;
};

struct http_config {
  host_port listen{"127.0.0.1", 8080};
  std::optional<tls_config> tls;
};

struct store_config {
  std::size_t max_batch = 1024;
  bool fsync = true;
  bool spin_during_sync = false;  // see store::sqlite_store::options
};

// --- FHIR REST API (adapters/fhir_rest/fhir_api.hpp), config key "fhir" ---------------------------
struct fhir_config {
  /// Facility (the MSH-4.1 equivalent: selects the `facilities` profile and scopes resource ids) of
  /// requests whose sender rules name none or several facilities, or when no senders are configured.
  std::string default_facility = "FHIR";
  std::size_t max_body_bytes = 4u << 20;  // larger bodies get 413 (the HTTP listener's body limit)
  std::size_t max_entries = 1000;         // Bundle entries at the most (422 above)
  std::string base_url;                   // absolute base for Location headers; empty: from Host
  double processing_wait_seconds = 5;     // an accepted request's answer waits this long at most
                                          // for its resources to be stored (0: not at all)
  /// Subscriptions may name a plain-http endpoint on the loopback (127.0.0.1, [::1], localhost):
  /// for the demo and tests only; anything else must be https.
  bool allow_insecure_loopback_endpoints = false;
};

// --- Notifications to the groups' endpoints (adapters/notify), config key "notify" ------------
struct notify_config {
  std::string ca_file;           // PEM bundle endpoints are verified against; empty: system store
  std::string certificate;       // client certificate for endpoints that want mutual TLS
  std::string private_key;
  double attempt_timeout_seconds = 30;  // one delivery attempt (connect, TLS, write, answer)
  unsigned failure_threshold = 15;      // failed attempts in a row before a subscription errors
  /// Retries wait a random time (full jitter) up to initial * 2^(retry-1), at most max; never
  /// less than a server's Retry-After (adapters/notify/backoff.hpp).
  unsigned backoff_initial_ms = 1000;
  unsigned backoff_max_ms = 300'000;
};

/// A physician group's client of the FHIR API (its Subscriptions, the alerts' resources) in auth
/// mode "certificate", known by its TLS client certificate name and/or peer address — every
/// condition it has must hold, and it needs at least one. (In mode "smart", groups' clients are
/// registered with `carebridge clients register`.) Config key "group_clients".
struct group_client {
  std::string name;   // for logs and metrics
  std::string group;  // roster_groups.id
  std::vector<std::string> certificate_names;  // CN, SAN DNS or full subject
  std::vector<std::string> addresses;          // IPs or CIDRs
};
// --- end FHIR -------------------------------------------------------------------------------------

// --- Who may call the FHIR API (gateway/auth, adapters/fhir_rest/access.hpp), config key "auth" --
struct auth_config {
  /// "smart": every FHIR interaction but the CapabilityStatement and SMART discovery needs a SMART
  /// Backend Services access token (clients registered with `carebridge clients register`);
  /// "certificate": callers are known by their client certificate or address alone (group_clients
  /// for groups, senders for hospitals), with every scope.
  std::string mode = "smart";
  double token_lifetime_seconds = 300;  // access tokens' lifetime (30 to 3600)
  /// The token endpoint's absolute URL, which client assertions must name as `aud`; empty: the
  /// origin of fhir.base_url + "/auth/token", else from the request's Host header.
  std::string token_url;
  std::string jwks_ca_file;  // PEM bundle JWKS URLs are verified against; empty: system store
  bool allow_insecure_loopback_jwks = false;  // http:// JWKS URLs on the loopback (demo, tests)
};

// --- The care stage (gateway/care), config key "care" ---------------------------------------------
struct care_config {
  /// Charlson weights for LACE's C: "lace" (the LACE worksheet), "charlson-1987", "quan-2011".
  risk::weight_set lace_weights = risk::weight_set::lace;
};

// --- The audit trail (gateway/audit), config key "audit" -----------------------------------------
struct audit_config {
  /// Records older than this are deleted from DATA_DIR/audit.db (about hourly, by `serve`); the
  /// default keeps six years (HIPAA's documentation retention, 45 CFR 164.316(b)(2)).
  unsigned retention_days = 2190;
};

struct config {
  std::filesystem::path data_dir = "carebridge-data";
  mllp_config mllp;
  http_config http;
  store_config store;
  std::vector<ingest::sender_rule> senders;
  std::vector<group_client> group_clients;
  notify_config notify;
  /// How each sending facility's messages are mapped to FHIR (its time zone, identifier systems,
  /// local codes), by MSH-4.1. A facility not listed maps with no zone and no overrides.
  std::map<std::string, mappings::fhir::sender_profile, std::less<>> facilities;
  fhir_config fhir;  // FHIR REST API
  auth_config auth;
  care_config care;
  audit_config audit;
  std::string log_level = "info";
  double shutdown_grace_seconds = 10;
  unsigned threads = 0;  // network I/O threads; 0: one per CPU this process may run on
};

/// Reads and checks a JSON config file over the defaults.
config load_file(const std::filesystem::path& file);
/// The same from text (tests); `name` is used in error lines.
config load_text(const std::string& json, const std::string& name);

}  // namespace carebridge::gateway::config
