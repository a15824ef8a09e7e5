#include "adapters/fhir_rest/access.hpp"

#include "mappings/fhir/fhir_ingest.hpp"

#include <array>

namespace carebridge::adapters::fhir_rest {

namespace auth = gateway::auth;
using auth::action;

namespace {

constexpr std::string_view fhir_json = "application/fhir+json; charset=utf-8";

constexpr access_rule open_route(std::string_view m, std::string_view p) {
  return {m, p, true, false, false, false, {}, action::read};
}
constexpr access_rule group_only(std::string_view m, std::string_view p, std::string_view t,
                                 action a) {
  return {m, p, false, true, false, false, t, a};
}
constexpr access_rule sender_only(std::string_view m, std::string_view p, std::string_view t,
                                  action a) {
  return {m, p, false, false, true, false, t, a};
}

// Every FHIR route, who may call it and the scope it needs. Transactions and Da Vinci messages
// are Bundles a sender creates (system/Bundle.c, or system/*.c); reads of stored resources need
// read on their type; a group's subscriptions and follow-up work are the group's alone; the audit
// trail is the operators'.
constexpr std::array rules{
    open_route("GET", "/fhir/metadata"),
    open_route("GET", "/fhir/.well-known/smart-configuration"),
    sender_only("POST", "/fhir", "Bundle", action::create),
    sender_only("POST", "/fhir/$process-message", "Bundle", action::create),
    sender_only("POST", "/fhir/Encounter", "Encounter", action::create),
    sender_only("PUT", "/fhir/Encounter/{id}", "Encounter", action::update),
    access_rule{"GET", "/fhir/{type}/{id}", false, true, false, true, "{type}", action::read},
    group_only("POST", "/fhir/Subscription", "Subscription", action::create),
    group_only("GET", "/fhir/Subscription", "Subscription", action::search),
    group_only("GET", "/fhir/Subscription/$status", "Subscription", action::read),
    group_only("GET", "/fhir/Subscription/{id}", "Subscription", action::read),
    group_only("PUT", "/fhir/Subscription/{id}", "Subscription", action::update),
    group_only("DELETE", "/fhir/Subscription/{id}", "Subscription", action::remove),
    group_only("GET", "/fhir/Subscription/{id}/$status", "Subscription", action::read),
    group_only("GET", "/fhir/Subscription/{id}/$events", "Subscription", action::read),
    access_rule{"GET", "/fhir/Basic/{id}", false, true, true, true, "Basic", action::read},
    group_only("PUT", "/fhir/Task/{id}", "Task", action::update),
    group_only("PATCH", "/fhir/Task/{id}", "Task", action::update),
    group_only("GET", "/fhir/Task", "Task", action::search),
    group_only("GET", "/fhir/RiskAssessment", "RiskAssessment", action::search),
    access_rule{"GET", "/fhir/AuditEvent", false, false, false, true, "AuditEvent", action::search},
    access_rule{"GET", "/fhir/AuditEvent/{id}", false, false, false, true, "AuditEvent",
                action::read},
};

http_response refusal(unsigned status, std::string_view code, std::string text,
                      std::string www_authenticate) {
  mappings::fhir::fhir_input_error e{status, std::string(code), std::move(text), {}};
  http_response out{status, std::string(fhir_json), mappings::fhir::operation_outcome(e), {}};
  if (!www_authenticate.empty()) out.headers.emplace_back("WWW-Authenticate", std::move(www_authenticate));
  return out;
}

bool allows(const access_rule& rule, auth::role r) {
  switch (r) {
    case auth::role::group: return rule.group;
    case auth::role::sender: return rule.sender;
    case auth::role::ops: return rule.ops;
  }
  return false;
}

// The token of "Authorization: Bearer <token>" (scheme in any case), "" when there is none.
std::string_view bearer_token(std::string_view authorization) {
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() <= scheme.size()) return {};
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    const char c = authorization[i];
    const char l = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    if (l != scheme[i]) return {};
  }
  std::string_view t = authorization.substr(scheme.size());
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return t;
}

}  // namespace

const access_rule* access_rule_of(std::string_view method, std::string_view pattern) {
  for (const access_rule& r : rules)
    if (r.method == method && r.pattern == pattern) return &r;
  return nullptr;
}

guard make_fhir_guard(access_options options) {
  return [o = std::move(options)](http_request& r, std::string_view method,
                                  std::string_view pattern) -> std::optional<http_response> {
    auto refuse = [&o](std::string_view reason, http_response resp) {
      if (o.refused) o.refused(reason);
      return resp;
    };
    const access_rule* rule = access_rule_of(method, pattern);
    if (rule == nullptr)
      return refuse("no_rule", refusal(403, "forbidden", "this interaction is not allowed", {}));
    if (rule->is_public) return std::nullopt;

    std::shared_ptr<const auth::principal> who;
    if (o.mode == auth_mode::smart) {
      const std::string_view authorization = r.header("authorization");
      const std::string_view token = bearer_token(authorization);
      if (token.empty())
        return refuse("no_token",
                      refusal(401, "login",
                              "an access token is needed (SMART Backend Services: POST /auth/token)",
                              "Bearer realm=\"carebridge\""));
      if (o.resolve_token) who = o.resolve_token(token, r.connection);
      if (!who)
        return refuse("invalid_token",
                      refusal(401, "expired", "the access token is unknown or has expired",
                              "Bearer realm=\"carebridge\", error=\"invalid_token\""));
    } else {
      if (o.identify) who = o.identify(r.connection);
      if (!who)
        return refuse("unknown_client",
                      refusal(401, "login",
                              "this client is not registered (client certificate or address)", {}));
    }
    // Authenticated: who it is stays on the request (the audit trail names the client of a
    // refused request too), whatever the checks below decide.
    r.principal = who;
    if (!allows(*rule, who->kind))
      return refuse("role", refusal(403, "forbidden",
                                    "a " + std::string(auth::role_name(who->kind)) +
                                        " client may not use this interaction",
                                    {}));
    const std::string type =
        rule->type == "{type}"
            ? (r.params.count("type") != 0 ? r.params.at("type") : std::string())
            : std::string(rule->type);
    if (!who->scopes.permits(type, rule->act))
      return refuse("scope",
                    refusal(403, "forbidden",
                            "the access token's scopes do not allow " +
                                std::string(auth::action_name(rule->act)) + " of " + type,
                            "Bearer realm=\"carebridge\", error=\"insufficient_scope\""));
    return std::nullopt;
  };
}

std::optional<std::string> group_of_request(const http_request& r) {
  if (!r.principal || r.principal->kind != auth::role::group) return std::nullopt;
  return r.principal->group;
}

}  // namespace carebridge::adapters::fhir_rest
