#include "adapters/fhir_rest/fhir_api.hpp"

#include "adapters/fhir_rest/fhir_http.hpp"

#include "gateway/alerts/subscription.hpp"
#include "gateway/alerts/topics.hpp"
#include "gateway/obs/log.hpp"
#include "mappings/fhir/fhir_ingest.hpp"
#include "mappings/fhir/fhir_json.hpp"
#include "mappings/hl7v2/ack.hpp"

#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <array>
#include <chrono>
#include <ctime>
#include <memory>

namespace carebridge::adapters::fhir_rest {

namespace asio = boost::asio;
namespace fhir = mappings::fhir;
namespace obs = gateway::obs;
namespace store = gateway::store;
using fhir::fhir_route;
using mappings::hl7v2::disposition;

namespace {

constexpr std::string_view plain_json = "application/json; charset=utf-8";

/// The types GET /fhir/{type}/{id} serves: what either input path stores, and the care stage's
/// RiskAssessments.
constexpr std::array<std::string_view, 12> readable_types = {
    "Patient",     "Encounter",    "Condition",    "Coverage",      "Procedure",     "Observation",
    "Organization", "Location",    "Practitioner", "RelatedPerson", "RiskAssessment", "Task"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// Splits on `sep`, trimming each part.
std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const std::size_t p = s.find(sep);
    out.push_back(trim(s.substr(0, p)));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string sha256_hex(std::string_view a, std::string_view b) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, a.data(), a.size());
  EVP_DigestUpdate(ctx, "\n", 1);
  EVP_DigestUpdate(ctx, b.data(), b.size());
  EVP_DigestFinal_ex(ctx, md.data(), &n);
  EVP_MD_CTX_free(ctx);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 0x0F]);
  }
  return out;
}

std::tm utc(std::int64_t us) {
  const std::time_t t = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

/// FHIR instant, UTC, milliseconds: "2026-11-04T16:52:03.123Z".
std::string instant(std::int64_t us) {
  const std::tm tm = utc(us);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((us / 1000) % 1000));
  return buf;
}

/// RFC 9110 HTTP-date: "Wed, 04 Nov 2026 16:52:03 GMT".
std::string http_date(std::int64_t us) {
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::tm tm = utc(us);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
                tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::string etag(std::int64_t version) {
  return "W/\"" + std::to_string(version) + "\"";
}

std::string_view reason_phrase(unsigned status) {
  switch (status) {
    case 200:
      return "200 OK";
    case 201:
      return "201 Created";
    default:
      return "200 OK";
  }
}

/// A stored resource as served: meta.versionId and meta.lastUpdated from the store.
std::string with_meta(const store::stored_resource& r) {
  rapidjson::Document d;
  d.Parse(r.json.data(), r.json.size());
  if (d.HasParseError() || !d.IsObject()) return r.json;
  auto& a = d.GetAllocator();
  rapidjson::Value out(rapidjson::kObjectType);
  rapidjson::Value meta(rapidjson::kObjectType);
  const std::string version = std::to_string(r.version);
  const std::string updated = instant(r.last_updated_us);
  meta.AddMember("versionId", rapidjson::Value(version.c_str(), a), a);
  meta.AddMember("lastUpdated", rapidjson::Value(updated.c_str(), a), a);
  if (auto m = d.FindMember("meta"); m != d.MemberEnd() && m->value.IsObject()) {
    for (auto& x : m->value.GetObject()) {
      const std::string_view k(x.name.GetString(), x.name.GetStringLength());
      if (k != "versionId" && k != "lastUpdated") meta.AddMember(x.name, x.value, a);
    }
  }
  bool placed = false;
  for (auto& x : d.GetObject()) {
    const std::string_view k(x.name.GetString(), x.name.GetStringLength());
    if (k == "meta") continue;
    out.AddMember(x.name, x.value, a);
    if (k == "id") {
      out.AddMember("meta", meta, a);
      placed = true;
    }
  }
  if (!placed) out.AddMember("meta", meta, a);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  out.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// ---- content negotiation -----------------------------------------------------------------------

/// Content-Type of a request body: FHIR JSON or JSON, UTF-8.
bool acceptable_body(std::string_view content_type) {
  const auto parts = split(content_type, ';');
  const std::string media = lower(parts[0]);
  if (media != "application/fhir+json" && media != "application/json") return false;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const std::string p = lower(parts[i]);
    if (p.starts_with("charset=") && p != "charset=utf-8" && p != "charset=\"utf-8\"") return false;
  }
  return true;
}

/// The media type of the answer, or nullopt when the client accepts neither FHIR JSON nor JSON
/// (`_format` overrides Accept).
std::optional<std::string_view> answer_type(const http_request& r) {
  if (auto f = r.query_param("_format")) {
    const std::string v = lower(*f);
    if (v == "json" || v == "application/fhir+json") return fhir_json;
    if (v == "application/json") return plain_json;
    return std::nullopt;
  }
  const std::string_view accept = r.header("accept");
  if (trim(accept).empty()) return fhir_json;
  bool fhir = false, json = false;
  for (std::string_view range : split(accept, ',')) {
    const auto parts = split(range, ';');
    const std::string media = lower(parts[0]);
    bool excluded = false;
    for (std::size_t i = 1; i < parts.size(); ++i) {
      const std::string p = lower(parts[i]);
      if (p.starts_with("q=")) excluded = std::strtod(p.c_str() + 2, nullptr) <= 0.0;
    }
    if (excluded) continue;
    if (media == "application/fhir+json" || media == "*/*" || media == "application/*") fhir = true;
    if (media == "application/json") json = true;
  }
  if (fhir) return fhir_json;
  if (json) return plain_json;
  return std::nullopt;
}

enum class prefer_return : std::uint8_t { none, minimal, representation, outcome };

prefer_return prefer_of(const http_request& r) {
  for (std::string_view token : split(r.header("prefer"), ',')) {
    for (std::string_view part : split(token, ';')) {
      const std::string p = lower(part);
      if (p == "return=minimal") return prefer_return::minimal;
      if (p == "return=representation") return prefer_return::representation;
      if (p == "return=operationoutcome") return prefer_return::outcome;
    }
  }
  return prefer_return::none;
}

std::string base_url(const http_request& r, const fhir_api_options& o) {
  if (!o.base_url.empty()) return o.base_url;
  const std::string_view host = r.header("host");
  if (host.empty() || host.find_first_of(" /\\\r\n") != std::string_view::npos) return "/fhir";
  return std::string(r.connection.tls ? "https://" : "http://") + std::string(host) + "/fhir";
}

// ---- the stored answer -------------------------------------------------------------------------

/// What an accepted request was answered, kept as the record's `ack` so a resend gets it again:
/// the HTTP status and, per input entry, the resource it became and whether it was new.
struct answer_summary {
  unsigned status = 200;
  std::string bundle_type;
  struct entry {
    std::string type;
    std::string id;        // empty: left out
    bool created = false;  // did not exist before this request
    std::int64_t version = 1;
  };
  std::vector<entry> entries;

  std::string to_json() const {
    fhir::json_out j;
    j.begin_object();
    j.integer("status", status);
    j.field("bundle_type", bundle_type);
    j.begin_array("entries");
    for (const entry& e : entries) {
      j.begin_object();
      j.field("type", e.type);
      j.field("id", e.id);
      if (!e.id.empty()) {
        j.boolean("created", e.created);
        j.integer("version", e.version);
      }
      j.end_object();
    }
    j.end_array();
    j.end_object();
    return j.take();
  }
  static std::optional<answer_summary> from_json(std::string_view json) {
    rapidjson::Document d;
    d.Parse(json.data(), json.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("status") || !d["status"].IsUint())
      return std::nullopt;
    answer_summary s;
    s.status = d["status"].GetUint();
    if (d.HasMember("bundle_type") && d["bundle_type"].IsString())
      s.bundle_type = d["bundle_type"].GetString();
    if (d.HasMember("entries") && d["entries"].IsArray()) {
      for (const auto& e : d["entries"].GetArray()) {
        if (!e.IsObject()) continue;
        entry x;
        if (e.HasMember("type") && e["type"].IsString()) x.type = e["type"].GetString();
        if (e.HasMember("id") && e["id"].IsString()) x.id = e["id"].GetString();
        if (e.HasMember("created") && e["created"].IsBool()) x.created = e["created"].GetBool();
        if (e.HasMember("version") && e["version"].IsInt64()) x.version = e["version"].GetInt64();
        s.entries.push_back(std::move(x));
      }
    }
    return s;
  }
};

// ---- the API -----------------------------------------------------------------------------------

struct api : std::enable_shared_from_this<api> {
  api(fhir_api_ports p, fhir_api_options o)
      : ports(std::move(p)),
        options(std::move(o)),
        strand(asio::make_strand(ports.executor)),
        inputs(
            ports.metrics.counters("carebridge_fhir_inputs_total",
                                   "FHIR requests to the input routes, by route and disposition")),
        reads(ports.metrics.counters("carebridge_fhir_reads_total", "FHIR reads by outcome")) {}

  // One request to an input route, from its arrival to its answer.
  struct job {
    fhir_route route;
    std::string url_id;
    std::string message_type, control_id, facility;  // for the log
    reply_handler reply;
    std::string base;
    std::string_view answer_type = fhir_json;
    prefer_return prefer = prefer_return::none;
    std::vector<mappings::fhir::resource_json> resources;  // accepted: what the pipeline will store
    answer_summary summary;
    std::chrono::steady_clock::time_point deadline;
    std::unique_ptr<asio::steady_timer> timer;
    std::chrono::milliseconds delay{1};
  };

  void ingest(const http_request& r, reply_handler reply, fhir_route route);
  void refuse(std::shared_ptr<job> j, store::inbound_record rec, const fhir::fhir_input_error& e);
  void committed(std::shared_ptr<job> j, store::commit_result res, disposition d,
                 fhir::fhir_input_error refusal);
  void wait_processed(std::shared_ptr<job> j);
  http_response answer(const job& j) const;
  http_response read(const http_request& r) const;
  http_response metadata(const http_request& r) const;
  void count(fhir_route route, std::string_view what) {
    static constexpr std::array<std::string_view, 4> names = {
        "bundle", "encounter-create", "encounter-update", "process-message"};
    inputs
        .series(
            obs::labels({{"route", names[static_cast<std::size_t>(route)]}, {"disposition", what}}))
        .inc();
  }

  fhir_api_ports ports;
  fhir_api_options options;
  asio::strand<asio::any_io_executor> strand;
  obs::registry::family<obs::counter>& inputs;
  obs::registry::family<obs::counter>& reads;
};

void api::ingest(const http_request& r, reply_handler reply, fhir_route route) {
  auto j = std::make_shared<job>();
  j->route = route;
  j->reply = std::move(reply);
  j->base = base_url(r, options);
  j->prefer = prefer_of(r);
  if (route == fhir_route::encounter_update)
    j->url_id = r.params.count("id") ? r.params.at("id") : "";

  store::inbound_record rec;
  rec.sending_application = "FHIR";
  rec.message_type = fhir::store_type(route, j->url_id);
  rec.peer = r.connection.describe();
  rec.raw = r.body;
  rec.received_at_us = now_us();

  // Who is sending, for which facility: the principal's registration (a SMART sender client), else
  // the sender rules the connection matches.
  const gateway::ingest::sender_grant grant = ports.senders.grant(r.connection);
  const auto& who = r.principal;
  const bool by_principal = who && who->by_token;
  const bool is_sender = by_principal ? who->kind == gateway::auth::role::sender
                                      : grant.open || !grant.rules.empty();
  rec.sender = by_principal ? who->client_id : std::string(grant.sender_name());
  std::string facility;
  {
    std::vector<std::string_view> named;
    auto add = [&named](const std::string& f) {
      if (f != "*" && std::find(named.begin(), named.end(), f) == named.end()) named.push_back(f);
    };
    if (by_principal) {
      for (const std::string& f : who->facilities) add(f);
    } else {
      for (const auto* rule : grant.rules)
        for (const std::string& f : rule->facilities) add(f);
    }
    const bool default_allowed =
        by_principal ? who->may_send_for(options.default_facility) : grant.allows(options.default_facility);
    if (named.size() == 1) {
      facility = std::string(named[0]);
    } else if (default_allowed) {
      facility = options.default_facility;
    }
  }
  rec.sending_facility = facility;
  rec.control_id = sha256_hex(rec.message_type, rec.raw);
  j->message_type = rec.message_type;
  j->control_id = rec.control_id;
  j->facility = facility;

  // Media types first: a body we cannot read as FHIR JSON is refused before it is parsed.
  const auto type = answer_type(r);
  if (!acceptable_body(r.header("content-type")))
    return refuse(j, std::move(rec),
                  {415,
                   "not-supported",
                   "Content-Type must be application/fhir+json or application/json (UTF-8)",
                   {}});
  if (!type)
    return refuse(j, std::move(rec),
                  {406,
                   "not-supported",
                   "only application/fhir+json and application/json can be answered",
                   {}});
  j->answer_type = *type;
  if (!is_sender)
    return refuse(j, std::move(rec),
                  {403, "forbidden", "this client is not a registered sender", {}});
  if (facility.empty())
    return refuse(
        j, std::move(rec),
        {403,
         "forbidden",
         "the sender is registered for several facilities and the default FHIR facility is "
         "not one of them",
         {}});
  if (route == fhir_route::encounter_update && !fhir::valid_id(j->url_id))
    return refuse(j, std::move(rec),
                  {400, "invalid", "the id in the URL is not a valid FHIR id", {}});

  fhir::fhir_input_options fo;
  fo.facility = facility;
  fo.encounter_id = j->url_id;
  fo.control_id = rec.control_id;
  fo.max_entries = options.max_entries;
  if (auto it = ports.facilities.find(facility); it != ports.facilities.end())
    fo.sender = &it->second;
  auto converted = fhir::from_fhir(rec.raw, route, fo);
  if (!converted) return refuse(j, std::move(rec), converted.error());

  // The answer, decided now and stored with the request: per entry, new or existing, and the
  // version the pipeline's write will give it.
  answer_summary& s = j->summary;
  s.bundle_type = converted->bundle_type;
  std::map<std::pair<std::string, std::string>, answer_summary::entry> seen;
  for (const auto& res : converted->resources) {
    answer_summary::entry e{res.type, res.id, true, 1};
    if (const auto cur = ports.store.read_resource(res.type, res.id)) {
      e.created = false;
      e.version = cur->version + (cur->json == res.json ? 0 : 1);
    }
    seen.emplace(std::make_pair(res.type, res.id), e);
  }
  for (const auto& in : converted->entries) {
    auto it = seen.find({in.type, in.id});
    s.entries.push_back(it != seen.end() ? it->second
                                         : answer_summary::entry{in.type, {}, false, 0});
  }
  switch (route) {
    case fhir_route::bundle:
    case fhir_route::process_message:
      s.status = 200;
      break;
    case fhir_route::encounter_create:
    case fhir_route::encounter_update:
      s.status = !s.entries.empty() && s.entries[0].created ? 201 : 200;
      break;
  }
  j->resources = std::move(converted->resources);
  rec.state = store::message_state::pending;
  rec.ack_code = std::to_string(s.status);
  rec.ack = s.to_json();
  auto self = shared_from_this();
  ports.store.submit(std::move(rec), [self, j](store::commit_result res) {
    // On the writer thread: hand the stored request to the pipeline at once, as ingest does.
    if (res.what == store::commit_result::outcome::stored && self->ports.on_accepted) {
      self->ports.on_accepted(store::take_stored(res));
    }
    asio::post(self->strand, [self, j, res = std::move(res)]() mutable {
      self->committed(j, std::move(res), disposition::accepted, {});
    });
  });
}

void api::refuse(std::shared_ptr<job> j, store::inbound_record rec,
                 const fhir::fhir_input_error& e) {
  rec.state = store::message_state::rejected;
  rec.reason = "HTTP " + std::to_string(e.status) + " " + e.code + ": " + e.diagnostics +
               (e.expression.empty() ? std::string() : " (" + e.expression + ")");
  rec.ack_code = std::to_string(e.status);
  rec.ack = fhir::operation_outcome(e);
  obs::info("fhir.rejected", {{"route", rec.message_type},
                              {"control_id", rec.control_id},
                              {"facility", rec.sending_facility},
                              {"status", e.status},
                              {"reason", e.diagnostics}});
  auto self = shared_from_this();
  ports.store.submit(std::move(rec), [self, j, e](store::commit_result res) {
    asio::post(self->strand, [self, j, e, res = std::move(res)]() mutable {
      self->committed(j, std::move(res), disposition::rejected, e);
    });
  });
}

void api::committed(std::shared_ptr<job> j, store::commit_result res, disposition d,
                    fhir::fhir_input_error refusal) {
  if (res.what == store::commit_result::outcome::failed) {
    obs::error("fhir.store_failed",
               {{"route", j->message_type}, {"control_id", j->control_id}, {"error", res.error}});
    d = disposition::errored;
  }
  const bool duplicate = res.what == store::commit_result::outcome::duplicate;
  if (duplicate) {
    // A resend of an accepted request: the stored answer, again.
    if (auto s = answer_summary::from_json(res.ack)) j->summary = std::move(*s);
  }
  // The one place where the disposition becomes HTTP.
  switch (d) {
    case disposition::accepted:
      count(j->route, duplicate ? "duplicate" : "accepted");
      obs::info("fhir.accepted", {{"route", j->message_type},
                                  {"control_id", j->control_id},
                                  {"facility", j->facility},
                                  {"id", res.id},
                                  {"duplicate", duplicate},
                                  {"status", j->summary.status}});
      if (duplicate || options.processing_wait.count() <= 0) {
        j->reply(answer(*j));
        return;
      }
      j->deadline = std::chrono::steady_clock::now() + options.processing_wait;
      j->timer = std::make_unique<asio::steady_timer>(strand);
      wait_processed(std::move(j));
      return;
    case disposition::rejected:
      count(j->route, "rejected");
      j->reply(outcome(refusal.status, refusal.code, refusal.diagnostics, refusal.expression));
      return;
    case disposition::errored:
      count(j->route, "errored");
      j->reply(outcome(503, "transient", "the request could not be stored; send it again"));
      return;
  }
}

/// Polls until every resource of the request reads back as the pipeline will write it (or the
/// deadline passes), so that a client can read what it sent once it has the 2xx.
void api::wait_processed(std::shared_ptr<job> j) {
  bool ready = true;
  for (const auto& res : j->resources) {
    const auto cur = ports.store.read_resource(res.type, res.id);
    if (!cur || cur->json != res.json) {
      ready = false;
      break;
    }
  }
  if (ready || std::chrono::steady_clock::now() >= j->deadline) {
    if (!ready)
      obs::warn("fhir.answer_before_processing", {{"wait_ms", options.processing_wait.count()}});
    j->reply(answer(*j));
    return;
  }
  j->timer->expires_after(j->delay);
  j->delay = std::min(j->delay * 2, std::chrono::milliseconds(25));
  auto self = shared_from_this();
  j->timer->async_wait(
      [self, j](boost::system::error_code) mutable { self->wait_processed(std::move(j)); });
}

http_response api::answer(const job& j) const {
  const answer_summary& s = j.summary;
  http_response out{s.status, std::string(j.answer_type), {}, {}};
  auto current = [&](const answer_summary::entry& e) {
    return ports.store.read_resource(e.type, e.id);
  };
  auto info = [&](std::string text) {
    return fhir::operation_outcome({s.status, "informational", std::move(text), {}}, "information");
  };
  switch (j.route) {
    case fhir_route::bundle: {
      if (j.prefer == prefer_return::outcome) {
        std::size_t stored = 0;
        for (const auto& e : s.entries) stored += e.id.empty() ? 0u : 1u;
        out.body = info(std::to_string(stored) + " of " + std::to_string(s.entries.size()) +
                        " entries stored");
        return out;
      }
      fhir::json_out b;
      b.begin_object();
      b.field("resourceType", "Bundle");
      b.field("type", s.bundle_type == "batch" ? "batch-response" : "transaction-response");
      b.begin_array("entry");
      for (const auto& e : s.entries) {
        b.begin_object();
        if (e.id.empty()) {
          b.begin_object("response");
          b.field("status", "200 OK");
          b.key("outcome");
          b.raw(fhir::operation_outcome(
              {200,
               "not-supported",
               "resources of this type are not kept by the gateway; not stored",
               {}},
              "warning"));
          b.end_object();
          b.end_object();
          continue;
        }
        const auto cur = current(e);
        const std::int64_t version = cur ? cur->version : e.version;
        if (j.prefer == prefer_return::representation && cur) {
          b.field("fullUrl", j.base + "/" + e.type + "/" + e.id);
          b.key("resource");
          b.raw(with_meta(*cur));
        }
        b.begin_object("response");
        b.field("status", reason_phrase(e.created ? 201 : 200));
        b.field("location", e.type + "/" + e.id + "/_history/" + std::to_string(version));
        b.field("etag", etag(version));
        if (cur) b.field("lastModified", instant(cur->last_updated_us));
        b.end_object();
        b.end_object();
      }
      b.end_array();
      b.end_object();
      out.body = b.take();
      return out;
    }
    case fhir_route::encounter_create:
    case fhir_route::encounter_update: {
      if (s.entries.empty() || s.entries[0].id.empty()) return out;
      const auto& e = s.entries[0];
      const auto cur = current(e);
      const std::int64_t version = cur ? cur->version : e.version;
      out.headers.emplace_back(
          "Location", j.base + "/Encounter/" + e.id + "/_history/" + std::to_string(version));
      out.headers.emplace_back("ETag", etag(version));
      if (cur) out.headers.emplace_back("Last-Modified", http_date(cur->last_updated_us));
      if (j.prefer == prefer_return::minimal) return out;
      if (j.prefer == prefer_return::outcome) {
        out.body = info(e.created ? "Encounter created" : "Encounter updated");
        return out;
      }
      if (cur) {
        out.body = with_meta(*cur);
      } else {
        // Not yet processed (the pipeline is behind): what it will store, without meta.
        for (const auto& r : j.resources)
          if (r.type == e.type && r.id == e.id) out.body = r.json;
      }
      return out;
    }
    case fhir_route::process_message:
      if (j.prefer == prefer_return::minimal) return out;
      out.body = info("notification accepted");
      return out;
  }
  return out;
}

http_response api::read(const http_request& r) const {
  const auto type = answer_type(r);
  if (!type)
    return outcome(406, "not-supported",
                   "only application/fhir+json and application/json can be answered");
  const std::string& rt = r.params.at("type");
  const std::string& id = r.params.at("id");
  auto counted = [&](std::string_view what, http_response resp) {
    reads.series(obs::labels({{"outcome", what}})).inc();
    return resp;
  };
  if (std::find(readable_types.begin(), readable_types.end(), rt) == readable_types.end())
    return counted("unknown_type",
                   outcome(404, "not-supported", "this resource type is not served"));
  if (!fhir::valid_id(id)) return counted("bad_id", outcome(400, "invalid", "not a valid FHIR id"));
  const auto res = ports.store.read_resource(rt, id);
  if (!res) return counted("not_found", outcome(404, "not-found", "no such resource"));
  // The access check (issue 7 fills in the per-organization policy).
  const read_decision decision =
      options.can_read ? options.can_read({r, rt, id}, *res)
                       : read_decision::allow;
  switch (decision) {
    case read_decision::allow:
      break;
    case read_decision::forbid:
      return counted("forbidden", outcome(403, "forbidden", "not allowed to read this resource"));
    case read_decision::hide:
      return counted("hidden", outcome(404, "not-found", "no such resource"));
  }
  http_response out{200, std::string(*type), {}, {}};
  out.headers.emplace_back("ETag", etag(res->version));
  out.headers.emplace_back("Last-Modified", http_date(res->last_updated_us));
  if (const std::string_view inm = r.header("if-none-match");
      !inm.empty() && inm == etag(res->version)) {
    out.status = 304;
    return counted("not_modified", std::move(out));
  }
  out.body = with_meta(*res);
  return counted("ok", std::move(out));
}

http_response api::metadata(const http_request& r) const {
  const auto type = answer_type(r);
  if (!type)
    return outcome(406, "not-supported",
                   "only application/fhir+json and application/json can be answered");
  fhir::json_out j;
  j.begin_object();
  j.field("resourceType", "CapabilityStatement");
  j.field("id", "carebridge");
  j.field("name", "CareBridgeGateway");
  j.field("title", "CareBridge gateway FHIR API");
  j.field("status", "active");
  j.field("date", "2026-12-01");
  j.field("publisher", "CareBridge");
  j.field(
      "description",
      "Accepts hospital encounters (transaction/batch Bundles, Encounter create/update, Da Vinci "
      "admit/discharge/transfer notifications) and serves the resources it stores by id.");
  j.field("kind", "instance");
  j.begin_array("instantiates");
  j.str("http://hl7.org/fhir/us/davinci-alerts/CapabilityStatement/notification-receiver");
  j.end_array();
  j.begin_object("software");
  j.field("name", "CareBridge");
  j.field("version", "0.1.0");
  j.end_object();
  j.begin_object("implementation");
  j.field("description", "CareBridge HL7 v2 / FHIR R4 gateway");
  j.field("url", base_url(r, options));
  j.end_object();
  j.field("fhirVersion", "4.0.1");
  j.begin_array("format");
  j.str("application/fhir+json");
  j.str("json");
  j.end_array();
  j.begin_array("rest");
  j.begin_object();
  j.field("mode", "server");
  j.field(
      "documentation",
      "Inputs are stored durably before the answer; resource ids are derived from identifiers "
      "(a resource sent by a hospital is stored under the gateway's id, given in Location). Only "
      "Patient, Encounter, Condition, Coverage, Procedure, Observation, Organization, Location "
      "and Practitioner are kept from inputs; other resources are left out with a warning.");
  j.begin_object("security");
  if (options.smart_security) {
    std::string token = options.token_endpoint;
    if (token.empty()) {
      const std::string b = base_url(r, options);
      token = b.substr(0, b.size() - std::string_view("/fhir").size()) + "/auth/token";
    }
    j.begin_array("extension");
    j.begin_object();
    j.field("url", "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris");
    j.begin_array("extension");
    j.begin_object();
    j.field("url", "token");
    j.field("valueUri", token);
    j.end_object();
    j.end_array();
    j.end_object();
    j.end_array();
    j.begin_array("service");
    j.begin_object();
    j.begin_array("coding");
    j.begin_object();
    j.field("system", "http://terminology.hl7.org/CodeSystem/restful-security-service");
    j.field("code", "SMART-on-FHIR");
    j.end_object();
    j.end_array();
    j.end_object();
    j.end_array();
    j.field("description",
            "TLS. SMART Backend Services (client_credentials with a private_key_jwt assertion, "
            "RS384 or ES384; discovery at .well-known/smart-configuration): every interaction but "
            "this CapabilityStatement needs a bearer token; a physician group sees only what its "
            "own alerts name.");
  } else {
    j.field("description",
            "TLS; client certificates (mutual TLS) or addresses identify hospitals and groups.");
  }
  j.end_object();
  j.begin_array("resource");
  for (std::string_view t : readable_types) {
    j.begin_object();
    j.field("type", t);
    j.begin_array("interaction");
    j.begin_object();
    j.field("code", "read");
    j.end_object();
    if (t == "Encounter") {
      j.begin_object();
      j.field("code", "create");
      j.end_object();
    }
    // Task, RiskAssessment: a group updates and searches its own (subscription_api.hpp).
    const bool group_task = t == "Task" && options.advertise_subscriptions;
    const bool group_search =
        group_task || (t == "RiskAssessment" && options.advertise_subscriptions);
    if (t == "Encounter" || group_task) {
      j.begin_object();
      j.field("code", "update");
      j.end_object();
    }
    if (group_task) {
      j.begin_object();
      j.field("code", "patch");
      j.end_object();
    }
    if (group_search) {
      j.begin_object();
      j.field("code", "search-type");
      j.end_object();
    }
    j.end_array();
    j.field("versioning", "versioned");
    j.boolean("readHistory", false);
    if (t == "Encounter") j.boolean("updateCreate", true);
    if (group_search) {
      j.begin_array("searchParam");
      if (group_task) {
        j.begin_object();
        j.field("name", "status");
        j.field("type", "token");
        j.field("documentation", "comma-separated: any of");
        j.end_object();
        j.begin_object();
        j.field("name", "owner");
        j.field("type", "reference");
        j.field("documentation",
                "the caller's group identifier (system|value or value); no other group's Tasks");
        j.end_object();
      }
      j.begin_object();
      j.field("name", "patient");
      j.field("type", "reference");
      j.end_object();
      j.end_array();
    }
    j.end_object();
  }
  if (options.advertise_subscriptions) {
    // R4 Backport: the topics are listed by canonical on Subscription, and served as Basic.
    j.begin_object();
    j.key("extension");
    j.raw(gateway::alerts::capability_topic_extensions_json());
    j.field("type", "Subscription");
    j.field("profile", gateway::alerts::subscription_profile);
    j.begin_array("interaction");
    for (std::string_view c : {"create", "read", "update", "delete", "search-type"}) {
      j.begin_object();
      j.field("code", c);
      j.end_object();
    }
    j.end_array();
    j.begin_array("searchParam");
    for (std::string_view p : {"_id", "status"}) {
      j.begin_object();
      j.field("name", p);
      j.field("type", "token");
      j.end_object();
    }
    j.end_array();
    j.begin_array("operation");
    j.begin_object();
    j.field("name", "status");
    j.field("definition",
            "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status");
    j.end_object();
    j.begin_object();
    j.field("name", "events");
    j.field("definition",
            "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-events");
    j.end_object();
    j.end_array();
    j.end_object();
    j.begin_object();
    j.field("type", "Basic");
    j.field("documentation", "CareBridge's SubscriptionTopics (R5 cross-version extensions)");
    j.begin_array("interaction");
    j.begin_object();
    j.field("code", "read");
    j.end_object();
    j.end_array();
    j.end_object();
  }
  if (options.advertise_audit) {
    j.begin_object();
    j.field("type", "AuditEvent");
    j.field("documentation", "The audit trail, for operators only (SMART clients of role ops)");
    j.begin_array("interaction");
    for (std::string_view c : {"read", "search-type"}) {
      j.begin_object();
      j.field("code", c);
      j.end_object();
    }
    j.end_array();
    j.begin_array("searchParam");
    for (const auto& [name, param_type] :
         std::initializer_list<std::pair<std::string_view, std::string_view>>{
             {"date", "date"}, {"agent", "token"}, {"entity", "reference"},
             {"entity-type", "token"}, {"action", "token"}, {"outcome", "token"},
             {"subtype", "token"}}) {
      j.begin_object();
      j.field("name", name);
      j.field("type", param_type);
      j.end_object();
    }
    j.end_array();
    j.end_object();
  }
  j.end_array();
  j.begin_array("interaction");
  for (std::string_view c : {"transaction", "batch"}) {
    j.begin_object();
    j.field("code", c);
    j.end_object();
  }
  j.end_array();
  j.begin_array("operation");
  j.begin_object();
  j.field("name", "process-message");
  j.field("definition", "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message");
  j.end_object();
  j.end_array();
  j.end_object();
  j.end_array();
  j.end_object();
  return {200, std::string(*type), j.take(), {}};
}

}  // namespace

std::string resource_with_meta(const store::stored_resource& r) {
  return with_meta(r);
}

void register_fhir_api(http_server& server, fhir_api_ports ports, fhir_api_options options) {
  auto a = std::make_shared<api>(std::move(ports), std::move(options));
  auto input = [a](fhir_route which) {
    return [a, which](const http_request& r, reply_handler reply) {
      a->ingest(r, std::move(reply), which);
    };
  };
  server.add_async("POST", "/fhir", input(fhir_route::bundle));
  server.add_async("POST", "/fhir/Encounter", input(fhir_route::encounter_create));
  server.add_async("PUT", "/fhir/Encounter/{id}", input(fhir_route::encounter_update));
  server.add_async("POST", "/fhir/$process-message", input(fhir_route::process_message));
  server.add("GET", "/fhir/metadata", [a](const http_request& r) { return a->metadata(r); });
  server.add("GET", "/fhir/{type}/{id}", [a](const http_request& r) { return a->read(r); });
  server.set_error_formatter("/fhir", [](unsigned status, std::string_view text) {
    std::string code = "processing";
    switch (status) {
      case 404:
        code = "not-found";
        break;
      case 405:
        code = "not-supported";
        break;
      case 413:
        code = "too-long";
        break;
      case 500:
        code = "exception";
        break;
      case 503:
        code = "transient";
        break;
      default:
        code = "invalid";
        break;
    }
    return outcome(status, code, std::string(text));
  });
}

}  // namespace carebridge::adapters::fhir_rest
