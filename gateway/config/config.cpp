#include "gateway/config/config.hpp"

#include <algorithm>

#include "mappings/hl7v2/charset.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace carebridge::gateway::config {

namespace {

using value = rapidjson::Value;

// Walks one JSON object, refusing keys nobody asked for.
class object_reader {
 public:
  object_reader(const value& v, std::string path, const std::string& file)
      : v_(v), path_(std::move(path)), file_(file) {
    if (!v.IsObject()) fail(path_.empty() ? "the top level must be a JSON object" : "must be an object");
  }

  [[noreturn]] void fail(const std::string& what, const std::string& key = {}) const {
    std::string where = path_;
    if (!key.empty()) where += (where.empty() ? "" : ".") + key;
    throw config_error("config " + file_ + ": " + (where.empty() ? "" : where + ": ") + what);
  }

  const value* get(const char* key) {
    seen_.insert(key);
    const auto it = v_.FindMember(key);
    return it == v_.MemberEnd() ? nullptr : &it->value;
  }

  void text(const char* key, std::string& out) {
    if (const value* v = get(key)) {
      if (!v->IsString()) fail("must be a string", key);
      out.assign(v->GetString(), v->GetStringLength());
    }
  }
  void boolean(const char* key, bool& out) {
    if (const value* v = get(key)) {
      if (!v->IsBool()) fail("must be true or false", key);
      out = v->GetBool();
    }
  }
  template <typename T>
  void positive(const char* key, T& out, std::uint64_t max = UINT32_MAX) {
    if (const value* v = get(key)) {
      if (!v->IsUint64() || v->GetUint64() == 0 || v->GetUint64() > max)
        fail("must be a whole number from 1 to " + std::to_string(max), key);
      out = static_cast<T>(v->GetUint64());
    }
  }
  void seconds(const char* key, double& out) {
    if (const value* v = get(key)) {
      if (!v->IsNumber() || !(v->GetDouble() > 0) || v->GetDouble() > 86400 * 7)
        fail("must be a number of seconds above 0 (at most a week)", key);
      out = v->GetDouble();
    }
  }
  void strings(const char* key, std::vector<std::string>& out) {
    if (const value* v = get(key)) {
      if (!v->IsArray()) fail("must be an array of strings", key);
      out.clear();
      for (const auto& s : v->GetArray()) {
        if (!s.IsString()) fail("must be an array of strings", key);
        out.emplace_back(s.GetString(), s.GetStringLength());
      }
    }
  }
  object_reader child(const char* key, const value& v) { return {v, sub(key), file_}; }
  std::string sub(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  /// Fails on the first key that was never asked for.
  void done() const {
    for (const auto& m : v_.GetObject()) {
      const std::string k(m.name.GetString(), m.name.GetStringLength());
      if (!seen_.count(k)) fail("unknown key '" + k + "'");
    }
  }

 private:
  const value& v_;
  std::string path_;
  const std::string& file_;
  std::set<std::string> seen_;
};

tls_config read_tls(object_reader& parent, const value& v, const std::string& file) {
  object_reader r = parent.child("tls", v);
  tls_config t;
  r.text("certificate", t.certificate);
  r.text("private_key", t.private_key);
  r.text("client_ca", t.client_ca);
  r.boolean("require_client_certificate", t.require_client_certificate);
  r.done();
  if (t.certificate.empty() || t.private_key.empty())
    r.fail("certificate and private_key are both needed");
  for (const std::string* f : {&t.certificate, &t.private_key, &t.client_ca})
    if (!f->empty() && !std::filesystem::exists(*f)) r.fail("file not found: " + *f);
  (void)file;
  return t;
}

// A JSON object of string → string (identifier systems, code systems).
void string_map(object_reader& parent, const char* key,
                std::map<std::string, std::string, std::less<>>& out) {
  const value* v = parent.get(key);
  if (v == nullptr) return;
  if (!v->IsObject()) parent.fail("must be an object of strings", key);
  for (const auto& m : v->GetObject()) {
    if (!m.value.IsString() || m.value.GetStringLength() == 0)
      parent.fail("values must be non-empty strings", key);
    out.emplace(std::string(m.name.GetString(), m.name.GetStringLength()),
                std::string(m.value.GetString(), m.value.GetStringLength()));
  }
}

mappings::fhir::sender_profile read_facility(const value& v, const std::string& path,
                                             const std::string& file) {
  namespace mf = mappings::fhir;
  object_reader r(v, path, file);
  mf::sender_profile p;
  std::string tz;
  r.text("time_zone", tz);
  if (!tz.empty()) {
    auto z = mf::zone::locate(tz);
    if (!z) r.fail("unknown IANA time zone '" + tz + "'", "time_zone");
    p.time_zone = *z;
  }
  string_map(r, "identifier_systems", p.identifier_systems);
  if (const value* t = r.get("identifier_systems_by_type")) {
    if (!t->IsObject()) r.fail("must be an object of objects", "identifier_systems_by_type");
    object_reader by_type(*t, r.sub("identifier_systems_by_type"), file);
    for (const auto& m : t->GetObject()) {
      const std::string type(m.name.GetString(), m.name.GetStringLength());
      string_map(by_type, type.c_str(), p.identifier_systems_by_type[type]);
    }
  }
  r.text("practitioner_system", p.practitioner_system);
  string_map(r, "code_systems", p.code_systems);
  if (const value* o = r.get("code_overrides")) {
    if (!o->IsObject()) r.fail("must be an object of tables", "code_overrides");
    const std::vector<std::string> known = mf::code_tables::builtin().tables();
    p.tables = mf::code_tables::builtin();
    for (const auto& t : o->GetObject()) {
      const std::string table(t.name.GetString(), t.name.GetStringLength());
      const std::string where = r.sub("code_overrides." + table);
      if (std::find(known.begin(), known.end(), table) == known.end())
        throw config_error("config " + file + ": " + where + ": unknown code table");
      if (!t.value.IsObject()) throw config_error("config " + file + ": " + where + ": must be an object");
      for (const auto& row : t.value.GetObject()) {
        const std::string code(row.name.GetString(), row.name.GetStringLength());
        object_reader c(row.value, where + "." + code, file);
        if (!row.value.IsObject()) c.fail("must be an object with system, code and display");
        mf::coding target;
        c.text("system", target.system);
        c.text("code", target.code);
        c.text("display", target.display);
        c.done();
        if (target.code.empty()) c.fail("a code is needed", "code");
        if (target.system.empty() && table != mf::table::coding_system) c.fail("a system is needed", "system");
        p.tables.set(table, code, std::move(target));
      }
    }
    p.has_tables = true;
  }
  r.done();
  return p;
}

}  // namespace

host_port parse_host_port(const std::string& text, const std::string& what) {
  host_port hp;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw config_error(what + ": expected HOST:PORT or [IPv6]:PORT, got '" + text + "'");
    hp.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0)
      throw config_error(what + ": expected HOST:PORT, got '" + text + "'");
    hp.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned v = 0;
  const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (port.empty() || ec != std::errc{} || p != port.data() + port.size() || v > 65535)
    throw config_error(what + ": port must be a number from 0 to 65535, got '" + port + "'");
  hp.port = static_cast<std::uint16_t>(v);
  if (hp.host == "localhost") hp.host = "127.0.0.1";
  return hp;
}

config load_text(const std::string& json, const std::string& name) {
  rapidjson::Document doc;
  // Comments (// and /* */) are allowed so that a config file can explain itself.
  doc.Parse<rapidjson::kParseCommentsFlag>(json.c_str(), json.size());
  if (doc.HasParseError())
    throw config_error("config " + name + ": not valid JSON at byte " +
                       std::to_string(doc.GetErrorOffset()) + ": " +
                       rapidjson::GetParseError_En(doc.GetParseError()));
  config c;
  object_reader top(doc, "", name);
  std::string data_dir;
  top.text("data_dir", data_dir);
  if (!data_dir.empty()) c.data_dir = data_dir;
  top.text("log_level", c.log_level);
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error")
    top.fail("must be one of debug, info, warn, error", "log_level");
  top.seconds("shutdown_grace_seconds", c.shutdown_grace_seconds);
  top.positive("threads", c.threads, 256);

  if (const value* v = top.get("mllp")) {
    object_reader m = top.child("mllp", *v);
    std::string listen;
    m.text("listen", listen);
    if (!listen.empty()) c.mllp.listen = parse_host_port(listen, "config " + name + ": mllp.listen");
    m.positive("max_frame_bytes", c.mllp.max_frame_bytes, 1u << 30);
    m.positive("max_connections", c.mllp.max_connections, 1'000'000);
    m.positive("max_connections_per_peer", c.mllp.max_connections_per_peer, 1'000'000);
    m.seconds("idle_timeout_seconds", c.mllp.idle_timeout_seconds);
    m.seconds("frame_timeout_seconds", c.mllp.frame_timeout_seconds);
    m.seconds("ack_write_timeout_seconds", c.mllp.ack_write_timeout_seconds);
    m.seconds("handshake_timeout_seconds", c.mllp.handshake_timeout_seconds);
    m.boolean("tcp_keepalive", c.mllp.tcp_keepalive);
    m.boolean("release2_commit_bytes", c.mllp.release2_commit_bytes);
    m.text("fallback_charset", c.mllp.fallback_charset);
    if (!c.mllp.fallback_charset.empty() &&
        !mappings::hl7v2::charset_from_name(c.mllp.fallback_charset))
      m.fail("unknown character set '" + c.mllp.fallback_charset + "'", "fallback_charset");
    if (const value* t = m.get("tls")) c.mllp.tls = read_tls(m, *t, name);
    m.done();
  }
  if (const value* v = top.get("http")) {
    object_reader h = top.child("http", *v);
    std::string listen;
    h.text("listen", listen);
    if (!listen.empty()) c.http.listen = parse_host_port(listen, "config " + name + ": http.listen");
    if (const value* t = h.get("tls")) c.http.tls = read_tls(h, *t, name);
    h.done();
  }
  if (const value* v = top.get("store")) {
    object_reader s = top.child("store", *v);
    s.positive("max_batch", c.store.max_batch, 100'000);
    s.boolean("fsync", c.store.fsync);
    s.boolean("spin_during_sync", c.store.spin_during_sync);
    s.done();
  }
  if (const value* v = top.get("audit")) {
    object_reader a = top.child("audit", *v);
    a.positive("retention_days", c.audit.retention_days, 36'500);
    a.done();
  }
  if (const value* v = top.get("care")) {
    object_reader cr = top.child("care", *v);
    std::string weights;
    cr.text("lace_weights", weights);
    if (!weights.empty()) {
      bool known = false;
      for (auto w : {risk::weight_set::lace, risk::weight_set::charlson_1987,
                     risk::weight_set::quan_2011})
        if (risk::to_string(w) == weights) {
          c.care.lace_weights = w;
          known = true;
        }
      if (!known) cr.fail("is lace, charlson-1987 or quan-2011", "lace_weights");
    }
    cr.done();
  }
  if (const value* v = top.get("senders")) {
    if (!v->IsArray()) top.fail("must be an array of sender objects", "senders");
    std::size_t i = 0;
    for (const auto& item : v->GetArray()) {
      object_reader s(item, "senders[" + std::to_string(i++) + "]", name);
      ingest::sender_rule r;
      s.text("name", r.name);
      if (r.name.empty()) s.fail("a name is needed", "name");
      s.strings("facilities", r.facilities);
      s.strings("certificate_names", r.certificate_names);
      s.strings("addresses", r.addresses);
      std::string cs;
      s.text("fallback_charset", cs);
      if (!cs.empty()) {
        auto parsed = mappings::hl7v2::charset_from_name(cs);
        if (!parsed) s.fail("unknown character set '" + cs + "'", "fallback_charset");
        r.fallback_charset = *parsed;
      }
      s.done();
      c.senders.push_back(std::move(r));
    }
    try {
      ingest::sender_policy check(c.senders);
    } catch (const std::invalid_argument& e) {
      throw config_error("config " + name + ": senders: " + e.what());
    }
  }
  if (const value* v = top.get("notify")) {
    object_reader n = top.child("notify", *v);
    n.text("ca_file", c.notify.ca_file);
    n.text("certificate", c.notify.certificate);
    n.text("private_key", c.notify.private_key);
    if (c.notify.certificate.empty() != c.notify.private_key.empty())
      n.fail("certificate and private_key go together", "certificate");
    if (const value* w = n.get("attempt_timeout_seconds")) {
      if (!w->IsNumber() || w->GetDouble() < 1 || w->GetDouble() > 120)
        n.fail("must be a number of seconds from 1 to 120", "attempt_timeout_seconds");
      c.notify.attempt_timeout_seconds = w->GetDouble();
    }
    std::size_t threshold = c.notify.failure_threshold;
    n.positive("failure_threshold", threshold, 1000);
    c.notify.failure_threshold = static_cast<unsigned>(threshold);
    n.positive("backoff_initial_ms", c.notify.backoff_initial_ms, 3'600'000);
    n.positive("backoff_max_ms", c.notify.backoff_max_ms, 3'600'000);
    if (c.notify.backoff_initial_ms > c.notify.backoff_max_ms)
      n.fail("must not be above backoff_max_ms", "backoff_initial_ms");
    n.done();
  }
  if (const value* v = top.get("group_clients")) {
    if (!v->IsArray()) top.fail("must be an array of client objects", "group_clients");
    std::size_t i = 0;
    for (const auto& item : v->GetArray()) {
      object_reader g(item, "group_clients[" + std::to_string(i++) + "]", name);
      group_client gc;
      g.text("name", gc.name);
      if (gc.name.empty()) g.fail("a name is needed", "name");
      g.text("group", gc.group);
      if (gc.group.empty()) g.fail("a group (the roster's group_id) is needed", "group");
      g.strings("certificate_names", gc.certificate_names);
      g.strings("addresses", gc.addresses);
      // A client with no condition would be every caller: refused.
      if (gc.certificate_names.empty() && gc.addresses.empty())
        g.fail("needs certificate_names or addresses", "certificate_names");
      for (const auto& a : gc.addresses)
        if (!ingest::valid_cidr(a)) g.fail("'" + a + "' is not an IP address or CIDR block", "addresses");
      g.done();
      c.group_clients.push_back(std::move(gc));
    }
  }
  if (const value* v = top.get("facilities")) {
    if (!v->IsObject()) top.fail("must be an object keyed by sending facility (MSH-4.1)", "facilities");
    for (const auto& m : v->GetObject()) {
      const std::string facility(m.name.GetString(), m.name.GetStringLength());
      if (!m.value.IsObject())
        throw config_error("config " + name + ": facilities." + facility + ": must be an object");
      c.facilities.emplace(facility, read_facility(m.value, "facilities." + facility, name));
    }
  }
  // --- FHIR REST API ("fhir") -------------------------------------------------------------------
  if (const value* v = top.get("fhir")) {
    object_reader f = top.child("fhir", *v);
    f.text("default_facility", c.fhir.default_facility);
    if (c.fhir.default_facility.empty()) f.fail("must not be empty", "default_facility");
    f.positive("max_body_bytes", c.fhir.max_body_bytes, 1u << 30);
    f.positive("max_entries", c.fhir.max_entries, 100'000);
    f.text("base_url", c.fhir.base_url);
    if (!c.fhir.base_url.empty() && !c.fhir.base_url.starts_with("https://") &&
        !c.fhir.base_url.starts_with("http://"))
      f.fail("must be an absolute http(s) URL", "base_url");
    while (c.fhir.base_url.ends_with('/')) c.fhir.base_url.pop_back();
    if (const value* w = f.get("processing_wait_seconds")) {
      if (!w->IsNumber() || w->GetDouble() < 0 || w->GetDouble() > 60)
        f.fail("must be a number of seconds from 0 to 60", "processing_wait_seconds");
      c.fhir.processing_wait_seconds = w->GetDouble();
    }
    f.boolean("allow_insecure_loopback_endpoints", c.fhir.allow_insecure_loopback_endpoints);
    f.done();
  }
  // --- end FHIR ----------------------------------------------------------------------------------
  if (const value* v = top.get("auth")) {
    object_reader a = top.child("auth", *v);
    a.text("mode", c.auth.mode);
    if (c.auth.mode != "smart" && c.auth.mode != "certificate")
      a.fail("must be \"smart\" or \"certificate\"", "mode");
    if (const value* w = a.get("token_lifetime_seconds")) {
      if (!w->IsNumber() || w->GetDouble() < 30 || w->GetDouble() > 3600)
        a.fail("must be a number of seconds from 30 to 3600", "token_lifetime_seconds");
      c.auth.token_lifetime_seconds = w->GetDouble();
    }
    a.text("token_url", c.auth.token_url);
    if (!c.auth.token_url.empty() && !c.auth.token_url.starts_with("https://") &&
        !c.auth.token_url.starts_with("http://"))
      a.fail("must be an absolute http(s) URL", "token_url");
    a.text("jwks_ca_file", c.auth.jwks_ca_file);
    a.boolean("allow_insecure_loopback_jwks", c.auth.allow_insecure_loopback_jwks);
    a.done();
  }
  top.done();
  return c;
}

config load_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw config_error("config " + file.string() + ": cannot be read");
  std::ostringstream s;
  s << in.rdbuf();
  return load_text(s.str(), file.string());
}

}  // namespace carebridge::gateway::config
