// SMART Backend Services over HTTP (SMART App Launch 2.2.0):
//
//   POST /auth/token                            the token endpoint: client_credentials with a
//                                               private_key_jwt client assertion (token_service)
//   GET  /.well-known/smart-configuration       discovery
//   GET  /fhir/.well-known/smart-configuration  the same, under the FHIR base (public: the /fhir
//                                               guard lets it through)
//
// The token endpoint answers application/json with Cache-Control: no-store and Pragma: no-cache:
// {access_token, token_type: "bearer", expires_in, scope}, or an RFC 6749 §5.2 error
// {error, error_description} — 400, or 401 with `WWW-Authenticate: Bearer` for invalid_client.
// It logs each outcome with the client id and the rule that failed, never the assertion, the
// token or the form body.
//
// JWK Sets registered by URL are fetched here when the token service asks (jwks_needed): a GET
// over HTTPS with the notification sender's client (adapters/notify/rest_hook_client: TLS
// baseline, server-name check, pool, one deadline), `jwks_fetch` options (CA file, timeout, a 64
// KiB body limit); redirects are not followed (a 3xx is a failed fetch). The request waits for the
// fetch (an asynchronous route).
//
// Lifecycle: register_smart_api() adds the routes before the server starts and returns the
// handle that owns the fetch client; keep it alive while the server runs and call shutdown() when
// stopping (in-flight fetches then fail, and their requests answer invalid_client). The
// token_service must outlive the server.
#pragma once

#include "adapters/fhir_rest/http_server.hpp"
#include "adapters/notify/rest_hook_client.hpp"
#include "gateway/auth/token_service.hpp"

#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <vector>

namespace carebridge::adapters::fhir_rest {

struct smart_api_options {
  /// The token endpoint's absolute URL ("https://gw.example.org/auth/token"): advertised in the
  /// smart-configuration and the `aud` a client assertion must carry. Empty: made from the
  /// request's scheme and Host header — fine for the demo, but a deployment sets it, since a Host
  /// header is the caller's to choose.
  std::string token_endpoint;
  /// Further accepted `aud` values (an old host name during a move).
  std::vector<std::string> extra_audiences;
  /// `issuer` in the smart-configuration; empty: left out.
  std::string issuer;
  /// scopes_supported in the smart-configuration.
  std::vector<std::string> scopes_supported = {"system/*.rs", "system/*.read",
                                               "system/Subscription.crud", "system/Task.rus"};
  /// The JWKS fetch: ca_file (empty: the system store), attempt_timeout, max_response_body,
  /// allow_insecure_loopback (tests and the demo only).
  notify::client_options jwks_fetch = [] {
    notify::client_options o;
    o.attempt_timeout = std::chrono::seconds(10);
    o.max_response_body = 64 * 1024;
    o.max_connections_per_host = 2;
    o.max_idle_per_host = 1;
    o.user_agent = "CareBridge-jwks/0.1";
    return o;
  }();
};

class smart_api {
 public:
  virtual ~smart_api() = default;
  /// Closes the fetch client; fetches in flight fail. Any thread.
  virtual void shutdown() = 0;
};

/// Adds the routes to `server` (before it starts). Throws std::runtime_error (one line) when the
/// fetch client's CA file cannot be loaded.
std::shared_ptr<smart_api> register_smart_api(http_server& server, boost::asio::io_context& ioc,
                                              gateway::auth::token_service& tokens,
                                              smart_api_options options);

/// The smart-configuration document for a token endpoint URL (tests, the CLI).
std::string smart_configuration_json(const smart_api_options& options,
                                     const std::string& token_endpoint);

}  // namespace carebridge::adapters::fhir_rest
