#include "gateway/alerts/subscription.hpp"

#include "mappings/fhir/datetime_text.hpp"
#include "mappings/fhir/fhir_ingest.hpp"
#include "mappings/fhir/fhir_json.hpp"
#include "mappings/fhir/json_read.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace carebridge::gateway::alerts {

namespace {

using mappings::fhir::json_out;
using rapidjson::Value;

constexpr std::string_view backport_sd =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/";
constexpr std::string_view ext_filter =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria";
constexpr std::string_view ext_heartbeat =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period";
constexpr std::string_view ext_timeout =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-timeout";
constexpr std::string_view ext_max_count =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-max-count";
constexpr std::string_view ext_content =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content";
constexpr std::string_view ext_channel_type =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-channel-type";
constexpr std::string_view rule_system =
    "https://carebridge.example/fhir/CodeSystem/subscription-rule";

constexpr std::string_view fhir_json_mime = "application/fhir+json";
constexpr std::size_t max_json_depth = 32;

// Headers that the sender writes itself (framing, connection management): a subscriber's copy
// would confuse the request or smuggle a second one.
constexpr std::array<std::string_view, 11> sender_headers{
    "Host", "Content-Type", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade",
    "TE",   "Trailer",      "Keep-Alive",     "Proxy-Connection",  "Expect"};

std::string_view sv(const Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

const Value* member(const Value& obj, std::string_view name) {
  const auto it = obj.FindMember(
      Value(rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size()))));
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

bool iequals(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 tchar.
bool token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

class parser {
 public:
  parser(const parse_options& o) : opt_(o) {}

  boost::system::result<subscription_request, subscription_error> run(std::string_view json) {
    rapidjson::Document doc;
    const auto read = mappings::fhir::read_json(doc, json, max_json_depth);
    if (read == mappings::fhir::json_read::not_json) {
      add(subscription_errc::not_json, "Subscription", "the body is not valid JSON (UTF-8)");
      return fail();
    }
    if (read == mappings::fhir::json_read::too_deep) {
      add(subscription_errc::not_json, "Subscription",
          "the JSON nests deeper than " + std::to_string(max_json_depth) + " levels");
      return fail();
    }
    const Value* rt = doc.IsObject() ? member(doc, "resourceType") : nullptr;
    if (rt == nullptr || !rt->IsString() || sv(*rt) != "Subscription") {
      add(subscription_errc::not_subscription, "Subscription",
          "the body is not a Subscription resource (resourceType)");
      return fail();
    }
    no_modifier_extension(doc, "Subscription");
    read_status(doc);
    read_reason(doc);
    read_end(doc);
    read_topic(doc);
    read_filters(doc);
    read_channel(doc);
    if (!issues_.empty()) return fail();
    return std::move(r_);
  }

 private:
  void add(subscription_errc c, std::string expression, std::string diagnostics) {
    issues_.push_back({c, std::move(expression), std::move(diagnostics)});
  }
  subscription_error fail() { return subscription_error{std::move(issues_)}; }

  // A string element: nullptr when absent (and `required` reports it) or not a string.
  const Value* string_member(const Value& obj, std::string_view name, const std::string& expr,
                             bool required) {
    const Value* v = member(obj, name);
    if (v == nullptr || v->IsNull()) {
      if (required) add(subscription_errc::missing, expr, expr + " is required");
      return nullptr;
    }
    if (!v->IsString()) {
      add(subscription_errc::wrong_type, expr, expr + " must be a JSON string");
      return nullptr;
    }
    if (v->GetStringLength() == 0) {
      // FHIR forbids empty strings; a required one is missing, an optional one is wrong.
      add(required ? subscription_errc::missing : subscription_errc::wrong_type, expr,
          expr + " must not be empty");
      return nullptr;
    }
    return v;
  }

  const Value* object_member(const Value& obj, std::string_view name, const std::string& expr,
                             bool required) {
    const Value* v = member(obj, name);
    if (v == nullptr || v->IsNull()) {
      if (required) add(subscription_errc::missing, expr, expr + " is required");
      return nullptr;
    }
    if (!v->IsObject()) {
      add(subscription_errc::wrong_type, expr, expr + " must be a JSON object");
      return nullptr;
    }
    return v;
  }

  struct extension_ref {
    std::size_t index;  // in the JSON array, for the FHIRPath
    std::string_view url;
    const Value* value;
  };
  // The extension array of `obj` (empty when absent); wrong shapes are reported.
  std::vector<extension_ref> extensions(const Value& obj, const std::string& expr) {
    std::vector<extension_ref> out;
    const Value* arr = member(obj, "extension");
    if (arr == nullptr) return out;
    if (!arr->IsArray()) {
      add(subscription_errc::wrong_type, expr + ".extension", "extension must be a JSON array");
      return out;
    }
    for (rapidjson::SizeType i = 0; i < arr->Size(); ++i) {
      const Value& e = (*arr)[i];
      const std::string ex = expr + ".extension[" + std::to_string(i) + "]";
      const Value* url = e.IsObject() ? member(e, "url") : nullptr;
      if (url == nullptr || !url->IsString()) {
        add(subscription_errc::wrong_type, ex, "an extension must be an object with a url");
        continue;
      }
      out.push_back({i, sv(*url), &e});
    }
    return out;
  }

  void no_modifier_extension(const Value& obj, const std::string& expr) {
    if (member(obj, "modifierExtension") != nullptr)
      add(subscription_errc::unsupported_modifier_extension, expr + ".modifierExtension",
          "modifier extensions are not supported on " + expr);
  }

  void read_status(const Value& doc) {
    const Value* v = string_member(doc, "status", "Subscription.status", true);
    if (v == nullptr) return;
    const std::string_view s = sv(*v);
    if (s == "requested")
      r_.status_asked = subscription_status::requested;
    else if (s == "active")
      r_.status_asked = subscription_status::active;
    else if (s == "off")
      r_.status_asked = subscription_status::off;
    else if (s == "error" || s == "entered-in-error")
      add(subscription_errc::bad_status, "Subscription.status",
          "status error and entered-in-error are set by the server; ask for requested, active or "
          "off");
    else
      add(subscription_errc::bad_status, "Subscription.status",
          "status must be requested, active or off");
  }

  void read_reason(const Value& doc) {
    const Value* v = string_member(doc, "reason", "Subscription.reason", true);
    if (v == nullptr) return;
    if (v->GetStringLength() > opt_.max_reason_bytes) {
      add(subscription_errc::bad_reason, "Subscription.reason",
          "reason is longer than " + std::to_string(opt_.max_reason_bytes) + " bytes");
      return;
    }
    r_.reason = std::string(sv(*v));
  }

  void read_end(const Value& doc) {
    const Value* v = string_member(doc, "end", "Subscription.end", false);
    if (v == nullptr) return;
    const auto t = instant_seconds(sv(*v));
    if (!t) {
      add(subscription_errc::bad_end, "Subscription.end",
          "end must be an instant: YYYY-MM-DDThh:mm:ss[.f] with Z or an offset");
      return;
    }
    if (opt_.now && *t <= *opt_.now) {
      add(subscription_errc::bad_end, "Subscription.end", "end is not in the future");
      return;
    }
    r_.end = std::string(sv(*v));
  }

  void read_topic(const Value& doc) {
    const Value* v = string_member(doc, "criteria", "Subscription.criteria", true);
    if (v == nullptr) return;
    topic_ = find_topic(sv(*v));
    if (topic_ == nullptr) {
      std::string known;
      for (const topic& t : topics()) known += (known.empty() ? "" : ", ") + std::string(t.url);
      add(subscription_errc::unknown_topic, "Subscription.criteria",
          "criteria must be the canonical URL of a topic this server offers: " + known);
      return;
    }
    r_.topic = topic_->id;
  }

  void read_filters(const Value& doc) {
    const Value* ext = object_member(doc, "_criteria", "Subscription.criteria", false);
    if (ext == nullptr) return;
    no_modifier_extension(*ext, "Subscription.criteria");
    std::size_t count = 0;
    for (const auto& [i, url, e] : extensions(*ext, "Subscription.criteria")) {
      if (url != ext_filter) continue;
      const std::string expr = "Subscription.criteria.extension[" + std::to_string(i) + "]";
      if (++count > opt_.max_filters) {
        if (count == opt_.max_filters + 1)
          add(subscription_errc::too_many_filters, expr,
              "at most " + std::to_string(opt_.max_filters) + " filters are allowed");
        continue;
      }
      const Value* s = string_member(*e, "valueString", expr + ".valueString", true);
      if (s != nullptr) read_filter(sv(*s), expr);
    }
  }

  void read_filter(std::string_view text, const std::string& expr) {
    const std::string fx = expr + ".valueString";
    if (text.find('&') != std::string_view::npos) {
      add(subscription_errc::bad_filter_syntax, fx,
          "one filter per extension: param=value, Type.param=value or Type?param=value (no '&')");
      return;
    }
    const auto eq = text.find('=');
    if (eq == std::string_view::npos) {
      add(subscription_errc::bad_filter_syntax, fx,
          "a filter must be param=value, Type.param=value or Type?param=value");
      return;
    }
    std::string_view lhs = text.substr(0, eq);
    const std::string_view value = text.substr(eq + 1);
    std::string_view type;
    if (const auto q = lhs.find('?'); q != std::string_view::npos) {
      type = lhs.substr(0, q);
      lhs = lhs.substr(q + 1);
    } else if (const auto dot = lhs.find('.'); dot != std::string_view::npos) {
      type = lhs.substr(0, dot);
      lhs = lhs.substr(dot + 1);
    }
    if (lhs.find(':') != std::string_view::npos) {
      add(subscription_errc::unsupported_filter_modifier, fx,
          "filter modifiers (param:modifier) are not supported");
      return;
    }
    if (lhs.empty() || value.empty() || (type.empty() && text.find_first_of("?.") < eq)) {
      add(subscription_errc::bad_filter_syntax, fx,
          "a filter must be param=value, Type.param=value or Type?param=value");
      return;
    }
    if (topic_ == nullptr) return;  // unknown_topic is reported; the parameter cannot be checked
    const filter_definition* def = find_filter(*topic_, lhs);
    if (def == nullptr) {
      std::string known;
      for (const filter_definition& f : topic_->filters)
        known += (known.empty() ? "" : ", ") + std::string(f.parameter);
      add(subscription_errc::unknown_filter, fx,
          "the topic " + std::string(topic_->key) + " can be filtered by: " + known);
      return;
    }
    if (!type.empty() && type != def->resource) {
      add(subscription_errc::unknown_filter, fx,
          "the filter " + std::string(def->parameter) + " applies to " +
              std::string(def->resource) + " resources");
      return;
    }
    switch (def->kind) {
      case filter_kind::patient_reference: {
        constexpr std::string_view prefix = "Patient/";
        if (!value.starts_with(prefix) || !mappings::fhir::valid_id(value.substr(prefix.size()))) {
          add(subscription_errc::bad_filter_value, fx,
              "the filter patient takes a reference Patient/<id> (id: [A-Za-z0-9-.]{1,64})");
          return;
        }
        break;
      }
      case filter_kind::risk_at_least:
        if (risk_rank(value) < 0) {
          add(subscription_errc::bad_filter_value, fx,
              "the filter risk takes low, moderate or high");
          return;
        }
        break;
      case filter_kind::encounter_event:
        if (std::find(encounter_events.begin(), encounter_events.end(), value) ==
            encounter_events.end()) {
          add(subscription_errc::bad_filter_value, fx,
              "the filter " + std::string(def->parameter) + " takes admission or ed-visit");
          return;
        }
        break;
    }
    for (const subscription_filter& f : r_.filters) {
      if (f.parameter != def->parameter) continue;
      if (f.value != value)
        add(subscription_errc::conflicting_filters, fx,
            "the filter " + std::string(def->parameter) +
                " is given twice with different values; filters are AND-ed, so nothing could "
                "match");
      return;  // the same filter twice: kept once
    }
    r_.filters.push_back({std::string(def->parameter), std::string(value)});
  }

  void read_channel(const Value& doc) {
    const Value* ch = object_member(doc, "channel", "Subscription.channel", true);
    if (ch == nullptr) return;
    no_modifier_extension(*ch, "Subscription.channel");
    read_channel_type(*ch);
    read_endpoint(*ch);
    read_payload(*ch);
    read_headers(*ch);
    read_channel_extensions(*ch);

    if (r_.channel == channel_kind::message) {
      if (!content_given_) r_.content = payload_content::full_resource;
      if (r_.content != payload_content::full_resource)
        add(subscription_errc::unsupported_content, content_expr_,
            "the message channel sends Da Vinci message Bundles, which carry their resources: "
            "content must be full-resource");
      if (r_.max_count != 1)
        add(subscription_errc::bad_max_count, max_count_expr_,
            "the message channel sends one patient's event per message: maxCount must be 1");
    }
    if (r_.content == payload_content::full_resource && !opt_.allow_full_resource)
      add(subscription_errc::unsupported_content, content_expr_,
          "full-resource payloads are not allowed by this server's policy; use id-only or empty");
  }

  void read_channel_type(const Value& ch) {
    if (const Value* ext = object_member(ch, "_type", "Subscription.channel.type", false)) {
      for (const extension_ref& e : extensions(*ext, "Subscription.channel.type")) {
        if (e.url == ext_channel_type)
          add(subscription_errc::unsupported_channel, "Subscription.channel.type",
              "custom channel types are not supported; use rest-hook" +
                  std::string(opt_.allow_message_channel ? " or message" : ""));
      }
    }
    const Value* v = string_member(ch, "type", "Subscription.channel.type", true);
    if (v == nullptr) return;
    const std::string_view t = sv(*v);
    if (t == "rest-hook") {
      r_.channel = channel_kind::rest_hook;
    } else if (t == "message" && opt_.allow_message_channel) {
      r_.channel = channel_kind::message;
    } else {
      add(subscription_errc::unsupported_channel, "Subscription.channel.type",
          opt_.allow_message_channel
              ? "channel.type must be rest-hook, or message (Da Vinci $process-message)"
              : "channel.type must be rest-hook");
    }
  }

  void read_endpoint(const Value& ch) {
    static const std::string expr = "Subscription.channel.endpoint";
    const Value* v = string_member(ch, "endpoint", expr, true);
    if (v == nullptr) return;
    const std::string_view url = sv(*v);
    auto bad = [&](subscription_errc c, std::string_view why) {
      add(c, expr, "channel.endpoint " + std::string(why));
    };
    if (url.size() > opt_.max_endpoint_bytes)
      return bad(subscription_errc::bad_endpoint,
                 "is longer than " + std::to_string(opt_.max_endpoint_bytes) + " bytes");
    for (const char c : url) {
      const auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u >= 0x7F)
        return bad(subscription_errc::bad_endpoint,
                   "contains spaces, control or non-ASCII characters (percent-encode them)");
    }
    const auto colon = url.find("://");
    if (colon == std::string_view::npos)
      return bad(subscription_errc::bad_endpoint, "must be an absolute https:// URL");
    const std::string_view scheme = url.substr(0, colon);
    const bool https = iequals(scheme, "https");
    if (!https && !iequals(scheme, "http"))
      return bad(subscription_errc::bad_endpoint, "must be an absolute https:// URL");
    const std::string_view rest = url.substr(colon + 3);
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (url.find('#') != std::string_view::npos)
      return bad(subscription_errc::bad_endpoint, "must not have a fragment (#)");
    if (authority.find('@') != std::string_view::npos)
      return bad(subscription_errc::bad_endpoint,
                 "must not carry user info (credentials); send them in channel.header");
    std::string_view host = authority;
    std::string_view port;
    if (host.starts_with('[')) {
      const auto close = host.find(']');
      if (close == std::string_view::npos)
        return bad(subscription_errc::bad_endpoint, "has an unclosed IPv6 address");
      port = host.substr(close + 1);
      host = host.substr(0, close + 1);
      if (!port.empty() && !port.starts_with(':'))
        return bad(subscription_errc::bad_endpoint, "has an invalid host");
      if (!port.empty()) port.remove_prefix(1);
      const std::string_view inner = host.substr(1, host.size() - 2);
      if (inner.empty() ||
          inner.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos)
        return bad(subscription_errc::bad_endpoint, "has an invalid IPv6 address");
    } else {
      if (const auto c = host.rfind(':'); c != std::string_view::npos) {
        port = host.substr(c + 1);
        host = host.substr(0, c);
      }
      if (host.empty()) return bad(subscription_errc::bad_endpoint, "has no host");
      for (const char c : host) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
        if (!ok) return bad(subscription_errc::bad_endpoint, "has an invalid host");
      }
    }
    if (authority.find(':') != std::string_view::npos && !authority.starts_with('[') &&
        port.empty())
      return bad(subscription_errc::bad_endpoint, "has an empty port");
    if (!port.empty()) {
      unsigned p = 0;
      if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
        return bad(subscription_errc::bad_endpoint, "has an invalid port");
      for (const char c : port) p = p * 10 + static_cast<unsigned>(c - '0');
      if (p == 0 || p > 65535) return bad(subscription_errc::bad_endpoint, "has an invalid port");
    }
    if (r_.channel == channel_kind::message && url.find('?') != std::string_view::npos)
      return bad(subscription_errc::bad_endpoint,
                 "is a FHIR base for the message channel and must not have a query");
    if (!https) {
      const bool loopback = host == "127.0.0.1" || host == "[::1]" || iequals(host, "localhost");
      if (!(opt_.allow_insecure_loopback && loopback))
        return bad(subscription_errc::insecure_endpoint,
                   "must use https (notifications carry PHI)");
    }
    r_.endpoint = std::string(url);
  }

  void read_payload(const Value& ch) {
    static const std::string expr = "Subscription.channel.payload";
    content_expr_ = expr;
    if (const Value* v = string_member(ch, "payload", expr, true)) {
      std::string_view rest = sv(*v);
      const auto semi = rest.find(';');
      const std::string_view type = trim(rest.substr(0, semi));
      bool ok = iequals(type, fhir_json_mime);
      bool version = false;
      if (semi != std::string_view::npos) {
        rest = rest.substr(semi + 1);
        while (ok) {
          const auto next = rest.find(';');
          const std::string_view param = trim(rest.substr(0, next));
          const auto eq = param.find('=');
          ok = !version && eq != std::string_view::npos &&
               iequals(trim(param.substr(0, eq)), "fhirVersion") &&
               trim(param.substr(eq + 1)) == "4.0";
          version = true;
          if (next == std::string_view::npos) break;
          rest = rest.substr(next + 1);
        }
      }
      if (!ok)
        add(subscription_errc::unsupported_payload, expr,
            "channel.payload must be application/fhir+json, optionally with ; fhirVersion=4.0");
      else
        r_.mime_type = version ? std::string(fhir_json_mime) + "; fhirVersion=4.0"
                               : std::string(fhir_json_mime);
    }
    const Value* ext = object_member(ch, "_payload", expr, false);
    if (ext == nullptr) return;
    no_modifier_extension(*ext, expr);
    for (const auto& [i, url, e] : extensions(*ext, expr)) {
      const std::string ex = expr + ".extension[" + std::to_string(i) + "]";
      if (url != ext_content) continue;
      if (content_given_) {
        add(subscription_errc::unsupported_content, ex, "the payload content is given twice");
        continue;
      }
      content_given_ = true;
      content_expr_ = ex;
      const Value* c = string_member(*e, "valueCode", ex + ".valueCode", true);
      if (c == nullptr) continue;
      const std::string_view code = sv(*c);
      if (code == "empty")
        r_.content = payload_content::empty;
      else if (code == "id-only")
        r_.content = payload_content::id_only;
      else if (code == "full-resource")
        r_.content = payload_content::full_resource;
      else
        add(subscription_errc::unsupported_content, ex,
            "the payload content must be empty, id-only or full-resource");
    }
  }

  void read_headers(const Value& ch) {
    const Value* arr = member(ch, "header");
    if (arr == nullptr) return;
    if (!arr->IsArray()) {
      add(subscription_errc::wrong_type, "Subscription.channel.header",
          "channel.header must be a JSON array of strings");
      return;
    }
    if (arr->Size() > opt_.max_headers) {
      add(subscription_errc::too_many_headers, "Subscription.channel.header",
          "at most " + std::to_string(opt_.max_headers) + " headers are allowed");
      return;
    }
    for (rapidjson::SizeType i = 0; i < arr->Size(); ++i) {
      const std::string expr = "Subscription.channel.header[" + std::to_string(i) + "]";
      const Value& h = (*arr)[i];
      if (!h.IsString()) {
        add(subscription_errc::wrong_type, expr, "a header must be a JSON string");
        continue;
      }
      // Never quote the header: its value is a credential.
      if (const char* why = header_problem(sv(h))) {
        add(subscription_errc::bad_header, expr, std::string("the header ") + why);
        continue;
      }
      if (const std::string_view own = sender_header(sv(h)); !own.empty()) {
        add(subscription_errc::bad_header, expr,
            "the header " + std::string(own) + " is written by the sender and cannot be set");
        continue;
      }
      const std::string_view text = sv(h);
      const auto colon = text.find(':');
      r_.headers.push_back(std::string(text.substr(0, colon)) + ": " +
                           std::string(trim(text.substr(colon + 1))));
    }
  }

  const char* header_problem(std::string_view h) const {
    if (h.size() > opt_.max_header_bytes) return "is too long";
    for (const char c : h) {
      if (c == '\r' || c == '\n') return "contains CR or LF";
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7F) return "contains control characters";
    }
    const auto colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return "is not in the form Name: value";
    for (const char c : h.substr(0, colon))
      if (!token_char(c)) return "name is not an HTTP token (form Name: value)";
    if (trim(h.substr(colon + 1)).empty()) return "has no value (form Name: value)";
    return nullptr;
  }

  static std::string_view sender_header(std::string_view h) {
    const std::string_view name = h.substr(0, h.find(':'));
    for (const std::string_view s : sender_headers)
      if (iequals(name, s)) return s;
    return {};
  }

  // An unsignedInt/positiveInt extension value: nullopt (reported) when not a JSON integer.
  std::optional<std::uint64_t> uint_value(const Value& e, std::string_view key,
                                          const std::string& expr) {
    const Value* v = member(e, key);
    if (v == nullptr) {
      add(subscription_errc::missing, expr + "." + std::string(key),
          expr + "." + std::string(key) + " is required");
      return std::nullopt;
    }
    if (!v->IsUint64()) {
      add(subscription_errc::wrong_type, expr + "." + std::string(key),
          std::string(key) + " must be a non-negative JSON integer");
      return std::nullopt;
    }
    return v->GetUint64();
  }

  void read_channel_extensions(const Value& ch) {
    bool heartbeat = false, timeout = false, max_count = false;
    for (const auto& [i, url, e] : extensions(ch, "Subscription.channel")) {
      const std::string expr = "Subscription.channel.extension[" + std::to_string(i) + "]";
      if (!url.starts_with(backport_sd)) continue;
      if (url == ext_heartbeat) {
        if (std::exchange(heartbeat, true)) {
          add(subscription_errc::bad_heartbeat, expr, "the heartbeat period is given twice");
          continue;
        }
        const auto v = uint_value(*e, "valueUnsignedInt", expr);
        if (!v) continue;
        if (*v < opt_.min_heartbeat_seconds || *v > opt_.max_heartbeat_seconds)
          add(subscription_errc::bad_heartbeat, expr + ".valueUnsignedInt",
              "the heartbeat period must be " + std::to_string(opt_.min_heartbeat_seconds) +
                  " to " + std::to_string(opt_.max_heartbeat_seconds) +
                  " seconds (leave it out for no heartbeats)");
        else
          r_.heartbeat_seconds = static_cast<std::uint32_t>(*v);
      } else if (url == ext_timeout) {
        if (std::exchange(timeout, true)) {
          add(subscription_errc::bad_timeout, expr, "the timeout is given twice");
          continue;
        }
        const auto v = uint_value(*e, "valueUnsignedInt", expr);
        if (!v) continue;
        if (*v < opt_.min_timeout_seconds || *v > opt_.max_timeout_seconds)
          add(subscription_errc::bad_timeout, expr + ".valueUnsignedInt",
              "the timeout must be " + std::to_string(opt_.min_timeout_seconds) + " to " +
                  std::to_string(opt_.max_timeout_seconds) + " seconds");
        else
          r_.timeout_seconds = static_cast<std::uint32_t>(*v);
      } else if (url == ext_max_count) {
        max_count_expr_ = expr + ".valuePositiveInt";
        if (std::exchange(max_count, true)) {
          add(subscription_errc::bad_max_count, expr, "maxCount is given twice");
          continue;
        }
        const auto v = uint_value(*e, "valuePositiveInt", expr);
        if (!v) continue;
        if (*v < 1 || *v > opt_.max_max_count)
          add(subscription_errc::bad_max_count, max_count_expr_,
              "maxCount must be 1 to " + std::to_string(opt_.max_max_count));
        else
          r_.max_count = static_cast<std::uint32_t>(*v);
      }
    }
    if (!timeout) r_.timeout_seconds = opt_.default_timeout_seconds;
  }

  const parse_options& opt_;
  subscription_request r_;
  const topic* topic_ = nullptr;
  std::vector<subscription_issue> issues_;
  bool content_given_ = false;
  std::string content_expr_ = "Subscription.channel.payload";
  std::string max_count_expr_ = "Subscription.channel";
};

std::string_view errc_name(subscription_errc e) {
  switch (e) {
    case subscription_errc::not_json:
      return "not_json";
    case subscription_errc::not_subscription:
      return "not_subscription";
    case subscription_errc::wrong_type:
      return "wrong_type";
    case subscription_errc::missing:
      return "missing";
    case subscription_errc::unknown_topic:
      return "unknown_topic";
    case subscription_errc::bad_filter_syntax:
      return "bad_filter_syntax";
    case subscription_errc::unknown_filter:
      return "unknown_filter";
    case subscription_errc::unsupported_filter_modifier:
      return "unsupported_filter_modifier";
    case subscription_errc::bad_filter_value:
      return "bad_filter_value";
    case subscription_errc::conflicting_filters:
      return "conflicting_filters";
    case subscription_errc::too_many_filters:
      return "too_many_filters";
    case subscription_errc::unsupported_channel:
      return "unsupported_channel";
    case subscription_errc::bad_endpoint:
      return "bad_endpoint";
    case subscription_errc::insecure_endpoint:
      return "insecure_endpoint";
    case subscription_errc::unsupported_payload:
      return "unsupported_payload";
    case subscription_errc::unsupported_content:
      return "unsupported_content";
    case subscription_errc::bad_header:
      return "bad_header";
    case subscription_errc::too_many_headers:
      return "too_many_headers";
    case subscription_errc::bad_heartbeat:
      return "bad_heartbeat";
    case subscription_errc::bad_timeout:
      return "bad_timeout";
    case subscription_errc::bad_max_count:
      return "bad_max_count";
    case subscription_errc::bad_end:
      return "bad_end";
    case subscription_errc::bad_reason:
      return "bad_reason";
    case subscription_errc::bad_status:
      return "bad_status";
    case subscription_errc::unsupported_modifier_extension:
      return "unsupported_modifier_extension";
  }
  return "unknown";
}

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "carebridge.subscription"; }
  std::string message(int ev) const override {
    return std::string(errc_name(static_cast<subscription_errc>(ev)));
  }
};

void value_extension(json_out& j, std::string_view url, mappings::fhir::jkey key, std::uint64_t v) {
  j.begin_object();
  j.field("url", url);
  j.integer(key, static_cast<long long>(v));
  j.end_object();
}

}  // namespace

std::string_view to_string(channel_kind c) noexcept {
  switch (c) {
    case channel_kind::rest_hook:
      return "rest-hook";
    case channel_kind::message:
      return "message";
  }
  return "rest-hook";
}

std::string_view to_string(payload_content c) noexcept {
  switch (c) {
    case payload_content::empty:
      return "empty";
    case payload_content::id_only:
      return "id-only";
    case payload_content::full_resource:
      return "full-resource";
  }
  return "id-only";
}

std::string_view to_string(subscription_status s) noexcept {
  switch (s) {
    case subscription_status::requested:
      return "requested";
    case subscription_status::active:
      return "active";
    case subscription_status::error:
      return "error";
    case subscription_status::off:
      return "off";
  }
  return "error";
}

const boost::system::error_category& subscription_category() noexcept {
  static const category instance;
  return instance;
}

std::string_view subscription_issue::issue_type() const noexcept {
  switch (code) {
    case subscription_errc::not_json:
    case subscription_errc::not_subscription:
    case subscription_errc::wrong_type:
      return "structure";
    case subscription_errc::missing:
      return "required";
    case subscription_errc::unknown_topic:
    case subscription_errc::unknown_filter:
    case subscription_errc::unsupported_filter_modifier:
    case subscription_errc::unsupported_channel:
    case subscription_errc::unsupported_payload:
    case subscription_errc::unsupported_content:
      return "not-supported";
    case subscription_errc::bad_filter_syntax:
      return "invalid";
    case subscription_errc::conflicting_filters:
      return "business-rule";
    case subscription_errc::too_many_filters:
    case subscription_errc::too_many_headers:
      return "too-costly";
    case subscription_errc::insecure_endpoint:
      return "security";
    case subscription_errc::bad_status:
      return "code-invalid";
    case subscription_errc::unsupported_modifier_extension:
      return "extension";
    case subscription_errc::bad_filter_value:
    case subscription_errc::bad_endpoint:
    case subscription_errc::bad_header:
    case subscription_errc::bad_heartbeat:
    case subscription_errc::bad_timeout:
    case subscription_errc::bad_max_count:
    case subscription_errc::bad_end:
    case subscription_errc::bad_reason:
      return "value";
  }
  return "invalid";
}

unsigned subscription_error::http_status() const noexcept {
  for (const subscription_issue& i : issues)
    if (i.issue_type() == "structure") return 400;
  return 422;
}

std::string subscription_error::describe() const {
  std::string s = "Subscription refused:";
  for (const subscription_issue& i : issues) {
    s += ' ';
    s += errc_name(i.code);
    s += " at ";
    s += i.expression;
    s += ';';
  }
  if (!issues.empty()) s.pop_back();
  return s;
}

void throw_exception_from_error(const subscription_error& e, const boost::source_location&) {
  throw std::runtime_error(e.describe());
}

boost::system::result<subscription_request, subscription_error> parse_subscription(
    std::string_view json, const parse_options& options) {
  return parser(options).run(json);
}

std::string to_operation_outcome(const subscription_error& e) {
  json_out j;
  j.begin_object();
  j.field("resourceType", "OperationOutcome");
  j.begin_array("issue");
  for (const subscription_issue& i : e.issues) {
    j.begin_object();
    j.field("severity", "error");
    j.field("code", i.issue_type());
    j.begin_object("details");
    j.begin_array("coding");
    j.begin_object();
    j.field("system", rule_system);
    j.field("code", errc_name(i.code));
    j.end_object();
    j.end_array();
    j.end_object();
    j.field("diagnostics", i.diagnostics);
    if (!i.expression.empty()) {
      j.begin_array("expression");
      j.str(i.expression);
      j.end_array();
    }
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.take();
}

std::string filter_criteria_text(topic_id t, const subscription_filter& f) {
  const filter_definition* def = find_filter(topic_of(t), f.parameter);
  std::string s = def != nullptr ? std::string(def->resource) + "?" : std::string();
  return s + f.parameter + "=" + f.value;
}

std::string redacted_header(std::string_view header) {
  return std::string(header.substr(0, header.find(':'))) + ": ***";
}

std::string subscription_json(const subscription_request& r, const subscription_state& state,
                              const subscription_json_options& options) {
  json_out j(2048);
  j.begin_object();
  j.field("resourceType", "Subscription");
  j.field("id", state.id);
  j.begin_object("meta");
  j.begin_array("profile");
  j.str(subscription_profile);
  j.end_array();
  j.end_object();
  j.field("status", to_string(state.status));
  j.field("end", r.end);
  j.field("reason", r.reason);
  j.field("criteria", topic_of(r.topic).url);
  if (!r.filters.empty()) {
    j.begin_object("_criteria");
    j.begin_array("extension");
    for (const subscription_filter& f : r.filters) {
      j.begin_object();
      j.field("url", ext_filter);
      j.field("valueString", filter_criteria_text(r.topic, f));
      j.end_object();
    }
    j.end_array();
    j.end_object();
  }
  j.field("error", state.error_text);
  j.begin_object("channel");
  j.begin_array("extension");
  if (r.heartbeat_seconds)
    value_extension(j, ext_heartbeat, "valueUnsignedInt", *r.heartbeat_seconds);
  value_extension(j, ext_timeout, "valueUnsignedInt", r.timeout_seconds);
  value_extension(j, ext_max_count, "valuePositiveInt", r.max_count);
  j.end_array();
  j.field("type", to_string(r.channel));
  j.field("endpoint", r.endpoint);
  j.field("payload", r.mime_type);
  j.begin_object("_payload");
  j.begin_array("extension");
  j.begin_object();
  j.field("url", ext_content);
  j.field("valueCode", to_string(r.content));
  j.end_object();
  j.end_array();
  j.end_object();
  if (!r.headers.empty()) {
    j.begin_array("header");
    for (const std::string& h : r.headers)
      j.str(options.reveal_header_values ? h : redacted_header(h));
    j.end_array();
  }
  j.end_object();
  j.end_object();
  return j.take();
}

std::optional<std::chrono::sys_seconds> instant_seconds(std::string_view s) noexcept {
  const auto parts = mappings::fhir::read_datetime_text(s);
  if (!parts || parts->day == 0 || !parts->has_time || !parts->has_zone) return std::nullopt;
  // read_datetime_text checked the layout: YYYY-MM-DDThh:mm:ss[.f](Z|±hh:mm).
  auto num = [&](std::size_t at) { return (s[at] - '0') * 10 + (s[at + 1] - '0'); };
  using namespace std::chrono;
  const sys_days day = year_month_day{year{parts->year}, month{static_cast<unsigned>(parts->month)},
                                      std::chrono::day{static_cast<unsigned>(parts->day)}};
  sys_seconds t = day + hours{num(11)} + minutes{num(14)} + seconds{num(17)};
  const char z = s[s.size() - 6];
  if (s.back() != 'Z' && (z == '+' || z == '-')) {
    const minutes offset = hours{num(s.size() - 5)} + minutes{num(s.size() - 2)};
    t = z == '+' ? t - offset : t + offset;
  }
  return t;
}

}  // namespace carebridge::gateway::alerts
