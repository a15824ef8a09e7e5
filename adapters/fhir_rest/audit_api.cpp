#include "adapters/fhir_rest/audit_api.hpp"

#include "adapters/fhir_rest/fhir_http.hpp"

#include "gateway/alerts/subscription.hpp"
#include "gateway/audit/audit_event.hpp"
#include "gateway/auth/jose.hpp"
#include "gateway/obs/log.hpp"
#include "mappings/fhir/fhir_ingest.hpp"
#include "mappings/fhir/fhir_json.hpp"


#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <memory>
#include <span>
#include <vector>

namespace carebridge::adapters::fhir_rest {

namespace audit = gateway::audit;

namespace {

// ---- the observer -------------------------------------------------------------------------------

// Search parameters whose value is a reference to a resource by id: kept when it is one.
constexpr std::string_view reference_params[] = {"patient", "subject",  "encounter",
                                                 "owner",   "focus",    "_id",
                                                 "entity",  "based-on", "beneficiary"};
// Parameters whose value is a code, a number or a client id: kept when it looks like one.
constexpr std::string_view code_params[] = {"status",
                                            "_count",
                                            "_summary",
                                            "_sort",
                                            "action",
                                            "outcome",
                                            "subtype",
                                            "entity-type",
                                            "agent",
                                            "_after",
                                            "content",
                                            "eventsSinceNumber",
                                            "eventsUntilNumber",
                                            "topic",
                                            "intent"};

bool listed(std::string_view name, std::span<const std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// An id, code or number: letters, digits and - . _ : | $ / (at most 128; no spaces, no @).
bool code_like(std::string_view v) {
  if (v.empty() || v.size() > 128) return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == ':' || c == '|' || c == '$' || c == '/' || c == '+';
  });
}

// "Patient/p1" (optionally after a base URL), or a bare id.
bool id_reference(std::string_view v) {
  if (v.size() > 256) return false;
  const auto slash = v.rfind('/');
  if (slash == std::string_view::npos) return mappings::fhir::valid_id(v);
  std::string_view type = v.substr(0, slash);
  type = type.substr(type.rfind('/') + 1);
  if (type.empty() || !(type.front() >= 'A' && type.front() <= 'Z')) return false;
  if (!std::all_of(type.begin(), type.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      }))
    return false;
  return mappings::fhir::valid_id(v.substr(slash + 1));
}

// A name is kept only when it is short and plain (a parameter name, not text someone typed).
std::string safe_name(std::string_view n) {
  if (n.size() > 64) return "(long)";
  std::string out;
  for (char c : n)
    out += (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                   c == '_' || c == ':' || c == '.'
               ? c
               : '?';
  return out;
}

// A pattern segment's value: the captured parameter for "{name}", else the literal.
std::string segment_value(const http_request& r, std::string_view seg) {
  if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}')
    return param(r, seg.substr(1, seg.size() - 2));
  return std::string(seg);
}

// The id a create's Location names: ".../{type}/{id}[/_history/n]".
std::string created_id(const http_response& res, std::string_view type) {
  for (const auto& [k, v] : res.headers) {
    if (k.size() != 8) continue;
    std::string lk = k;
    for (char& c : lk) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lk != "location") continue;
    const std::string needle = "/" + std::string(type) + "/";
    std::string_view loc(v);
    if (loc.starts_with(needle.substr(1)))
      loc = loc.substr(needle.size() - 1);
    else if (const auto at = loc.rfind(needle); at != std::string_view::npos)
      loc = loc.substr(at + needle.size());
    else
      return "";
    return std::string(loc.substr(0, loc.find('/')));
  }
  return "";
}

// The client a token request was for: the form's client_id, else the `sub` (then `iss`) of its
// client assertion (a JWT). Only called when the token was issued, i.e. the assertion was verified.
std::string token_client(const http_request& r) {
  const auto form = split_query(r.body);
  if (!form) return "";
  std::string client, assertion;
  for (const auto& p : *form) {
    if (p.name == "client_id") client = p.value;
    if (p.name == "client_assertion") assertion = p.value;
  }
  if (client.empty() && !assertion.empty()) {
    // The token endpoint verified it with the same parser before issuing the token.
    if (const auto jwt = gateway::auth::parse_jws(assertion))
      client = !jwt->claims.sub.empty() ? jwt->claims.sub : jwt->claims.iss;
  }
  return code_like(client) ? client : std::string();
}

// ---- the AuditEvent routes ----------------------------------------------------------------------

bool is_ops(const http_request& r) {
  return r.principal != nullptr && r.principal->kind == gateway::auth::role::ops;
}

std::optional<std::int64_t> number(std::string_view v) {
  std::int64_t n = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < 0) return std::nullopt;
  return n;
}

constexpr std::int64_t us_per_s = 1'000'000;

std::int64_t day_us(int y, unsigned m, unsigned d) {
  using namespace std::chrono;
  const sys_days day{year{y} / month{m} / std::chrono::day{d}};
  return static_cast<std::int64_t>(day.time_since_epoch().count()) * 86'400 * us_per_s;
}

// The interval [start, end) in Unix µs a FHIR date/dateTime/instant search value covers.
std::optional<std::pair<std::int64_t, std::int64_t>> date_range(std::string_view v) {
  using namespace std::chrono;
  const auto digits = [&](std::size_t at, std::size_t n) -> std::optional<int> {
    if (v.size() < at + n) return std::nullopt;
    int x = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (v[i] < '0' || v[i] > '9') return std::nullopt;
      x = x * 10 + (v[i] - '0');
    }
    return x;
  };
  if (v.size() == 4) {
    const auto y = digits(0, 4);
    if (!y) return std::nullopt;
    return std::pair{day_us(*y, 1, 1), day_us(*y + 1, 1, 1)};
  }
  if (v.size() == 7 && v[4] == '-') {
    const auto y = digits(0, 4), m = digits(5, 2);
    if (!y || !m || *m < 1 || *m > 12) return std::nullopt;
    const auto mo = static_cast<unsigned>(*m);
    return std::pair{day_us(*y, mo, 1), mo == 12 ? day_us(*y + 1, 1, 1) : day_us(*y, mo + 1, 1)};
  }
  if (v.size() == 10 && v[4] == '-' && v[7] == '-') {
    const auto y = digits(0, 4), m = digits(5, 2), d = digits(8, 2);
    if (!y || !m || !d) return std::nullopt;
    const year_month_day ymd{year{*y}, month{static_cast<unsigned>(*m)},
                             day{static_cast<unsigned>(*d)}};
    if (!ymd.ok()) return std::nullopt;
    const std::int64_t start = day_us(*y, static_cast<unsigned>(*m), static_cast<unsigned>(*d));
    return std::pair{start, start + 86'400 * us_per_s};
  }
  const auto t = gateway::alerts::instant_seconds(v);
  if (!t) return std::nullopt;
  const std::int64_t start = static_cast<std::int64_t>(t->time_since_epoch().count()) * us_per_s;
  return std::pair{start, start + us_per_s};
}

struct api {
  audit::audit_log& log;
  audit_api_options options;

  std::string base(const http_request& r) const {
    if (!options.base_url.empty()) return options.base_url;
    const std::string_view host = r.header("host");
    if (host.empty() || host.find_first_of(" /\\\r\n\"<>") != std::string_view::npos)
      return "http://localhost/fhir";
    return std::string(r.connection.tls ? "https://" : "http://") + std::string(host) + "/fhir";
  }

  static http_response forbidden() {
    return outcome(403, "forbidden", "the audit trail is open to operators (role ops) only");
  }

  http_response read(const http_request& r) const {
    if (!is_ops(r)) return forbidden();
    const auto id = number(param(r, "id"));
    std::optional<audit::audit_record> rec;
    if (id) rec = log.get(*id);
    if (!rec) return outcome(404, "not-found", "no AuditEvent with this id");
    return {200, std::string(fhir_json), audit::audit_event_json(*rec, options.observer), {}};
  }

  http_response search(const http_request& r) const {
    if (!is_ops(r)) return forbidden();
    const auto params = split_query(r.query);
    if (!params) return outcome(400, "invalid", "malformed percent-encoding in the query");
    audit::audit_filter f;
    f.limit = 100;
    std::vector<std::string_view> seen;
    std::string next_query;  // the query as sent without _after, for the next link
    for (const auto& p : *params) {
      const std::string& n = p.name;
      const std::string& v = p.value;
      if (n != "_after") {
        if (!next_query.empty()) next_query += '&';
        next_query += p.raw;
      }
      if (n != "date") {
        if (std::find(seen.begin(), seen.end(), n) != seen.end())
          return outcome(400, "invalid", "search parameter " + safe_name(n) + " is repeated");
        seen.push_back(n);
      }
      if (n == "date") {
        std::string_view value = v;
        std::string_view prefix = "eq";
        if (value.size() > 2 && value[0] >= 'a' && value[0] <= 'z') {
          prefix = value.substr(0, 2);
          value.remove_prefix(2);
        }
        const auto range = date_range(value);
        if (!range)
          return outcome(400, "invalid",
                         "date: YYYY, YYYY-MM, YYYY-MM-DD or an instant, after a prefix eq, ge, "
                         "gt, le or lt");
        const auto since = [&](std::int64_t t) {
          f.since_us = std::max(f.since_us.value_or(t), t);
        };
        const auto until = [&](std::int64_t t) {
          f.until_us = std::min(f.until_us.value_or(t), t);
        };
        if (prefix == "eq") {
          since(range->first);
          until(range->second);
        } else if (prefix == "ge") {
          since(range->first);
        } else if (prefix == "gt") {
          since(range->second);
        } else if (prefix == "le") {
          until(range->second);
        } else if (prefix == "lt") {
          until(range->first);
        } else {
          return outcome(400, "not-supported", "date: the prefixes are eq, ge, gt, le and lt");
        }
      } else if (n == "agent") {
        f.client_id = v;
      } else if (n == "entity") {
        std::string_view ref = v;
        const auto slash = ref.rfind('/');
        if (slash == std::string_view::npos || !id_reference(ref))
          return outcome(400, "invalid", "entity: a reference Type/id");
        std::string_view type = ref.substr(0, slash);
        type = type.substr(type.rfind('/') + 1);
        if (!f.entity_type.empty() && f.entity_type != type)
          return outcome(400, "invalid", "entity and entity-type name different types");
        f.entity_type = std::string(type);
        f.entity_id = std::string(ref.substr(slash + 1));
      } else if (n == "entity-type") {
        if (!f.entity_type.empty() && f.entity_type != v)
          return outcome(400, "invalid", "entity and entity-type name different types");
        f.entity_type = v;
      } else if (n == "action") {
        if (v.size() != 1 || std::string_view("CRUDE").find(v[0]) == std::string_view::npos)
          return outcome(400, "invalid", "action: C, R, U, D or E");
        f.action = v;
      } else if (n == "outcome") {
        if (v != "0" && v != "4" && v != "8" && v != "12")
          return outcome(400, "invalid", "outcome: 0, 4, 8 or 12");
        f.outcome = std::stoi(v);
      } else if (n == "subtype") {
        // A token: [system|]code.
        f.subtype = v.substr(v.find('|') == std::string::npos ? 0 : v.find('|') + 1);
      } else if (n == "_count") {
        const auto c = number(v);
        if (!c || *c == 0) return outcome(400, "invalid", "_count: a number from 1 to 1000");
        f.limit = static_cast<std::size_t>(std::min<std::int64_t>(*c, 1000));
      } else if (n == "_after") {
        const auto a = number(v);
        if (!a) return outcome(400, "invalid", "_after: a paging position from a next link");
        f.after_id = *a;
      } else {
        return outcome(400, "not-supported",
                       "unknown search parameter " + safe_name(n) +
                           " (date, agent, entity, entity-type, action, outcome, subtype, _count)");
      }
    }
    const std::size_t page = f.limit;
    f.limit = page + 1;
    auto rows = log.query(f);
    const bool more = rows.size() > page;
    if (more) rows.resize(page);

    const std::string b = base(r);
    mappings::fhir::json_out j(4096 + rows.size() * 1500);
    j.begin_object();
    j.field("resourceType", "Bundle");
    j.field("type", "searchset");
    j.begin_array("link");
    j.begin_object();
    j.field("relation", "self");
    j.field("url", b + "/AuditEvent" + (r.query.empty() ? "" : "?" + r.query));
    j.end_object();
    if (more) {
      j.begin_object();
      j.field("relation", "next");
      j.field("url", b + "/AuditEvent?" + next_query + (next_query.empty() ? "" : "&") +
                         "_after=" + std::to_string(rows.back().id));
      j.end_object();
    }
    j.end_array();
    if (!rows.empty()) {
      j.begin_array("entry");
      for (const auto& row : rows) {
        match_entry(j, b + "/AuditEvent/" + std::to_string(row.id),
                    audit::audit_event_json(row, options.observer));
      }
      j.end_array();
    }
    j.end_object();
    return {200, std::string(fhir_json), j.take(), {}};
  }
};

}  // namespace

std::string phi_free_query(std::string_view query) {
  std::string out;
  const auto params = split_query(query);
  if (!params) return "(malformed)";
  for (const auto& p : *params) {
    if (!out.empty()) out += '&';
    const std::string_view name = p.name;
    const std::string_view base = name.substr(0, name.find(':'));  // modifiers: patient:Patient
    out += safe_name(name);
    if ((listed(base, reference_params) && id_reference(p.value)) ||
        (listed(base, code_params) && code_like(p.value))) {
      out += '=';
      out += p.value;
    }
  }
  return out;
}

namespace {
std::optional<audit::audit_record> record_of(const http_request& r, const http_response& response,
                                             std::string_view pattern);

// A path segment is whatever the client sent: kept only when it is a resource type / id.
bool resource_type(std::string_view t) {
  return !t.empty() && t.size() <= 64 && t.front() >= 'A' && t.front() <= 'Z' &&
         std::all_of(t.begin(), t.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
         });
}
}  // namespace

std::optional<audit::audit_record> audit_record_of(const http_request& r,
                                                   const http_response& response,
                                                   std::string_view pattern) {
  auto a = record_of(r, response, pattern);
  if (a) {
    if (!a->entity_type.empty() && !resource_type(a->entity_type)) a->entity_type = "(invalid)";
    if (!a->entity_id.empty() && !mappings::fhir::valid_id(a->entity_id))
      a->entity_id = "(invalid)";
  }
  return a;
}

namespace {
std::optional<audit::audit_record> record_of(const http_request& r, const http_response& response,
                                             std::string_view pattern) {
  const bool fhir = pattern == "/fhir" || pattern.starts_with("/fhir/");
  const bool auth = pattern == "/auth" || pattern.starts_with("/auth/");
  if (!fhir && !auth) return std::nullopt;
  if (pattern == "/fhir/metadata" || pattern.find("/.well-known") != std::string_view::npos)
    return std::nullopt;

  audit::audit_record a;
  if (r.principal != nullptr) {
    a.client_id = r.principal->client_id;
    a.role = std::string(gateway::auth::role_name(r.principal->kind));
    if (r.principal->kind == gateway::auth::role::group) a.group = r.principal->group;
  }
  a.address = r.connection.peer_address;
  a.status = response.status;
  a.outcome = audit::outcome_of_status(response.status);
  const bool ok = response.status >= 200 && response.status < 300;

  if (auth) {
    const std::string_view last = pattern.substr(pattern.rfind('/') + 1);
    a.action = 'E';
    a.subtype = last.empty() ? "auth" : std::string(last);
    if (last == "token" && r.principal == nullptr && ok) {
      // Issued: the assertion was verified, so the client it names is the one that asked.
      a.client_id = token_client(r);
      if (!a.client_id.empty()) a.role = "client";
    }
    return a;
  }

  std::vector<std::string_view> segs;
  for (std::string_view rest = pattern.substr(5); !rest.empty();) {
    if (rest.front() == '/') rest.remove_prefix(1);
    const auto slash = rest.find('/');
    if (!rest.substr(0, slash).empty()) segs.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash);
  }
  const std::string& m = r.method;
  if (segs.empty()) {
    if (m == "POST") {
      const bool batch = response.body.find("\"batch-response\"") != std::string::npos;
      a.subtype = batch ? "batch" : "transaction";
    } else {
      a.subtype = "search-system";
      a.query = phi_free_query(r.query);
    }
    a.action = 'E';
    return a;
  }
  if (segs.back().starts_with('$')) {
    a.subtype = std::string(segs.back());
    a.action = 'E';
    if (segs.size() >= 2) a.entity_type = segment_value(r, segs[0]);
    if (segs.size() >= 3) a.entity_id = segment_value(r, segs[1]);
    if (m == "GET") a.query = phi_free_query(r.query);
    return a;
  }
  a.entity_type = segment_value(r, segs[0]);
  if (segs.size() >= 2) a.entity_id = segment_value(r, segs[1]);
  if (segs.size() >= 4 && segs[2] == "_history") {
    a.subtype = "vread";
    a.action = 'R';
  } else if (segs.size() == 1) {
    if (m == "GET") {
      a.subtype = "search-type";
      a.action = 'E';
      a.query = phi_free_query(r.query);
    } else if (m == "POST") {
      a.subtype = "create";
      a.action = 'C';
      if (ok) a.entity_id = created_id(response, a.entity_type);
    } else {
      a.subtype = m;
      a.action = 'E';
    }
  } else if (m == "GET") {
    a.subtype = "read";
    a.action = 'R';
  } else if (m == "PUT") {
    a.subtype = "update";
    a.action = 'U';
  } else if (m == "PATCH") {
    a.subtype = "patch";
    a.action = 'U';
  } else if (m == "DELETE") {
    a.subtype = "delete";
    a.action = 'D';
  } else if (m == "POST") {
    a.subtype = "create";
    a.action = 'C';
  } else {
    a.subtype = m;
    a.action = 'E';
  }
  for (char& c : a.subtype) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return a;
}
}  // namespace

completion_observer make_audit_observer(audit::audit_log& log) {
  return [&log](const http_request& r, const http_response& res, std::string_view pattern) {
    if (auto rec = audit_record_of(r, res, pattern)) log.record(std::move(*rec));
  };
}

void register_audit_api(http_server& server, audit::audit_log& log, audit_api_options options) {
  auto a = std::make_shared<api>(api{log, std::move(options)});
  server.add("GET", "/fhir/AuditEvent", [a](const http_request& r) { return a->search(r); });
  server.add("GET", "/fhir/AuditEvent/{id}", [a](const http_request& r) { return a->read(r); });
}

}  // namespace carebridge::adapters::fhir_rest
