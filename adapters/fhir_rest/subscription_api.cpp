#include "adapters/fhir_rest/subscription_api.hpp"

#include "gateway/alerts/events.hpp"
#include "gateway/alerts/notification.hpp"
#include "gateway/alerts/topics.hpp"
#include "gateway/obs/log.hpp"
#include "mappings/fhir/fhir_ingest.hpp"
#include "mappings/fhir/fhir_json.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <memory>
#include <mutex>
#include <random>

namespace carebridge::adapters::fhir_rest {

namespace alerts = gateway::alerts;
namespace store = gateway::store;
namespace obs = gateway::obs;

namespace {

constexpr std::string_view fhir_json = "application/fhir+json; charset=utf-8";

http_response outcome(unsigned status, std::string code, std::string text) {
  mappings::fhir::fhir_input_error e{status, std::move(code), std::move(text), {}};
  return {status, std::string(fhir_json), mappings::fhir::operation_outcome(e), {}};
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool json_body(const http_request& r) {
  const std::string ct = lower(r.header("content-type"));
  const std::string media = ct.substr(0, ct.find(';'));
  return media == "application/fhir+json" || media == "application/json";
}

// A random id (UUID v4 form): subscription ids must not be guessable or reveal a count.
std::string new_id() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t a = 0, b = 0;
  {
    std::lock_guard lock(mu);
    a = rng();
    b = rng();
  }
  a = (a & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull;
  b = (b & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08llx-%04llx-%04llx-%04llx-%012llx",
                static_cast<unsigned long long>(a >> 32),
                static_cast<unsigned long long>((a >> 16) & 0xFFFF),
                static_cast<unsigned long long>(a & 0xFFFF),
                static_cast<unsigned long long>(b >> 48),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFull));
  return buf;
}

std::optional<std::int64_t> number_param(const http_request& r, std::string_view name, bool& bad) {
  auto v = r.query_param(name);
  if (!v) return std::nullopt;
  std::int64_t n = 0;
  const auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size() || n < 0) {
    bad = true;
    return std::nullopt;
  }
  return n;
}

std::string param(const http_request& r, std::string_view name) {
  const auto it = r.params.find(name);
  return it == r.params.end() ? std::string() : it->second;
}

// The body's "id", when it has one.
std::optional<std::string> body_id(std::string_view json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) return std::nullopt;
  const auto it = d.FindMember("id");
  if (it == d.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// "Name: value" → "name" (lower case), for matching a masked header with the stored one.
std::string header_name(std::string_view h) {
  return lower(h.substr(0, h.find(':')));
}

struct api : std::enable_shared_from_this<api> {
  api(store::subscription_store& s, store::message_store& m, subscription_api_options o)
      : subs(s), messages(m), options(std::move(o)) {}

  store::subscription_store& subs;
  store::message_store& messages;
  subscription_api_options options;

  std::string base(const http_request& r) const {
    if (!options.base_url.empty()) return options.base_url;
    const std::string_view host = r.header("host");
    if (host.empty() || host.find_first_of(" /\\\r\n") != std::string_view::npos)
      return "http://localhost/fhir";
    return std::string(r.connection.tls ? "https://" : "http://") + std::string(host) + "/fhir";
  }

  std::optional<std::string> group(const http_request& r) const {
    if (!options.group_of) return std::nullopt;
    return options.group_of(r.connection);
  }

  static http_response not_a_group() {
    return outcome(403, "forbidden",
                   "this client is not registered for a physician group (config group_clients)");
  }
  static http_response unknown(std::string_view id) {
    return outcome(404, "not-found", "Subscription/" + std::string(id) + " is not known");
  }

  // The caller's own subscription, or nullopt (unknown, or another group's: the same answer).
  std::optional<store::subscription_row> own(const std::string& group, std::string_view id) {
    auto row = subs.subscription(id);
    if (!row || row->group_id != group) return std::nullopt;
    return row;
  }

  http_response resource(const store::subscription_row& row, unsigned status,
                         header_list headers = {}) const {
    auto req = alerts::read_stored(row);
    if (!req) return outcome(500, "exception", "the stored subscription cannot be read");
    return {status, std::string(fhir_json), alerts::subscription_json(*req, alerts::state_of(row)),
            std::move(headers)};
  }

  alerts::parse_options parse_now() const {
    alerts::parse_options o = options.parse;
    o.now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    return o;
  }

  static http_response not_json() {
    return outcome(415, "not-supported",
                   "Content-Type must be application/fhir+json or application/json");
  }

  // The body as a checked Subscription into `out`, or the refusal to answer with.
  std::optional<http_response> read_body(const http_request& r,
                                         std::optional<alerts::subscription_request>& out) const {
    if (!json_body(r)) return not_json();
    auto parsed = alerts::parse_subscription(r.body, parse_now());
    if (!parsed) {
      const auto& e = parsed.error();
      return http_response{e.http_status(), std::string(fhir_json), alerts::to_operation_outcome(e),
                           {}};
    }
    out = std::move(*parsed);
    return std::nullopt;
  }

  void create(const http_request& r, reply_handler reply) {
    const auto g = group(r);
    if (!g) return reply(not_a_group());
    std::optional<alerts::subscription_request> parsed;
    if (auto refused = read_body(r, parsed)) return reply(std::move(*refused));
    store::subscription_row row;
    row.id = new_id();
    row.group_id = *g;
    row.topic = std::string(alerts::topic_of(parsed->topic).url);
    row.status = parsed->status_asked == alerts::subscription_status::off ? "off" : "requested";
    row.json = r.body;
    const std::string location = base(r) + "/Subscription/" + row.id;
    auto self = shared_from_this();
    subs.save_subscription(row, [self, row, location, reply](bool ok) {
      if (!ok) return reply(outcome(500, "exception", "the subscription could not be stored"));
      obs::info("subscription.created",
                {{"subscription", row.id}, {"group", row.group_id}, {"status", row.status}});
      if (self->options.changed) self->options.changed();
      auto stored = self->subs.subscription(row.id);
      reply(self->resource(stored ? *stored : row, 201, {{"Location", location}}));
    });
  }

  http_response read(const http_request& r) {
    const auto g = group(r);
    if (!g) return not_a_group();
    const std::string id = param(r, "id");
    auto row = own(*g, id);
    if (!row) return unknown(id);
    return resource(*row, 200);
  }

  http_response search(const http_request& r) {
    const auto g = group(r);
    if (!g) return not_a_group();
    const auto status = r.query_param("status");
    const auto only_id = r.query_param("_id");
    mappings::fhir::json_out j;
    j.begin_object();
    j.field("resourceType", "Bundle");
    j.field("type", "searchset");
    std::vector<std::string> bodies;
    std::vector<std::string> ids;
    for (const auto& row : subs.subscriptions(*g)) {
      if (status && row.status != *status) continue;
      if (only_id && row.id != *only_id) continue;
      auto req = alerts::read_stored(row);
      if (!req) continue;
      bodies.push_back(alerts::subscription_json(*req, alerts::state_of(row)));
      ids.push_back(row.id);
    }
    j.integer("total", static_cast<long long>(bodies.size()));
    j.begin_array("entry");
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      j.begin_object();
      const std::string full = base(r) + "/Subscription/" + ids[i];
      j.field("fullUrl", full);
      j.key("resource");
      j.raw(bodies[i]);
      j.begin_object("search");
      j.field("mode", "match");
      j.end_object();
      j.end_object();
    }
    j.end_array();
    j.end_object();
    return {200, std::string(fhir_json), j.take(), {}};
  }

  void update(const http_request& r, reply_handler reply) {
    const auto g = group(r);
    if (!g) return reply(not_a_group());
    const std::string id = param(r, "id");
    auto row = own(*g, id);
    if (!row) return reply(unknown(id));
    std::optional<alerts::subscription_request> parsed;
    if (auto refused = read_body(r, parsed)) return reply(std::move(*refused));
    // The body's id, when given, must be the URL's.
    if (auto bid = body_id(r.body); bid && *bid != id)
      return reply(outcome(400, "invalid", "Subscription.id must be the id in the URL"));
    // Headers sent back masked keep their stored values.
    auto stored = alerts::read_stored(*row);
    std::string json = r.body;
    if (stored) {
      bool masked = false;
      for (const auto& h : parsed->headers)
        if (h.ends_with(": ***")) masked = true;
      if (masked) {
        for (auto& h : parsed->headers) {
          if (!h.ends_with(": ***")) continue;
          const auto old = std::find_if(stored->headers.begin(), stored->headers.end(),
                                        [&](const std::string& s) {
                                          return header_name(s) == header_name(h);
                                        });
          if (old != stored->headers.end()) h = *old;
        }
        alerts::subscription_state st;
        st.id = id;
        json = alerts::subscription_json(*parsed, st, {.reveal_header_values = true});
      }
    }
    store::subscription_row next = *row;
    next.topic = std::string(alerts::topic_of(parsed->topic).url);
    next.json = std::move(json);
    // The client asks; the server decides: requested or active means "handshake again".
    next.status = parsed->status_asked == alerts::subscription_status::off ? "off" : "requested";
    next.error.clear();
    auto self = shared_from_this();
    subs.save_subscription(next, [self, id, reply](bool ok) {
      if (!ok) return reply(outcome(500, "exception", "the subscription could not be stored"));
      obs::info("subscription.updated", {{"subscription", id}});
      if (self->options.changed) self->options.changed();
      auto stored_now = self->subs.subscription(id);
      if (!stored_now) return reply(unknown(id));
      reply(self->resource(*stored_now, 200));
    });
  }

  void remove(const http_request& r, reply_handler reply) {
    const auto g = group(r);
    if (!g) return reply(not_a_group());
    const std::string id = param(r, "id");
    if (!own(*g, id)) return reply(unknown(id));
    auto self = shared_from_this();
    subs.delete_subscription(id, [self, id, reply](bool ok) {
      if (!ok) return reply(outcome(500, "exception", "the subscription could not be deleted"));
      obs::info("subscription.deleted", {{"subscription", id}});
      if (self->options.changed) self->options.changed();
      reply({204, std::string(fhir_json), {}, {}});
    });
  }

  http_response status(const http_request& r, bool one) {
    const auto g = group(r);
    if (!g) return not_a_group();
    std::vector<store::subscription_row> rows;
    if (one) {
      const std::string id = param(r, "id");
      auto row = own(*g, id);
      if (!row) return unknown(id);
      rows.push_back(std::move(*row));
    } else {
      rows = subs.subscriptions(*g);
      if (auto st = r.query_param("status"))
        std::erase_if(rows, [&](const store::subscription_row& x) { return x.status != *st; });
    }
    std::vector<alerts::subscription_request> reqs;
    reqs.reserve(rows.size());
    std::vector<alerts::status_item> items;
    std::vector<store::subscription_row> kept;
    for (auto& row : rows) {
      auto req = alerts::read_stored(row);
      if (!req) continue;
      reqs.push_back(std::move(*req));
      kept.push_back(std::move(row));
    }
    for (std::size_t i = 0; i < kept.size(); ++i) items.push_back({&reqs[i], alerts::state_of(kept[i])});
    const alerts::notification_context cx{base(r), alerts::instant_of_us(now_us())};
    auto b = alerts::status_bundle(items, cx);
    if (!b) return outcome(500, "exception", "the status could not be built");
    return {200, std::string(fhir_json), std::move(*b), {}};
  }

  http_response events(const http_request& r) {
    const auto g = group(r);
    if (!g) return not_a_group();
    const std::string id = param(r, "id");
    auto row = own(*g, id);
    if (!row) return unknown(id);
    auto req = alerts::read_stored(*row);
    if (!req) return outcome(500, "exception", "the stored subscription cannot be read");
    bool bad = false;
    const std::int64_t since = number_param(r, "eventsSinceNumber", bad).value_or(1);
    const std::int64_t until =
        number_param(r, "eventsUntilNumber", bad).value_or(row->events_since_start);
    if (bad) return outcome(400, "invalid", "eventsSinceNumber and eventsUntilNumber are numbers");
    std::optional<alerts::payload_content> content;
    if (auto c = r.query_param("content")) {
      if (*c == "empty") content = alerts::payload_content::empty;
      else if (*c == "id-only") content = alerts::payload_content::id_only;
      else if (*c == "full-resource") content = alerts::payload_content::full_resource;
      else return outcome(400, "invalid", "content is empty, id-only or full-resource");
    }
    constexpr std::size_t max_events = 100;
    const auto evs = subs.events_of(id, std::max<std::int64_t>(since, 1), until, max_events);
    const auto effective = std::min(content.value_or(req->content), req->content);
    const auto ns = alerts::notification_events(*req, evs, messages, effective);
    // $events is not bounded by maxCount: the whole range asked for (up to 100) in one Bundle.
    alerts::subscription_request unbounded = *req;
    unbounded.max_count = static_cast<std::uint32_t>(std::max<std::size_t>(ns.size(), 1));
    const alerts::notification_context cx{base(r), alerts::instant_of_us(now_us())};
    auto b = alerts::notification_bundle(alerts::notification_type::query_event, unbounded,
                                         alerts::state_of(*row), ns, cx, content);
    if (!b) return outcome(500, "exception", "the events could not be built");
    return {200, std::string(fhir_json), std::move(*b), {}};
  }

  // A group updates its follow-up Task: the status and what it says about the work (statusReason,
  // businessStatus, note, output, executionPeriod); everything else stays the gateway's (for, focus,
  // owner, code, restriction, reasonReference). The first move to in-progress or completed sets
  // executionPeriod.start, when the group gave none: when contact was made, for the follow-up
  // measure. If-Match (W/"n") makes it conditional on the version read.
  void update_task(const http_request& r, reply_handler reply) {
    const auto g = group(r);
    if (!g) return reply(not_a_group());
    const std::string id = param(r, "id");
    auto stored = messages.read_resource("Task", id);
    rapidjson::Document doc;
    if (stored) doc.Parse(stored->json.data(), stored->json.size());
    const auto owner_of = [](const rapidjson::Value& d) -> std::string {
      if (!d.IsObject() || !d.HasMember("owner") || !d["owner"].IsObject()) return {};
      const auto& o = d["owner"];
      if (!o.HasMember("identifier") || !o["identifier"].IsObject()) return {};
      const auto& v = o["identifier"];
      return v.HasMember("value") && v["value"].IsString() ? v["value"].GetString() : "";
    };
    if (!stored || doc.HasParseError() || owner_of(doc) != *g)
      return reply(outcome(404, "not-found", "Task/" + id + " is not known"));
    if (!json_body(r)) return reply(not_json());
    rapidjson::Document in;
    in.Parse(r.body.data(), r.body.size());
    if (in.HasParseError() || !in.IsObject())
      return reply(outcome(400, "invalid", "the body is not a JSON object"));
    if (!in.HasMember("resourceType") || !in["resourceType"].IsString() ||
        std::string_view(in["resourceType"].GetString()) != "Task")
      return reply(outcome(400, "invalid", "the body is not a Task"));
    if (in.HasMember("id") && (!in["id"].IsString() || in["id"].GetString() != id))
      return reply(outcome(400, "invalid", "Task.id must be the id in the URL"));
    static constexpr std::string_view statuses[] = {"requested", "accepted", "rejected",
                                                    "in-progress", "on-hold", "completed",
                                                    "cancelled", "failed"};
    if (!in.HasMember("status") || !in["status"].IsString() ||
        std::find(std::begin(statuses), std::end(statuses),
                  std::string_view(in["status"].GetString())) == std::end(statuses))
      return reply(outcome(422, "invalid",
                           "Task.status must be requested, accepted, rejected, in-progress, "
                           "on-hold, completed, cancelled or failed"));
    std::int64_t expected = 0;
    if (const std::string_view m = r.header("if-match"); !m.empty()) {
      std::string digits;
      for (char ch : m)
        if (ch >= '0' && ch <= '9') digits.push_back(ch);
      if (digits.empty()) return reply(outcome(400, "invalid", "If-Match must be W/\"version\""));
      expected = std::stoll(digits);
    }
    auto& a = doc.GetAllocator();
    for (const char* k : {"status", "statusReason", "businessStatus", "note", "output",
                          "executionPeriod"}) {
      if (doc.HasMember(k)) doc.RemoveMember(k);
      if (in.HasMember(k)) doc.AddMember(rapidjson::Value(k, a), rapidjson::Value(in[k], a), a);
    }
    const std::string st = doc["status"].GetString();
    const std::string now = alerts::instant_of_us(now_us());
    if (st == "in-progress" || st == "completed") {
      if (!doc.HasMember("executionPeriod") || !doc["executionPeriod"].IsObject())
        doc.AddMember("executionPeriod", rapidjson::Value(rapidjson::kObjectType), a);
      auto& ep = doc["executionPeriod"];
      if (!ep.HasMember("start")) ep.AddMember("start", rapidjson::Value(now.c_str(), a), a);
      if (st == "completed" && !ep.HasMember("end"))
        ep.AddMember("end", rapidjson::Value(now.c_str(), a), a);
    }
    if (doc.HasMember("lastModified")) doc.RemoveMember("lastModified");
    doc.AddMember("lastModified", rapidjson::Value(now.c_str(), a), a);
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    doc.Accept(w);
    std::string json(buf.GetString(), buf.GetSize());
    auto self = shared_from_this();
    messages.update_resource(
        "Task", id, json, expected, [self, id, json, st, reply](std::int64_t version) {
          if (version > 0) {
            obs::info("task.updated", {{"task", id}, {"status", st}});
            reply({200, std::string(fhir_json), json,
                   {{"ETag", "W/\"" + std::to_string(version) + "\""}}});
          } else if (version == 0) {
            reply(outcome(404, "not-found", "Task/" + id + " is not known"));
          } else if (version == -1) {
            reply(outcome(412, "conflict", "the Task changed since the version in If-Match"));
          } else {
            reply(outcome(500, "exception", "the Task could not be stored"));
          }
        });
  }

  static http_response topic(const http_request& r) {
    const std::string id = param(r, "id");
    if (const auto* t = alerts::find_topic_by_key(id))
      return {200, std::string(fhir_json), alerts::topic_basic_json(*t), {}};
    return outcome(404, "not-found", "Basic/" + id + " is not known");
  }

  static std::int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

read_policy group_read_policy(
    std::function<std::optional<std::string>(const gateway::ingest::connection_info&)> group_of,
    store::message_store& st) {
  return [group_of = std::move(group_of), &st](const read_request& r,
                                               const store::stored_resource&) {
    const auto g = group_of ? group_of(r.connection) : std::nullopt;
    if (!g) return read_decision::allow;
    return st.alert_mentions(*g, r.type, r.id) ? read_decision::allow : read_decision::hide;
  };
}

void register_subscription_api(http_server& server, store::subscription_store& subs,
                               store::message_store& messages, subscription_api_options options) {
  auto a = std::make_shared<api>(subs, messages, std::move(options));
  server.add_async("POST", "/fhir/Subscription",
                   [a](const http_request& r, reply_handler reply) { a->create(r, std::move(reply)); });
  server.add("GET", "/fhir/Subscription", [a](const http_request& r) { return a->search(r); });
  server.add("GET", "/fhir/Subscription/$status",
             [a](const http_request& r) { return a->status(r, false); });
  server.add("GET", "/fhir/Subscription/{id}", [a](const http_request& r) { return a->read(r); });
  server.add_async("PUT", "/fhir/Subscription/{id}",
                   [a](const http_request& r, reply_handler reply) { a->update(r, std::move(reply)); });
  server.add_async("DELETE", "/fhir/Subscription/{id}",
                   [a](const http_request& r, reply_handler reply) { a->remove(r, std::move(reply)); });
  server.add("GET", "/fhir/Subscription/{id}/$status",
             [a](const http_request& r) { return a->status(r, true); });
  server.add("GET", "/fhir/Subscription/{id}/$events",
             [a](const http_request& r) { return a->events(r); });
  server.add("GET", "/fhir/Basic/{id}", [](const http_request& r) { return api::topic(r); });
  server.add_async("PUT", "/fhir/Task/{id}", [a](const http_request& r, reply_handler reply) {
    a->update_task(r, std::move(reply));
  });
}

}  // namespace carebridge::adapters::fhir_rest
