// Who may call which FHIR route: the guard of /fhir (http_server::set_guard).
//
// Every route under /fhir has one rule in access.cpp's table — public (the CapabilityStatement and
// SMART discovery), or the roles that may call it and the SMART scope it needs (resource type and
// action). The guard, before the route runs:
//   1. authenticates: `Authorization: Bearer <token>` resolved by the token service (mode `smart`),
//      or the client certificate / address rules of the config (mode `certificate`) → the
//      request's principal; none → 401 with `WWW-Authenticate: Bearer` (error="invalid_token"
//      when a token was sent but is unknown or expired);
//   2. checks the role: a route the principal's kind of client never calls → 403;
//   3. checks the scope: the token must grant the action on the type → 403 with
//      `WWW-Authenticate: Bearer error="insufficient_scope"`.
// A route without a rule is refused (403): a new route cannot be reachable by accident; the
// authorization matrix test walks http_server::routes() and fails on any such route.
// What a group may see within a route it may call (its own subscriptions, the resources its own
// alerts name; another group's answer 404, as if they did not exist) is the route's own check
// (subscription_api.hpp, group_read_policy).
#pragma once

#include "adapters/fhir_rest/http_server.hpp"
#include "gateway/auth/principal.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace carebridge::adapters::fhir_rest {

enum class auth_mode : std::uint8_t {
  smart,        // bearer tokens (SMART Backend Services) on every call but the public ones
  certificate,  // callers identified by client certificate or address rules alone
};

/// The rule of one route.
struct access_rule {
  std::string_view method;
  std::string_view pattern;
  bool is_public = false;
  // Roles that may call the route.
  bool group = false;
  bool sender = false;
  bool ops = false;
  std::string_view type;  // the resource type of the scope; "{type}": the route's {type} segment
  gateway::auth::action act = gateway::auth::action::read;
};

/// The rule for a route as registered, or nullptr.
const access_rule* access_rule_of(std::string_view method, std::string_view pattern);

struct access_options {
  auth_mode mode = auth_mode::smart;
  /// Mode smart: the principal of a bearer token on this connection, or null (unknown, expired).
  std::function<std::shared_ptr<const gateway::auth::principal>(
      std::string_view token, const gateway::ingest::connection_info&)>
      resolve_token;
  /// Mode certificate: the principal a connection's certificate or address makes it, or null.
  std::function<std::shared_ptr<const gateway::auth::principal>(
      const gateway::ingest::connection_info&)>
      identify;
  /// Counts refusals (401/403) by reason; may be empty.
  std::function<void(std::string_view reason)> refused;
};

guard make_fhir_guard(access_options options);

/// The physician group the request's principal acts for, or nullopt.
std::optional<std::string> group_of_request(const http_request& r);

}  // namespace carebridge::adapters::fhir_rest
