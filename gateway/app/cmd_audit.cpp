// carebridge audit list | export | prune: the operators' view of the audit trail
// (DATA_DIR/audit.db), readable and prunable beside a running gateway (SQLite WAL: readers never
// wait for its writer).
//   audit list [--since T] [--until T] [--client ID] [--group ID] [--entity Type[/id]]
//              [--limit N] [--json]          oldest first, 100 unless --limit
//   audit export --since T --until T [--format ndjson]
//                                            every record of the interval as one FHIR AuditEvent
//                                            per line (SIEM import)
//   audit prune --before T                   deletes the records older than T
// All take --data-dir DIR (else the config's data_dir with --config FILE, else ./carebridge-data).
// Records hold ids and codes only (never PHI), so everything is printed as stored.
#include "gateway/alerts/subscription.hpp"
#include "gateway/app/cli.hpp"
#include "gateway/app/json_output.hpp"
#include "gateway/audit/audit_event.hpp"
#include "gateway/audit/audit_log.hpp"
#include "gateway/config/config.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <ostream>

namespace carebridge::app {

namespace {

namespace audit = gateway::audit;

constexpr std::string_view usage =
    "usage: carebridge audit list [--since T] [--until T] [--client ID] [--group ID]\n"
    "                             [--entity Type[/id]] [--limit N] [--json]\n"
    "       carebridge audit export --since T --until T [--format ndjson]\n"
    "       carebridge audit prune --before T\n"
    "  each with [--data-dir DIR | --config FILE]; T: YYYY-MM-DD (UTC) or YYYY-MM-DDThh:mm:ssZ\n"
    "  (or +hh:mm); --until and --before are exclusive\n";

struct audit_args {
  std::string data_dir, config_file;
  audit::audit_filter filter;
  std::optional<std::int64_t> before;
  std::string format = "ndjson";
  bool json = false;
};

// Parses the options after the subcommand; nullopt (and a line on `err`) on a usage error.
std::optional<audit_args> parse(const std::vector<std::string>& args, std::string_view command,
                                std::ostream& err) {
  audit_args o;
  o.filter.limit = 100;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      o.json = true;
      continue;
    }
    if (i + 1 >= args.size()) {
      err << "carebridge audit " << command << ": " << a
          << (a.starts_with("--") ? " needs a value or is unknown\n" : ": unexpected argument\n")
          << usage;
      return std::nullopt;
    }
    const std::string& v = args[++i];
    if (a == "--data-dir") {
      o.data_dir = v;
    } else if (a == "--config") {
      o.config_file = v;
    } else if (a == "--since" || a == "--until" || a == "--before") {
      const auto t = time_us(v);
      if (!t) {
        err << "carebridge audit " << command << ": " << a
            << " needs a time: YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ (or +hh:mm)\n";
        return std::nullopt;
      }
      (a == "--since" ? o.filter.since_us : a == "--until" ? o.filter.until_us : o.before) = *t;
    } else if (a == "--client") {
      o.filter.client_id = v;
    } else if (a == "--group") {
      o.filter.group = v;
    } else if (a == "--entity") {
      const auto slash = v.find('/');
      o.filter.entity_type = v.substr(0, slash);
      if (slash != std::string::npos) o.filter.entity_id = v.substr(slash + 1);
      if (o.filter.entity_type.empty() ||
          (slash != std::string::npos && o.filter.entity_id.empty())) {
        err << "carebridge audit " << command << ": --entity takes Type or Type/id\n";
        return std::nullopt;
      }
    } else if (a == "--limit") {
      std::int64_t n = 0;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || end != v.data() + v.size() || n <= 0) {
        err << "carebridge audit " << command << ": --limit needs a positive number\n";
        return std::nullopt;
      }
      o.filter.limit = static_cast<std::size_t>(n);
    } else if (a == "--format") {
      o.format = v;
    } else {
      err << "carebridge audit " << command << ": unknown option " << a << '\n' << usage;
      return std::nullopt;
    }
  }
  return o;
}

std::optional<std::filesystem::path> data_dir(const audit_args& o, std::string_view command,
                                              std::ostream& err) {
  if (!o.data_dir.empty()) return std::filesystem::path(o.data_dir);
  gateway::config::config c;
  try {
    if (!o.config_file.empty()) c = gateway::config::load_file(o.config_file);
  } catch (const std::exception& e) {
    err << "carebridge audit " << command << ": " << e.what() << '\n';
    return std::nullopt;
  }
  return c.data_dir;
}

std::string who(const audit::audit_record& r) {
  std::string s = r.client_id.empty() ? "-" : r.client_id;
  s += " (" + r.role + (r.group.empty() ? "" : " " + r.group) + ")";
  return s;
}

std::string what(const audit::audit_record& r) {
  std::string s = r.entity_type;
  if (!r.entity_id.empty()) s += "/" + r.entity_id;
  if (!r.query.empty()) s += "?" + r.query;
  if (r.last_event > 0)
    s += " events " + std::to_string(r.first_event) + ".." + std::to_string(r.last_event);
  if (!r.endpoint.empty()) s += " -> " + r.endpoint;
  return s.empty() ? "-" : s;
}

int list(const audit_args& o, audit::audit_log& log, std::ostream& out) {
  const auto rows = log.query(o.filter);
  if (o.json) {
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    w.StartArray();
    for (const auto& r : rows) {
      w.StartObject();
      w.Key("id");
      w.Int64(r.id);
      const std::string time = audit::instant_text(r.time_us);
      const std::string action(1, r.action);
      string_members(w, {{"time", &time},
                         {"client_id", &r.client_id},
                         {"role", &r.role},
                         {"group", &r.group},
                         {"address", &r.address},
                         {"action", &action},
                         {"subtype", &r.subtype},
                         {"entity_type", &r.entity_type},
                         {"entity_id", &r.entity_id},
                         {"query", &r.query}});
      w.Key("status");
      w.Uint(r.status);
      w.Key("outcome");
      w.Int(r.outcome);
      string_members(w, {{"subscription_id", &r.subscription_id}});
      w.Key("first_event");
      w.Int64(r.first_event);
      w.Key("last_event");
      w.Int64(r.last_event);
      string_members(w, {{"endpoint", &r.endpoint}, {"detail", &r.detail}});
      w.EndObject();
    }
    w.EndArray();
    out << buf.GetString() << '\n';
    return exit_ok;
  }
  if (rows.empty()) {
    out << "no audit records\n";
    return exit_ok;
  }
  out << "id       time                         action subtype              status who / what\n";
  for (const auto& r : rows) {
    char line[160];
    std::snprintf(line, sizeof line, "%-8lld %-28s %-6c %-20s %6u ", static_cast<long long>(r.id),
                  audit::instant_text(r.time_us).c_str(), r.action, r.subtype.c_str(), r.status);
    out << line << who(r) << "  " << what(r);
    if (!r.detail.empty()) out << "  [" << r.detail << ']';
    out << '\n';
  }
  if (rows.size() == o.filter.limit)
    out << "(the first " << o.filter.limit << " shown: --limit N or --since for more)\n";
  return exit_ok;
}

int export_ndjson(audit_args o, audit::audit_log& log, std::ostream& out) {
  o.filter.limit = 1000;
  for (;;) {
    const auto rows = log.query(o.filter);
    for (const auto& r : rows) out << audit::audit_event_json(r) << '\n';
    if (rows.size() < o.filter.limit) break;
    o.filter.after_id = rows.back().id;
  }
  out.flush();
  return out ? exit_ok : exit_internal;
}

}  // namespace

int cmd_audit(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const std::string command = args.empty() ? "" : args[0];
  if (command != "list" && command != "export" && command != "prune") {
    err << usage;
    return exit_input;
  }
  auto o = parse(args, command, err);
  if (!o) return exit_input;
  if (command == "export") {
    if (!o->filter.since_us || !o->filter.until_us) {
      err << "carebridge audit export: --since and --until are needed\n";
      return exit_input;
    }
    if (o->format != "ndjson") {
      err << "carebridge audit export: the only --format is ndjson\n";
      return exit_input;
    }
  }
  if (command == "prune" && !o->before) {
    err << "carebridge audit prune: --before T is needed\n";
    return exit_input;
  }
  const auto dir = data_dir(*o, command, err);
  if (!dir) return exit_input;
  if (!std::filesystem::exists(*dir / "audit.db")) {
    err << "carebridge audit " << command << ": no audit trail in " << dir->string()
        << " (audit.db not found)\n";
    return exit_input;
  }
  try {
    audit::audit_log::options lo;
    lo.read_only = command != "prune";
    auto log = audit::audit_log::open(*dir, lo);
    if (command == "list") return list(*o, *log, out);
    if (command == "export") return export_ndjson(*o, *log, out);
    const std::int64_t n = log->prune(*o->before);
    out << "pruned " << n << " audit record" << (n == 1 ? "" : "s") << " before "
        << audit::instant_text(*o->before) << '\n';
    return exit_ok;
  } catch (const std::exception& e) {
    err << "carebridge audit " << command << ": " << e.what() << '\n';
    return exit_internal;
  }
}

}  // namespace carebridge::app
