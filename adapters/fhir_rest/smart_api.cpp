#include "adapters/fhir_rest/smart_api.hpp"

#include "gateway/obs/log.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/asio/bind_executor.hpp>

#include <exception>
#include <utility>

namespace carebridge::adapters::fhir_rest {

namespace auth = gateway::auth;
namespace obs = gateway::obs;
using clock = std::chrono::system_clock;

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void put_list(writer& w, const char* key, const std::vector<std::string>& values) {
  w.Key(key);
  w.StartArray();
  for (const auto& v : values) w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  w.EndArray();
}

header_list no_store() {
  return {{"Cache-Control", "no-store"}, {"Pragma", "no-cache"}};
}

http_response refused(const auth::token_refused& r) {
  rapidjson::StringBuffer buf;
  writer w(buf);
  w.StartObject();
  put(w, "error", auth::oauth_error_name(r.error));
  put(w, "error_description", r.description);
  w.EndObject();
  header_list h = no_store();
  const unsigned status = auth::oauth_error_status(r.error);
  // RFC 6749 §5.2: a 401 names the scheme the client may authenticate with.
  if (status == 401) h.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_client\"");
  return {status, "application/json", std::string(buf.GetString(), buf.GetSize()), std::move(h)};
}

http_response issued(const auth::token_issued& t) {
  rapidjson::StringBuffer buf;
  writer w(buf);
  w.StartObject();
  put(w, "access_token", t.access_token);
  put(w, "token_type", "bearer");
  w.Key("expires_in");
  w.Int64(t.expires_in);
  put(w, "scope", t.scope);
  w.EndObject();
  return {200, "application/json", std::string(buf.GetString(), buf.GetSize()), no_store()};
}

bool is_form(std::string_view content_type) {
  constexpr std::string_view want = "application/x-www-form-urlencoded";
  if (content_type.size() < want.size()) return false;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const char c = content_type[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != want[i]) return false;
  }
  return content_type.size() == want.size() || content_type[want.size()] == ';' ||
         content_type[want.size()] == ' ';
}

// What the caller's request says the token endpoint is: scheme from the connection, host from
// the Host header (refused when it could smuggle a path).
std::string endpoint_from_host(const http_request& r) {
  const std::string_view host = r.header("host");
  if (host.empty() || host.size() > 255 ||
      host.find_first_of(" /\\?#@\r\n\t") != std::string_view::npos)
    return {};
  return std::string(r.connection.tls ? "https://" : "http://") + std::string(host) + "/auth/token";
}

// One token request, possibly waiting for a JWKS fetch.
struct pending {
  std::string form;
  gateway::ingest::connection_info conn;
  std::vector<std::string> audiences;
  reply_handler reply;
  bool fetched = false;
};

struct api final : smart_api, std::enable_shared_from_this<api> {
  api(boost::asio::io_context& ioc, auth::token_service& t, smart_api_options o)
      : tokens(t), options(std::move(o)), fetch(ioc, options.jwks_fetch) {}

  void shutdown() override { fetch.shutdown(); }

  auth::token_service& tokens;
  smart_api_options options;
  notify::rest_hook_client fetch;

  std::string token_endpoint(const http_request& r) const {
    return options.token_endpoint.empty() ? endpoint_from_host(r) : options.token_endpoint;
  }

  void finish(pending& p, const auth::exchange_result& result) {
    if (const auto* t = std::get_if<auth::token_issued>(&result)) {
      obs::info("auth.token_issued", {{"client_id", t->client_id},
                                      {"scope", t->scope},
                                      {"expires_in", t->expires_in},
                                      {"peer", p.conn.describe()}});
      p.reply(issued(*t));
      return;
    }
    auth::token_refused r;
    if (const auto* x = std::get_if<auth::token_refused>(&result)) {
      r = *x;
    } else {
      r = auth::token_refused{
          auth::oauth_error::invalid_client, "the client's JWKS URL could not be fetched", {}};
    }
    obs::info("auth.token_refused", {{"error", auth::oauth_error_name(r.error)},
                                     {"reason", r.description},
                                     {"client_id", r.client_id},
                                     {"peer", p.conn.describe()}});
    p.reply(refused(r));
  }

  void run(std::shared_ptr<pending> p) {
    auto result = tokens.exchange(p->form, p->conn, p->audiences, clock::now());
    auto* need = std::get_if<auth::jwks_needed>(&result);
    if (need == nullptr || p->fetched) {
      finish(*p, result);
      return;
    }
    p->fetched = true;
    notify::delivery_request req;
    req.method = "GET";
    req.endpoint = need->url;
    std::string url = need->url;
    fetch.async_post(std::move(req), [self = shared_from_this(), p, url = std::move(url)](
                                         std::exception_ptr ex, notify::delivery_result res) {
      const auto now = clock::now();
      if (!ex && res.status == 200 && res.body_complete) {
        if (const auto ec = self->tokens.jwks_fetched(url, res.body,
                                                      auth::parse_max_age(res.cache_control), now))
          obs::warn("auth.jwks_unusable", {{"reason", ec.message()}});
      } else {
        self->tokens.jwks_fetch_failed(url, now);
        obs::warn("auth.jwks_fetch_failed",
                  {{"status", res.status},
                   {"reason", ex                        ? std::string("internal error")
                              : !res.error_text.empty() ? res.error_text
                              : res.status == 200       ? std::string("body over the limit")
                                                        : std::string("unexpected status")}});
      }
      self->run(p);
    });
  }
};

}  // namespace

std::string smart_configuration_json(const smart_api_options& options,
                                     const std::string& token_endpoint) {
  rapidjson::StringBuffer buf;
  writer w(buf);
  w.StartObject();
  if (!options.issuer.empty()) put(w, "issuer", options.issuer);
  put(w, "token_endpoint", token_endpoint);
  put_list(w, "token_endpoint_auth_methods_supported", {"private_key_jwt"});
  put_list(w, "token_endpoint_auth_signing_alg_values_supported", {"RS384", "ES384"});
  put_list(w, "grant_types_supported", {"client_credentials"});
  put_list(w, "scopes_supported", options.scopes_supported);
  put_list(w, "response_types_supported", {"token"});
  put_list(w, "capabilities", {"client-confidential-asymmetric", "permission-v2", "permission-v1"});
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::shared_ptr<smart_api> register_smart_api(http_server& server, boost::asio::io_context& ioc,
                                              auth::token_service& tokens,
                                              smart_api_options options) {
  auto self = std::make_shared<api>(ioc, tokens, std::move(options));
  std::weak_ptr<api> weak = self;

  const auto configuration = [weak](const http_request& r) -> http_response {
    auto s = weak.lock();
    if (!s) return {503, "text/plain; charset=utf-8", "shutting down"};
    const std::string endpoint = s->token_endpoint(r);
    if (endpoint.empty())
      return {400, "text/plain; charset=utf-8", "Host header missing or invalid"};
    return {200,
            "application/json",
            smart_configuration_json(s->options, endpoint),
            {{"Cache-Control", "max-age=3600"}}};
  };
  server.add("GET", "/.well-known/smart-configuration", configuration);
  server.add("GET", "/fhir/.well-known/smart-configuration", configuration);

  server.add_async("POST", "/auth/token", [weak](const http_request& r, reply_handler reply) {
    auto s = weak.lock();
    if (!s) {
      reply({503, "text/plain; charset=utf-8", "shutting down"});
      return;
    }
    auto p = std::make_shared<pending>();
    p->conn = r.connection;
    p->reply = std::move(reply);
    if (!is_form(r.header("content-type"))) {
      s->finish(*p, auth::token_refused{auth::oauth_error::invalid_request,
                                        "Content-Type must be application/x-www-form-urlencoded",
                                        {}});
      return;
    }
    const std::string endpoint = s->token_endpoint(r);
    if (!endpoint.empty()) p->audiences.push_back(endpoint);
    for (const auto& a : s->options.extra_audiences) p->audiences.push_back(a);
    p->form = r.body;
    s->run(std::move(p));
  });
  return self;
}

}  // namespace carebridge::adapters::fhir_rest
