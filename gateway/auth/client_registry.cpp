#include "gateway/auth/client_registry.hpp"

#include "gateway/auth/jose.hpp"
#include "gateway/auth/scopes.hpp"
#include "gateway/members/sqlite_util.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <stdexcept>

namespace carebridge::gateway::auth {

namespace sq = members::sqlite;

namespace {

constexpr int schema_version = 1;

constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS clients_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clients(
  client_id TEXT PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN ('group', 'sender', 'ops')),
  group_id TEXT NOT NULL DEFAULT '',
  facilities TEXT NOT NULL DEFAULT '',         -- one per line
  scopes TEXT NOT NULL,
  jwks TEXT NOT NULL DEFAULT '',
  jwks_url TEXT NOT NULL DEFAULT '',
  certificate_names TEXT NOT NULL DEFAULT '',  -- one per line
  enabled INTEGER NOT NULL DEFAULT 1,
  revision INTEGER NOT NULL DEFAULT 1,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL
);
)sql";

std::string join_lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out.push_back('\n');
    out += s;
  }
  return out;
}

std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const auto nl = s.find('\n');
    out.emplace_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f;
  });
}

std::int64_t seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

constexpr const char* select_sql =
    "SELECT client_id, role, group_id, facilities, scopes, jwks, jwks_url, certificate_names, "
    "enabled, revision, created, updated FROM clients";

registered_client read_row(const sq::stmt& s) {
  registered_client c;
  c.client_id = s.column_string(0);
  c.kind = parse_role(s.column(1)).value_or(role::group);
  c.group = s.column_string(2);
  c.facilities = split_lines(s.column(3));
  c.scopes = s.column_string(4);
  c.jwks = s.column_string(5);
  c.jwks_url = s.column_string(6);
  c.certificate_names = split_lines(s.column(7));
  c.enabled = s.column_int(8) != 0;
  c.revision = s.column_int(9);
  c.created = s.column_int(10);
  c.updated = s.column_int(11);
  return c;
}

}  // namespace

std::optional<role> parse_role(std::string_view name) {
  if (name == "group") return role::group;
  if (name == "sender") return role::sender;
  if (name == "ops") return role::ops;
  return std::nullopt;
}

bool acceptable_jwks_url(std::string_view url, bool allow_insecure_loopback) {
  std::string_view rest;
  bool tls = true;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://") && allow_insecure_loopback) {
    rest = url.substr(7);
    tls = false;
  } else {
    return false;
  }
  if (url.size() > 2048) return false;
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return false;
  if (url.find('#') != std::string_view::npos) return false;
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;
  std::string_view host = authority;
  if (host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    host = host.substr(0, close + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (host.empty()) return false;
  if (tls) return true;
  return host == "localhost" || host == "[::1]" || host.starts_with("127.");
}

std::vector<std::string> validate(const registered_client& c, bool allow_insecure_loopback) {
  std::vector<std::string> problems;
  if (c.client_id.empty() || c.client_id.size() > 128 ||
      !std::all_of(c.client_id.begin(), c.client_id.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '-' || ch == '_' || ch == '.' || ch == ':';
      }))
    problems.emplace_back("client id: 1-128 characters of A-Z a-z 0-9 - _ . :");
  switch (c.kind) {
    case role::group:
      if (c.group.empty()) problems.emplace_back("a group client needs its group (--group)");
      if (!c.facilities.empty()) problems.emplace_back("facilities are for sender clients only");
      break;
    case role::sender:
      if (c.facilities.empty())
        problems.emplace_back("a sender client needs its facilities (--facility)");
      if (!c.group.empty()) problems.emplace_back("a group is for group clients only");
      break;
    case role::ops:
      if (!c.group.empty() || !c.facilities.empty())
        problems.emplace_back("an ops client has no group or facilities");
      break;
  }
  for (const auto& f : c.facilities)
    if (f.empty() || has_control(f)) problems.emplace_back("a facility is empty or has controls");
  if (has_control(c.group)) problems.emplace_back("the group id has control characters");
  std::vector<std::string> unknown;
  const scope_set scopes = parse_scopes(c.scopes, &unknown);
  for (const auto& u : unknown) problems.push_back("scope not understood: " + u.substr(0, 80));
  if (scopes.empty() && unknown.empty()) problems.emplace_back("no scope (--scope)");
  if (c.jwks.empty() == c.jwks_url.empty()) {
    problems.emplace_back("exactly one of a JWK Set (--jwks) and a JWKS URL (--jwks-url)");
  } else if (!c.jwks.empty()) {
    const auto set = parse_jwks(c.jwks);
    if (!set)
      problems.push_back("JWK Set: " + set.error().message());
    else if (set->keys.empty())
      problems.emplace_back("JWK Set: no usable RS384 or ES384 public key");
  } else if (!acceptable_jwks_url(c.jwks_url, allow_insecure_loopback)) {
    problems.emplace_back(allow_insecure_loopback
                              ? "JWKS URL: must be https (http only to loopback)"
                              : "JWKS URL: must be an https URL without user info or fragment");
  }
  for (const auto& n : c.certificate_names)
    if (n.empty() || has_control(n))
      problems.emplace_back("a certificate name is empty or has controls");
  return problems;
}

client_registry::client_registry(const std::filesystem::path& file,
                                 std::chrono::milliseconds recheck)
    : recheck_(recheck) {
  if (sqlite3_open_v2(file.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("clients.db: cannot open " + file.string() + ": " + msg);
  }
  try {
    sqlite3_busy_timeout(db_, 10000);
    sq::exec(db_, "PRAGMA journal_mode=WAL");
    sq::exec(db_, "PRAGMA synchronous=NORMAL");
    {
      sq::transaction t(db_, true);
      sq::exec(db_, schema_sql);
      sq::stmt get(db_, "SELECT value FROM clients_meta WHERE key = 'schema'");
      if (get.row()) {
        const std::string v = get.column_string(0);
        if (std::atoi(v.c_str()) > schema_version)
          throw std::runtime_error("clients.db: schema " + v + " is newer than this carebridge (" +
                                   std::to_string(schema_version) + ")");
      } else {
        sq::stmt put(db_, "INSERT INTO clients_meta(key, value) VALUES ('schema', ?1)");
        put.text(1, std::to_string(schema_version)).run();
      }
      get.reset();
      t.commit();
    }
    std::lock_guard lock(db_mu_);
    reload_locked();
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

client_registry::~client_registry() {
  sqlite3_close(db_);
}

void client_registry::reload_locked() const {
  {
    sq::stmt v(db_, "PRAGMA data_version");
    if (v.row()) data_version_ = v.column_int(0);
  }
  auto next = std::make_shared<snapshot>();
  sq::transaction t(db_, false);
  sq::stmt s(db_, select_sql);
  while (s.row()) {
    auto c = std::make_shared<registered_client>(read_row(s));
    std::string id = c->client_id;
    next->emplace(std::move(id), std::move(c));
  }
  s.reset();
  t.commit();
  checked_ = std::chrono::steady_clock::now();
  std::lock_guard lock(snap_mu_);
  snap_ = std::move(next);
}

void client_registry::maybe_reload() const {
  // One thread checks; the others use the snapshot they have rather than wait for it.
  std::unique_lock lock(db_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - checked_ < recheck_) return;
  checked_ = now;
  try {
    sq::stmt v(db_, "PRAGMA data_version");
    const std::int64_t dv = v.row() ? v.column_int(0) : -1;
    v.reset();
    if (dv != data_version_) reload_locked();
  } catch (const std::exception&) {
    // A busy or damaged file: keep serving the snapshot we have; the next check tries again.
  }
}

std::shared_ptr<const registered_client> client_registry::find(std::string_view client_id) const {
  maybe_reload();
  std::shared_ptr<const snapshot> snap;
  {
    std::lock_guard lock(snap_mu_);
    snap = snap_;
  }
  const auto it = snap->find(std::string(client_id));
  return it == snap->end() ? nullptr : it->second;
}

std::vector<registered_client> client_registry::list() const {
  std::lock_guard lock(db_mu_);
  std::vector<registered_client> out;
  sq::stmt s(db_, (std::string(select_sql) + " ORDER BY client_id").c_str());
  while (s.row()) out.push_back(read_row(s));
  return out;
}

void client_registry::put(const registered_client& c, std::chrono::system_clock::time_point now) {
  std::lock_guard lock(db_mu_);
  const std::string facilities = join_lines(c.facilities);
  const std::string names = join_lines(c.certificate_names);
  const std::string role_text(role_name(c.kind));
  const std::int64_t t = seconds(now);
  {
    sq::transaction tx(db_, true);
    sq::stmt s(db_,
               "INSERT INTO clients(client_id, role, group_id, facilities, scopes, jwks, jwks_url, "
               "certificate_names, enabled, revision, created, updated) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?10) "
               "ON CONFLICT(client_id) DO UPDATE SET role = excluded.role, "
               "group_id = excluded.group_id, facilities = excluded.facilities, "
               "scopes = excluded.scopes, jwks = excluded.jwks, jwks_url = excluded.jwks_url, "
               "certificate_names = excluded.certificate_names, enabled = excluded.enabled, "
               "revision = clients.revision + 1, updated = excluded.updated");
    s.text(1, c.client_id)
        .text(2, role_text)
        .text(3, c.group)
        .text(4, facilities)
        .text(5, c.scopes)
        .text(6, c.jwks)
        .text(7, c.jwks_url)
        .text(8, names)
        .int64(9, c.enabled ? 1 : 0)
        .int64(10, t)
        .run();
    tx.commit();
  }
  reload_locked();
}

bool client_registry::set_enabled(std::string_view client_id, bool enabled,
                                  std::chrono::system_clock::time_point now) {
  std::lock_guard lock(db_mu_);
  bool changed = false;
  {
    sq::transaction tx(db_, true);
    sq::stmt s(db_,
               "UPDATE clients SET enabled = ?2, revision = revision + 1, updated = ?3 "
               "WHERE client_id = ?1");
    s.text(1, client_id).int64(2, enabled ? 1 : 0).int64(3, seconds(now)).run();
    changed = sqlite3_changes(db_) > 0;
    tx.commit();
  }
  reload_locked();
  return changed;
}

bool client_registry::remove(std::string_view client_id) {
  std::lock_guard lock(db_mu_);
  bool changed = false;
  {
    sq::transaction tx(db_, true);
    sq::stmt s(db_, "DELETE FROM clients WHERE client_id = ?1");
    s.text(1, client_id).run();
    changed = sqlite3_changes(db_) > 0;
    tx.commit();
  }
  reload_locked();
  return changed;
}

}  // namespace carebridge::gateway::auth
