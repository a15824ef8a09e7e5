#include "gateway/auth/token_service.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <mutex>

namespace carebridge::gateway::auth {

namespace {

using clock = std::chrono::system_clock;
using namespace std::chrono_literals;

constexpr std::string_view assertion_type =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
constexpr std::size_t max_jti = 256;
constexpr std::size_t max_form_bytes = 32 * 1024;

std::int64_t secs(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> form_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

token_refused refuse(oauth_error e, std::string description, std::string client_id = {}) {
  return token_refused{e, std::move(description), std::move(client_id)};
}

bool default_random(std::span<unsigned char> out) {
  return RAND_bytes(out.data(), static_cast<int>(out.size())) == 1;
}

std::array<unsigned char, 32> sha256(std::string_view s) {
  std::array<unsigned char, 32> out{};
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), out.data(), &n, EVP_sha256(), nullptr);
  return out;
}

bool bound_ok(const registered_client& c, const ingest::connection_info& conn) {
  if (c.certificate_names.empty()) return true;
  if (!conn.tls) return false;
  for (const auto& want : c.certificate_names) {
    if (want == conn.certificate_subject) return true;
    if (std::find(conn.certificate_names.begin(), conn.certificate_names.end(), want) !=
        conn.certificate_names.end())
      return true;
  }
  return false;
}

}  // namespace

std::string_view oauth_error_name(oauth_error e) {
  switch (e) {
    case oauth_error::invalid_request:
      return "invalid_request";
    case oauth_error::invalid_client:
      return "invalid_client";
    case oauth_error::invalid_grant:
      return "invalid_grant";
    case oauth_error::invalid_scope:
      return "invalid_scope";
    case oauth_error::unauthorized_client:
      return "unauthorized_client";
    case oauth_error::unsupported_grant_type:
      return "unsupported_grant_type";
  }
  return "invalid_request";
}

unsigned oauth_error_status(oauth_error e) {
  return e == oauth_error::invalid_client ? 401u : 400u;
}

std::optional<std::chrono::seconds> parse_max_age(std::string_view cc) {
  std::optional<std::chrono::seconds> out;
  while (!cc.empty()) {
    const auto comma = cc.find(',');
    std::string_view d = cc.substr(0, comma);
    cc = comma == std::string_view::npos ? std::string_view() : cc.substr(comma + 1);
    while (!d.empty() && (d.front() == ' ' || d.front() == '\t')) d.remove_prefix(1);
    while (!d.empty() && (d.back() == ' ' || d.back() == '\t')) d.remove_suffix(1);
    std::string lower(d);
    for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (lower == "no-store" || lower == "no-cache") return std::chrono::seconds(0);
    if (lower.starts_with("max-age=")) {
      std::string_view v = std::string_view(lower).substr(8);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      if (v.empty() || v.size() > 10) return std::nullopt;
      std::int64_t n = 0;
      for (char c : v) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
      }
      out = std::chrono::seconds(n);
    }
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!body.empty()) {
    const auto amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto name = form_decode(pair.substr(0, eq));
    auto value =
        form_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!name || !value) return std::nullopt;
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

std::size_t token_service::digest_hash::operator()(const digest& d) const noexcept {
  std::size_t h = 0;
  std::memcpy(&h, d.data(), sizeof h);  // already uniformly random
  return h;
}

token_service::token_service(const client_registry& registry, token_options options)
    : registry_(registry), opts_(std::move(options)) {
  if (!opts_.random) opts_.random = default_random;
}

token_service::~token_service() = default;

std::size_t token_service::active_tokens() const {
  std::shared_lock lock(tokens_mu_);
  return tokens_.size();
}

void token_service::sweep(clock::time_point now) {
  {
    std::unique_lock lock(tokens_mu_);
    std::erase_if(tokens_, [now](const auto& kv) { return kv.second.expires <= now; });
    next_token_sweep_ = now + 30s;
  }
  std::lock_guard lock(cache_mu_);
  sweep_locked(now);
}

void token_service::sweep_locked(clock::time_point now) {
  std::erase_if(replay_, [now](const auto& kv) { return kv.second <= now; });
  next_replay_sweep_ = now + 30s;
}

boost::system::error_code token_service::jwks_fetched(std::string_view url, std::string_view body,
                                                      std::optional<std::chrono::seconds> max_age,
                                                      clock::time_point now) {
  auto parsed = parse_jwks(body, opts_.max_jwks_bytes);
  std::lock_guard lock(cache_mu_);
  const std::string key(url);
  if (!jwks_.contains(key) && jwks_.size() >= opts_.max_jwks_urls) {
    // Forget the stalest URL: a cached JWKS is a cache, re-fetched on demand.
    auto oldest = std::min_element(jwks_.begin(), jwks_.end(), [](const auto& a, const auto& b) {
      return a.second.fresh_until < b.second.fresh_until;
    });
    if (oldest != jwks_.end()) jwks_.erase(oldest);
  }
  jwks_entry& e = jwks_[key];
  e.last_fetch = now;
  if (!parsed) {
    if (!e.keys) e.fresh_until = now + opts_.jwks_refetch_interval;
    return parsed.error();
  }
  const auto age = std::clamp(max_age.value_or(opts_.jwks_default_max_age), opts_.jwks_min_max_age,
                              opts_.jwks_max_max_age);
  e.keys = std::make_shared<const jwk_set>(std::move(*parsed));
  e.fresh_until = now + age;
  return {};
}

void token_service::jwks_fetch_failed(std::string_view url, clock::time_point now) {
  std::lock_guard lock(cache_mu_);
  const std::string key(url);
  if (!jwks_.contains(key) && jwks_.size() >= opts_.max_jwks_urls) return;
  jwks_entry& e = jwks_[key];
  e.last_fetch = now;
  // Keep a stale good set usable until the refetch interval has passed.
  e.fresh_until = std::max(e.fresh_until, now + opts_.jwks_refetch_interval);
}

std::variant<std::shared_ptr<const jwk_set>, token_refused, jwks_needed> token_service::keys_for(
    const registered_client& c, const jws& token, clock::time_point now) {
  std::lock_guard lock(cache_mu_);
  if (!c.jwks.empty()) {
    auto& s = static_[c.client_id];
    if (!s.keys || s.revision != c.revision) {
      auto parsed = parse_jwks(c.jwks, opts_.max_jwks_bytes);
      if (!parsed)
        return refuse(oauth_error::invalid_client, "the client's registered keys are unusable",
                      c.client_id);
      s.keys = std::make_shared<const jwk_set>(std::move(*parsed));
      s.revision = c.revision;
    }
    return s.keys;
  }
  const auto it = jwks_.find(c.jwks_url);
  if (it == jwks_.end() || (!it->second.keys && now >= it->second.fresh_until) ||
      (it->second.keys && now >= it->second.fresh_until &&
       now - it->second.last_fetch >= opts_.jwks_refetch_interval))
    return jwks_needed{c.jwks_url};
  const auto& e = it->second;
  if (!e.keys)
    return refuse(oauth_error::invalid_client, "the client's JWKS URL could not be fetched",
                  c.client_id);
  // A kid we do not know yet: the client may have rotated its keys; fetch again, but not more often
  // than the refetch interval (an attacker's made-up kids must not make us hammer the URL).
  const bool known = std::any_of(e.keys->keys.begin(), e.keys->keys.end(),
                                 [&](const jwk& k) { return k.kid == token.kid; });
  if (!known && now - e.last_fetch >= opts_.jwks_refetch_interval) return jwks_needed{c.jwks_url};
  return e.keys;
}

exchange_result token_service::exchange(std::string_view form_body,
                                        const ingest::connection_info& conn,
                                        std::span<const std::string> audiences,
                                        clock::time_point now) {
  if (form_body.size() > max_form_bytes)
    return refuse(oauth_error::invalid_request, "request body too large");
  const auto form = parse_form(form_body);
  if (!form) return refuse(oauth_error::invalid_request, "malformed form body");
  std::map<std::string, std::string, std::less<>> fields;
  for (const auto& [k, v] : *form) {
    // RFC 6749 §3.2: request parameters MUST NOT be included more than once.
    if (!fields.emplace(k, v).second)
      return refuse(oauth_error::invalid_request, "parameter " + k.substr(0, 40) + " repeated");
  }
  const auto field = [&fields](std::string_view k) -> const std::string* {
    const auto it = fields.find(k);
    return it == fields.end() ? nullptr : &it->second;
  };
  const std::string* grant_type = field("grant_type");
  if (grant_type == nullptr) return refuse(oauth_error::invalid_request, "grant_type missing");
  if (*grant_type != "client_credentials")
    return refuse(oauth_error::unsupported_grant_type, "only client_credentials is supported");
  const std::string* type = field("client_assertion_type");
  const std::string* assertion = field("client_assertion");
  if (type == nullptr || assertion == nullptr)
    return refuse(oauth_error::invalid_request,
                  "client_assertion_type and client_assertion required");
  if (*type != assertion_type)
    return refuse(oauth_error::invalid_client,
                  "client_assertion_type must be " + std::string(assertion_type));
  const std::string* scope_text = field("scope");
  if (scope_text == nullptr || scope_text->find_first_not_of(' ') == std::string::npos)
    return refuse(oauth_error::invalid_request, "scope missing");

  const auto token = parse_jws(*assertion);
  if (!token)
    return refuse(oauth_error::invalid_client, "client assertion: " + token.error().message());
  if (token->typ && *token->typ != "JWT")
    return refuse(oauth_error::invalid_client, "client assertion: typ must be JWT");
  const jwt_claims& cl = token->claims;
  if (cl.iss.empty() || cl.iss != cl.sub)
    return refuse(oauth_error::invalid_client,
                  "client assertion: iss and sub must both be the client_id");
  if (const std::string* id = field("client_id"); id != nullptr && *id != cl.iss)
    return refuse(oauth_error::invalid_client, "client_id does not match the assertion");
  const auto client = registry_.find(cl.iss);
  if (!client || !client->enabled)
    return refuse(oauth_error::invalid_client, "unknown or disabled client", cl.iss.substr(0, 128));
  const std::string& id = client->client_id;
  if (!bound_ok(*client, conn))
    return refuse(oauth_error::invalid_client,
                  "the connection does not present the client's certificate", id);
  if (token->kid.empty())
    return refuse(oauth_error::invalid_client, "client assertion: kid missing", id);
  if (token->jku && (client->jwks_url.empty() || *token->jku != client->jwks_url))
    return refuse(oauth_error::invalid_client,
                  "client assertion: jku is not the registered JWKS URL", id);
  const bool aud_ok = std::any_of(cl.aud.begin(), cl.aud.end(), [&](const std::string& a) {
    return std::find(audiences.begin(), audiences.end(), a) != audiences.end();
  });
  if (!aud_ok)
    return refuse(oauth_error::invalid_client, "client assertion: aud is not this token endpoint",
                  id);
  const std::int64_t t = secs(now);
  const std::int64_t skew = opts_.clock_skew.count();
  if (!cl.exp) return refuse(oauth_error::invalid_client, "client assertion: exp missing", id);
  if (*cl.exp + skew <= t)
    return refuse(oauth_error::invalid_client, "client assertion expired", id);
  if (*cl.exp > t + opts_.max_assertion_lifetime.count() + skew)
    return refuse(oauth_error::invalid_client, "client assertion: exp more than 5 minutes ahead",
                  id);
  if (cl.nbf && *cl.nbf > t + skew)
    return refuse(oauth_error::invalid_client, "client assertion not yet valid (nbf)", id);
  if (cl.iat && (*cl.iat > t + skew || *cl.iat > *cl.exp))
    return refuse(oauth_error::invalid_client, "client assertion: iat in the future", id);
  if (cl.jti.empty() || cl.jti.size() > max_jti)
    return refuse(oauth_error::invalid_client, "client assertion: jti missing or too long", id);

  auto keys = keys_for(*client, *token, now);
  if (auto* need = std::get_if<jwks_needed>(&keys)) return std::move(*need);
  if (auto* r = std::get_if<token_refused>(&keys)) return std::move(*r);
  const auto& set = std::get<std::shared_ptr<const jwk_set>>(keys);
  const auto key = select_key(*set, *token);
  if (!key)
    return refuse(oauth_error::invalid_client, "client assertion: " + key.error().message(), id);
  if (const auto ec = verify(*token, **key))
    return refuse(oauth_error::invalid_client, "client assertion: " + ec.message(), id);

  // Replay: only once the signature is good, so that forged assertions cannot fill the cache. An
  // entry lives until the assertion itself could no longer be accepted.
  {
    std::lock_guard lock(cache_mu_);
    if (now >= next_replay_sweep_) sweep_locked(now);
    auto k = std::make_pair(id, cl.jti);
    if (const auto it = replay_.find(k); it != replay_.end() && it->second > now)
      return refuse(oauth_error::invalid_client, "client assertion: jti already used", id);
    if (replay_.size() >= opts_.max_replay_entries) {
      sweep_locked(now);
      if (replay_.size() >= opts_.max_replay_entries)
        return refuse(oauth_error::invalid_request, "too many token requests; try again later", id);
    }
    replay_[std::move(k)] = clock::time_point(std::chrono::seconds(*cl.exp + skew)) + 1s;
  }

  std::vector<std::string> unknown;
  const scope_set requested = parse_scopes(*scope_text, &unknown);
  const scope_set granted = grant(requested, parse_scopes(client->scopes));
  if (granted.empty())
    return refuse(oauth_error::invalid_scope,
                  "none of the requested scopes is allowed for this client", id);

  auto who = std::make_shared<principal>();
  who->client_id = id;
  who->kind = client->kind;
  who->group = client->group;
  who->facilities = client->facilities;
  who->scopes = granted;
  who->by_token = true;

  std::array<unsigned char, 32> raw{};
  if (!opts_.random(raw))
    return refuse(oauth_error::invalid_request, "cannot issue a token now; try again later", id);
  token_issued out;
  out.access_token =
      base64url_encode(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
  out.expires_in = opts_.token_lifetime.count();
  out.scope = granted.text();
  out.client_id = id;
  {
    std::unique_lock lock(tokens_mu_);
    if (now >= next_token_sweep_ || tokens_.size() >= opts_.max_tokens) {
      std::erase_if(tokens_, [now](const auto& kv) { return kv.second.expires <= now; });
      next_token_sweep_ = now + 30s;
    }
    if (tokens_.size() >= opts_.max_tokens)
      return refuse(oauth_error::invalid_request, "too many active tokens; try again later", id);
    tokens_[sha256(out.access_token)] =
        token_entry{std::move(who), client->revision, now + opts_.token_lifetime};
  }
  return out;
}

std::shared_ptr<const principal> token_service::resolve(std::string_view bearer_token,
                                                        const ingest::connection_info& conn,
                                                        clock::time_point now) const {
  if (bearer_token.empty() || bearer_token.size() > 512) return nullptr;
  token_entry entry;
  {
    std::shared_lock lock(tokens_mu_);
    const auto it = tokens_.find(sha256(bearer_token));
    if (it == tokens_.end()) return nullptr;
    entry = it->second;
  }
  if (entry.expires <= now) return nullptr;
  const auto client = registry_.find(entry.who->client_id);
  if (!client || !client->enabled || client->revision != entry.revision) return nullptr;
  if (!bound_ok(*client, conn)) return nullptr;
  return entry.who;
}

}  // namespace carebridge::gateway::auth
