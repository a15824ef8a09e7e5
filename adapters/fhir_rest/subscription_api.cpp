#include "adapters/fhir_rest/subscription_api.hpp"

#include "adapters/fhir_rest/access.hpp"
#include "adapters/fhir_rest/fhir_http.hpp"

#include "gateway/alerts/events.hpp"
#include "gateway/alerts/notification.hpp"
#include "gateway/alerts/topics.hpp"
#include "gateway/care/care_engine.hpp"
#include "gateway/obs/log.hpp"
#include "mappings/fhir/fhir_ingest.hpp"
#include "mappings/fhir/fhir_json.hpp"
#include "mappings/fhir/json_patch.hpp"
#include "mappings/fhir/json_read.hpp"

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
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

// Nesting allowed in a Task or a patch a group sends (a Task nests a few levels).
constexpr std::size_t max_body_depth = 32;

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

// The Task elements a group changes (PUT and PATCH); everything else is the gateway's.
constexpr std::string_view task_group_fields[] = {"status", "statusReason", "businessStatus",
                                                  "note",   "output",       "executionPeriod"};
constexpr std::string_view task_statuses[] = {"requested", "accepted",  "rejected",  "in-progress",
                                              "on-hold",   "completed", "cancelled", "failed"};

// The Patient id a reference names ("Patient/x", "https://…/Patient/x", "Patient/x/_history/2"),
// or nullopt when it names no Patient by a valid id.
std::optional<std::string> patient_of(std::string_view ref) {
  std::size_t at = 0;
  if (!ref.starts_with("Patient/")) {
    at = ref.rfind("/Patient/");
    if (at == std::string_view::npos) return std::nullopt;
    ++at;
  }
  std::string_view id = ref.substr(at + 8);
  id = id.substr(0, id.find('/'));
  if (!mappings::fhir::valid_id(id)) return std::nullopt;
  return std::string(id);
}

// --- Task PATCH: which operations a group may send (the patch itself: mappings/fhir/json_patch) --

// The first reference token of a pointer ("/note/0/text" → "note"); "" for the whole document.
std::string_view first_token(const rapidjson::Value& v) {
  std::string_view s(v.GetString(), v.GetStringLength());
  if (s.empty()) return s;
  s.remove_prefix(1);
  return s.substr(0, s.find('/'));
}

// The shape of every operation (400), and that the ones that change something change only what
// the group may (422). Run before anything is applied.
std::optional<mappings::fhir::patch_refusal> check_task_patch(const rapidjson::Value& ops) {
  // A Task has a handful of elements a group changes: more operations than this are not a
  // follow-up note but a cost (array inserts are linear).
  constexpr rapidjson::SizeType max_operations = 100;
  if (auto refused = mappings::fhir::check_patch_array(ops, max_operations)) return refused;
  const auto group_field = [](std::string_view f) {
    return std::find(std::begin(task_group_fields), std::end(task_group_fields), f) !=
           std::end(task_group_fields);
  };
  for (rapidjson::SizeType i = 0; i < ops.Size(); ++i) {
    const auto& o = ops[i];
    if (auto refused = mappings::fhir::check_patch_operation(o, i)) return refused;
    const std::string_view op(o["op"].GetString(), o["op"].GetStringLength());
    if (op == "test") continue;  // reads only
    if (!group_field(first_token(o["path"])) ||
        (op == "move" && !group_field(first_token(o["from"]))))
      return mappings::fhir::patch_refusal{422, "business-rule",
                                           "JSON Patch operation " + std::to_string(i) +
                                               ": a group changes only Task.status, statusReason, "
                                               "businessStatus, note, output and executionPeriod"};
  }
  return std::nullopt;
}

// --- search parameters ---------------------------------------------------------------------------

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
    return options.group_of ? options.group_of(r) : group_of_request(r);
  }

  static http_response not_a_group() {
    return outcome(403, "forbidden", "this client is not registered for a physician group");
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
    for (std::size_t i = 0; i < bodies.size(); ++i)
      match_entry(j, base(r) + "/Subscription/" + ids[i], bodies[i]);
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

  // --- follow-up Tasks ---------------------------------------------------------------------------

  struct task_in_hand {
    store::stored_resource row;
    rapidjson::Document doc;
  };

  static http_response no_task(std::string_view id) {
    return outcome(404, "not-found", "Task/" + std::string(id) + " is not known");
  }

  // The group's own Task as stored, or nullptr: unknown, unreadable or another group's.
  std::unique_ptr<task_in_hand> own_task(const std::string& group, const std::string& id) {
    auto stored = messages.read_resource("Task", id);
    if (!stored) return nullptr;
    auto t = std::make_unique<task_in_hand>();
    t->row = std::move(*stored);
    t->doc.Parse(t->row.json.data(), t->row.json.size());
    if (t->doc.HasParseError() || !t->doc.IsObject()) return nullptr;
    const rapidjson::Value* owner = rapidjson::Pointer("/owner/identifier/value").Get(t->doc);
    if (owner == nullptr || !owner->IsString() || owner->GetString() != group) return nullptr;
    return t;
  }

  // PUT: the body is the Task as the group wants it.
  void update_task(const http_request& r, reply_handler reply) {
    const auto g = group(r);
    if (!g) return reply(not_a_group());
    const std::string id = param(r, "id");
    auto task = own_task(*g, id);
    if (!task) return reply(no_task(id));
    if (!json_body(r)) return reply(not_json());
    rapidjson::Document in;
    if (mappings::fhir::read_json(in, r.body, max_body_depth) != mappings::fhir::json_read::ok ||
        !in.IsObject())
      return reply(outcome(400, "invalid",
                           "the body is not a JSON object (UTF-8, nested at most " +
                               std::to_string(max_body_depth) + " levels)"));
    change_task(r, id, *task, in, std::move(reply));
  }

  // PATCH: a JSON Patch (RFC 6902) of the Task as stored makes the Task the group wants; then the
  // same checks and write as PUT. FHIRPath Patch (a Parameters body) is not supported: 415.
  void patch_task(const http_request& r, reply_handler reply) {
    const auto g = group(r);
    if (!g) return reply(not_a_group());
    const std::string id = param(r, "id");
    auto task = own_task(*g, id);
    if (!task) return reply(no_task(id));
    const std::string ct = lower(r.header("content-type"));
    if (ct.substr(0, ct.find(';')) != "application/json-patch+json")
      return reply(outcome(415, "not-supported",
                           "PATCH takes a JSON Patch (Content-Type application/json-patch+json); "
                           "FHIRPath Patch is not supported"));
    rapidjson::Document ops;
    if (mappings::fhir::read_json(ops, r.body, max_body_depth) != mappings::fhir::json_read::ok)
      return reply(outcome(400, "invalid",
                           "the body is not JSON (UTF-8, nested at most " +
                               std::to_string(max_body_depth) + " levels)"));
    if (auto refused = check_task_patch(ops))
      return reply(outcome(refused->status, refused->code, refused->text));
    rapidjson::Document wanted;
    wanted.CopyFrom(task->doc, wanted.GetAllocator());
    if (auto refused = mappings::fhir::apply_patch(wanted, ops, "Task"))
      return reply(outcome(refused->status, refused->code, refused->text));
    // Copies can nest the Task inside itself: what is written back stays within the limit too.
    if (mappings::fhir::json_depth(wanted, max_body_depth) > max_body_depth)
      return reply(outcome(422, "too-costly",
                           "the patched Task would nest deeper than " +
                               std::to_string(max_body_depth) + " levels"));
    change_task(r, id, *task, wanted, std::move(reply));
  }

  // The one place a group changes its follow-up Task (PUT and PATCH): `in` is the Task as the group
  // wants it. It sets the status and what it says about the work (task_group_fields); everything
  // else stays the gateway's (for, focus, owner, code, restriction, reasonReference). The first
  // move to in-progress or completed sets executionPeriod.start, when the group gave none: when
  // contact was made, for the follow-up measure. If-Match (W/"n") makes it conditional on the
  // version the client read; the write is always conditional on the version this change was made
  // from, so that a concurrent change is never overwritten.
  void change_task(const http_request& r, const std::string& id, task_in_hand& task,
                   const rapidjson::Value& in, reply_handler reply) {
    if (!in.HasMember("resourceType") || !in["resourceType"].IsString() ||
        std::string_view(in["resourceType"].GetString()) != "Task")
      return reply(outcome(400, "invalid", "the body is not a Task"));
    if (in.HasMember("id") && (!in["id"].IsString() || in["id"].GetString() != id))
      return reply(outcome(400, "invalid", "Task.id must be the id in the URL"));
    if (!in.HasMember("status") || !in["status"].IsString() ||
        std::find(std::begin(task_statuses), std::end(task_statuses),
                  std::string_view(in["status"].GetString())) == std::end(task_statuses))
      return reply(outcome(422, "invalid",
                           "Task.status must be requested, accepted, rejected, in-progress, "
                           "on-hold, completed, cancelled or failed"));
    std::int64_t expected = 0;
    if (const std::string_view m = r.header("if-match"); !m.empty()) {
      std::string digits;
      for (char ch : m)
        if (ch >= '0' && ch <= '9') digits.push_back(ch);
      if (digits.empty() || digits.size() > 18)
        return reply(outcome(400, "invalid", "If-Match must be W/\"version\""));
      expected = std::stoll(digits);
      if (expected != task.row.version)
        return reply(outcome(412, "conflict", "the Task changed since the version in If-Match"));
    }
    auto& doc = task.doc;
    auto& a = doc.GetAllocator();
    for (std::string_view k : task_group_fields) {
      const rapidjson::Value name(rapidjson::StringRef(k.data(), k.size()));
      if (doc.HasMember(name)) doc.RemoveMember(name);
      if (in.HasMember(name))
        doc.AddMember(rapidjson::Value(k.data(), static_cast<rapidjson::SizeType>(k.size()), a),
                      rapidjson::Value(in[name], a), a);
    }
    const std::string st = doc["status"].GetString();
    const std::string now = alerts::instant_of_us(now_us());
    if (st == "in-progress" || st == "completed") {
      if (!doc.HasMember("executionPeriod") || !doc["executionPeriod"].IsObject()) {
        if (doc.HasMember("executionPeriod")) doc.RemoveMember("executionPeriod");
        doc.AddMember("executionPeriod", rapidjson::Value(rapidjson::kObjectType), a);
      }
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
    const bool if_match = expected != 0;
    messages.update_resource(
        "Task", id, json, task.row.version, [id, json, st, if_match, reply](std::int64_t version) {
          if (version > 0) {
            obs::info("task.updated", {{"task", id}, {"status", st}});
            reply({200, std::string(fhir_json), json,
                   {{"ETag", "W/\"" + std::to_string(version) + "\""}}});
          } else if (version == 0) {
            reply(no_task(id));
          } else if (version == -1 && if_match) {
            reply(outcome(412, "conflict", "the Task changed since the version in If-Match"));
          } else if (version == -1) {
            reply(outcome(409, "conflict",
                          "the Task changed while this change was made; read it and try again"));
          } else {
            reply(outcome(500, "exception", "the Task could not be stored"));
          }
        });
  }

  // --- searches of a group's own alerts' resources ----------------------------------------------

  // GET /fhir/Task and GET /fhir/RiskAssessment: strict handling (an unknown or repeated parameter
  // is 400) unless the client asks `Prefer: handling=lenient` (then ignored, and left out of the
  // self link). Task: status (comma-separated: any of), owner (the group identifier as
  // `system|value` or `value`; any other owner matches nothing), patient; RiskAssessment: patient.
  // _count (default 50, at most 100); no further pages (total says how many match).
  http_response search_alert_resources(const http_request& r, std::string_view type) {
    const auto g = group(r);
    if (!g) return not_a_group();
    const auto params = split_query(r.query);
    if (!params) return outcome(400, "invalid", "the query is not well percent-encoded");
    const bool is_task = type == "Task";
    const bool lenient = lower(r.header("prefer")).find("handling=lenient") != std::string::npos;
    constexpr std::size_t default_count = 50, max_count = 100;
    std::size_t count = default_count;
    std::vector<std::string> statuses;
    std::string patient;
    bool matches_nothing = false;
    std::vector<std::string_view> used;
    std::vector<std::string> seen;
    for (const auto& p : *params) {
      const bool known =
          p.name == "patient" || p.name == "_count" ||
          (is_task && (p.name == "status" || p.name == "owner" || p.name == "owner:identifier"));
      if (!known) {
        if (lenient) continue;
        return outcome(400, "not-supported",
                       std::string(type) + " search: a parameter is not supported (supported: " +
                           (is_task ? "status, owner, patient, _count" : "patient, _count") + ")");
      }
      if (std::find(seen.begin(), seen.end(), p.name) != seen.end())
        return outcome(400, "not-supported",
                       std::string(type) + " search: a parameter is repeated (not supported)");
      seen.push_back(p.name);
      if (p.value.empty()) continue;  // an empty parameter is ignored (FHIR search)
      used.push_back(p.raw);
      if (p.name == "_count") {
        std::size_t n = 0;
        const auto [end, ec] = std::from_chars(p.value.data(), p.value.data() + p.value.size(), n);
        if (ec != std::errc() || end != p.value.data() + p.value.size())
          return outcome(400, "invalid", "_count must be a number");
        count = std::min(n, max_count);
      } else if (p.name == "patient") {
        auto id = mappings::fhir::valid_id(p.value) ? std::optional<std::string>(p.value)
                                                    : patient_of(p.value);
        if (!id) return outcome(400, "invalid", "patient must be Patient/{id} or {id}");
        patient = std::move(*id);
      } else if (p.name == "status") {
        std::string_view rest = p.value;
        while (true) {
          std::string_view code = rest.substr(0, rest.find(','));
          if (const auto bar = code.find('|'); bar != std::string_view::npos)
            code.remove_prefix(bar + 1);  // system|code: Task statuses have one system
          if (!code.empty()) statuses.emplace_back(code);
          if (rest.find(',') == std::string_view::npos) break;
          rest.remove_prefix(rest.find(',') + 1);
        }
      } else {  // owner: only ever the caller's own group
        std::string_view value = p.value;
        if (const auto bar = value.find('|'); bar != std::string_view::npos) {
          const std::string_view system = value.substr(0, bar);
          if (!system.empty() && system != gateway::care::group_identifier_system)
            matches_nothing = true;
          value.remove_prefix(bar + 1);
        }
        if (value != *g) matches_nothing = true;
      }
    }
    store::message_store::resource_page page;
    if (!matches_nothing) page = messages.alert_resources(*g, type, patient, statuses, count);
    const std::string b = base(r);
    std::string self = b + "/" + std::string(type);
    for (std::size_t i = 0; i < used.size(); ++i) {
      self += i == 0 ? '?' : '&';
      self += used[i];
    }
    mappings::fhir::json_out j(1024 + page.resources.size() * 1024);
    j.begin_object();
    j.field("resourceType", "Bundle");
    j.field("type", "searchset");
    j.integer("total", static_cast<long long>(page.total));
    j.begin_array("link");
    j.begin_object();
    j.field("relation", "self");
    j.field("url", self);
    j.end_object();
    j.end_array();
    j.begin_array("entry");
    for (const auto& res : page.resources)
      match_entry(j, b + "/" + res.type + "/" + res.id, resource_with_meta(res));
    j.end_array();
    j.end_object();
    return {200, std::string(fhir_json), j.take(), {}};
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

read_policy group_read_policy(std::function<std::optional<std::string>(const http_request&)> group_of,
                              store::message_store& st) {
  return [group_of = std::move(group_of), &st](const read_request& r,
                                               const store::stored_resource& res) {
    const auto g = group_of ? group_of(r.request) : group_of_request(r.request);
    if (!g) {
      const auto& who = r.request.principal;
      return !who || who->kind == gateway::auth::role::ops ? read_decision::allow
                                                           : read_decision::forbid;
    }
    // A Condition or Coverage is read when its Patient is one the group's alerts name.
    if (r.type == "Condition" || r.type == "Coverage") {
      rapidjson::Document d;
      d.Parse(res.json.data(), res.json.size());
      const rapidjson::Value* ref =
          rapidjson::Pointer(r.type == "Condition" ? "/subject/reference"
                                                   : "/beneficiary/reference")
              .Get(d);
      if (d.HasParseError() || ref == nullptr || !ref->IsString()) return read_decision::hide;
      const auto patient = patient_of({ref->GetString(), ref->GetStringLength()});
      return patient && st.alert_mentions(*g, "Patient", *patient) ? read_decision::allow
                                                                   : read_decision::hide;
    }
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
  server.add_async("PATCH", "/fhir/Task/{id}", [a](const http_request& r, reply_handler reply) {
    a->patch_task(r, std::move(reply));
  });
  server.add("GET", "/fhir/Task",
             [a](const http_request& r) { return a->search_alert_resources(r, "Task"); });
  server.add("GET", "/fhir/RiskAssessment",
             [a](const http_request& r) { return a->search_alert_resources(r, "RiskAssessment"); });
}

}  // namespace carebridge::adapters::fhir_rest
