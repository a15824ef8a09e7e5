// carebridge roster import|stats and carebridge group list|set: the member roster and the physician
// groups in DATA_DIR/members.db (gateway/members/roster.hpp). Output carries counts, line numbers,
// member and group ids, never a member's demographics.
//
// Exit status of `roster import`: 0 every row applied; 3 some rows were skipped (each reported on
// stderr) and the rest applied; 1 usage error, or nothing could be read (no file, no header, no
// valid row: nothing is applied); 2 the member database failed.
#include "gateway/app/cli.hpp"
#include "gateway/config/config.hpp"
#include "gateway/members/roster.hpp"

#include <cstdio>
#include <ctime>
#include <ostream>

namespace carebridge::app {

inline constexpr int exit_rows_skipped = 3;

namespace {

namespace gm = gateway::members;

// Options every roster/group command takes: where the database is.
struct db_options {
  std::string data_dir, config_file;
};

// Takes --data-dir/--config at args[i] (and its value); true if it was one of them.
bool take_db_option(const std::vector<std::string>& args, std::size_t& i, db_options& o,
                    std::ostream& err, std::string_view command, bool& failed) {
  std::string* target = args[i] == "--data-dir" ? &o.data_dir
                        : args[i] == "--config" ? &o.config_file
                                                : nullptr;
  if (target == nullptr) return false;
  if (i + 1 == args.size()) {
    err << "carebridge " << command << ": " << args[i] << " needs a value\n";
    failed = true;
    return true;
  }
  *target = args[++i];
  return true;
}

// DATA_DIR/members.db: --data-dir, else the config file's data_dir, else the built-in default.
std::optional<std::filesystem::path> members_db(const db_options& o, std::ostream& err,
                                                std::string_view command) {
  gateway::config::config c;
  try {
    if (!o.config_file.empty()) c = gateway::config::load_file(o.config_file);
  } catch (const std::exception& e) {
    err << "carebridge " << command << ": " << e.what() << '\n';
    return std::nullopt;
  }
  const std::filesystem::path dir =
      o.data_dir.empty() ? c.data_dir : std::filesystem::path(o.data_dir);
  return dir / "members.db";
}

std::string today() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

constexpr std::string_view import_usage =
    "usage: carebridge roster import FILE [--data-dir DIR] [--config FILE] [--source NAME]\n"
    "                                [--as-of YYYY-MM-DD] [--dry-run] [--allow-empty]\n";

int roster_import(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  db_options dbo;
  std::string file, source = "default", as_of;
  bool dry_run = false, allow_empty = false, failed = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (take_db_option(args, i, dbo, err, "roster import", failed)) {
      if (failed) return exit_input;
    } else if (a == "--dry-run") {
      dry_run = true;
    } else if (a == "--allow-empty") {
      allow_empty = true;
    } else if ((a == "--source" || a == "--as-of") && i + 1 < args.size()) {
      (a == "--source" ? source : as_of) = args[++i];
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      err << "carebridge roster import: unknown option " << a << '\n' << import_usage;
      return exit_input;
    } else if (file.empty()) {
      file = a;
    } else {
      err << "carebridge roster import: one FILE only (a directory reads its *.ndjson files)\n";
      return exit_input;
    }
  }
  if (file.empty()) {
    err << import_usage;
    return exit_input;
  }
  if (source.empty()) {
    err << "carebridge roster import: --source needs a name\n";
    return exit_input;
  }
  if (as_of.empty()) as_of = today();
  if (!gm::is_valid_date(as_of)) {
    err << "carebridge roster import: --as-of is not a YYYY-MM-DD date\n";
    return exit_input;
  }
  const auto db_file = members_db(dbo, err, "roster import");
  if (!db_file) return exit_input;

  gm::roster_batch batch;
  try {
    batch = gm::read_roster_path(file);
  } catch (const std::exception& e) {
    err << "carebridge roster import: " << e.what() << '\n';
    return exit_input;
  }
  const std::filesystem::path base = std::filesystem::is_directory(file)
                                         ? std::filesystem::path(file)
                                         : std::filesystem::path(file).parent_path();
  for (const auto& p : batch.problems)
    err << "roster: " << (p.file.empty() ? file : (base / p.file).string()) << ':' << p.line << ": "
        << p.message << '\n';
  if (batch.members.empty() && (!allow_empty || !batch.problems.empty())) {
    err << "carebridge roster import: " << file
        << (batch.problems.empty() ? ": no members (an empty roster would drop every member of "
                                     "the source; --allow-empty to mean it)"
                                   : ": no member could be read")
        << "; nothing applied\n";
    return exit_input;
  }

  gm::import_summary s;
  try {
    auto db = gm::roster_db::open(*db_file);
    s = dry_run ? db->plan(batch, source, as_of) : db->apply(batch, source, as_of);
  } catch (const std::exception& e) {
    err << "carebridge roster import: " << e.what() << '\n';
    return exit_internal;
  }
  out << (dry_run ? "dry run (nothing written): " : "") << "roster import " << file << " ("
      << batch.format << ", source " << source << ", as of " << as_of << ")\n"
      << "rows         " << batch.rows_read << " read, " << s.rows_skipped << " skipped\n"
      << "members      " << s.members_new << " new, " << s.members_changed << " changed, "
      << s.members_unchanged << " unchanged, " << s.members_dropped << " dropped\n"
      << "attributions " << s.attributions_new << " new, " << s.attributions_changed << " changed, "
      << s.attributions_ended << " ended\n"
      << "groups       " << s.groups_new << " new\n"
      << "version      " << s.version << (dry_run ? " (after the import)" : "") << '\n';
  return s.rows_skipped > 0 ? exit_rows_skipped : exit_ok;
}

int roster_stats(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  db_options dbo;
  bool failed = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (take_db_option(args, i, dbo, err, "roster stats", failed)) {
      if (failed) return exit_input;
      continue;
    }
    err << "carebridge roster stats: unexpected argument " << args[i] << '\n';
    return exit_input;
  }
  const auto db_file = members_db(dbo, err, "roster stats");
  if (!db_file) return exit_input;
  if (!std::filesystem::exists(*db_file)) {
    err << "carebridge roster stats: no member database at " << db_file->string()
        << " (carebridge roster import first)\n";
    return exit_input;
  }
  gm::roster_stats s;
  const std::string date = today();
  try {
    s = gm::roster_db::open(*db_file)->stats(date, 5);
  } catch (const std::exception& e) {
    err << "carebridge roster stats: " << e.what() << '\n';
    return exit_internal;
  }
  out << "members                " << s.members << "  (" << s.members_current
      << " listed by a source's latest import)\n"
      << "attributions active    " << s.attributions_active << "  (on " << date << ")\n"
      << "groups                 " << s.groups << '\n'
      << "roster version         " << s.version << '\n';
  if (s.last_imports.empty()) {
    out << "last imports           none\n";
    return exit_ok;
  }
  out << "last imports (newest first):\n";
  for (const auto& r : s.last_imports)
    out << "  " << r.finished_at << "  source " << r.source << "  as of " << r.as_of << "  rows "
        << r.rows_read << " (" << r.rows_skipped << " skipped)  members +" << r.members_new << " ~"
        << r.members_changed << " -" << r.members_dropped << "  " << r.origin << '\n';
  return exit_ok;
}

void print_group(std::ostream& out, const gm::physician_group& g) {
  char line[512];
  std::snprintf(line, sizeof line, "%-16s %-32s %-10s %-9s %-8s %s\n", g.id.c_str(),
                g.name.empty() ? "-" : g.name.c_str(), g.npi.empty() ? "-" : g.npi.c_str(),
                g.tin.empty() ? "-" : g.tin.c_str(), g.risk_threshold.c_str(),
                g.alert_events == 0 ? "none" : gm::alert_events_text(g.alert_events).c_str());
  out << line;
}

void print_group_header(std::ostream& out) {
  char header[256];
  std::snprintf(header, sizeof header, "%-16s %-32s %-10s %-9s %-8s %s\n", "id", "name", "npi",
                "tin", "risk", "events");
  out << header;
}

int group_list(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  db_options dbo;
  bool failed = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (take_db_option(args, i, dbo, err, "group list", failed)) {
      if (failed) return exit_input;
      continue;
    }
    err << "carebridge group list: unexpected argument " << args[i] << '\n';
    return exit_input;
  }
  const auto db_file = members_db(dbo, err, "group list");
  if (!db_file) return exit_input;
  std::vector<gm::physician_group> groups;
  if (!std::filesystem::exists(*db_file)) {  // no groups yet; a listing creates nothing
    print_group_header(out);
    return exit_ok;
  }
  try {
    groups = gm::roster_db::open(*db_file)->groups();
  } catch (const std::exception& e) {
    err << "carebridge group list: " << e.what() << '\n';
    return exit_internal;
  }
  print_group_header(out);
  for (const auto& g : groups) print_group(out, g);
  return exit_ok;
}

constexpr std::string_view set_usage =
    "usage: carebridge group set ID [--name NAME] [--npi NPI] [--tin TIN]\n"
    "           [--risk-threshold low|moderate|high] [--events discharge,ed_visit,admission]\n"
    "           [--data-dir DIR] [--config FILE]\n";

int group_set(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  db_options dbo;
  bool failed = false;
  std::string id;
  std::optional<std::string> name, npi, tin, threshold, events;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (take_db_option(args, i, dbo, err, "group set", failed)) {
      if (failed) return exit_input;
      continue;
    }
    std::optional<std::string>* target = a == "--name"             ? &name
                                         : a == "--npi"            ? &npi
                                         : a == "--tin"            ? &tin
                                         : a == "--risk-threshold" ? &threshold
                                         : a == "--events"         ? &events
                                                                   : nullptr;
    if (target != nullptr) {
      if (i + 1 == args.size()) {
        err << "carebridge group set: " << a << " needs a value\n";
        return exit_input;
      }
      *target = args[++i];
    } else if (!a.empty() && a[0] == '-') {
      err << "carebridge group set: unknown option " << a << '\n' << set_usage;
      return exit_input;
    } else if (id.empty()) {
      id = a;
    } else {
      err << "carebridge group set: one group ID only\n";
      return exit_input;
    }
  }
  if (id.empty()) {
    err << set_usage;
    return exit_input;
  }
  if (npi) std::erase(*npi, ' ');
  if (tin) std::erase(*tin, '-');
  if (npi && !npi->empty() && !gm::is_valid_npi(*npi)) {
    err << "carebridge group set: --npi is not a valid NPI (10 digits, the last a Luhn check "
           "digit)\n";
    return exit_input;
  }
  if (tin && !tin->empty() && !gm::is_valid_tin(*tin)) {
    err << "carebridge group set: --tin is not 9 digits\n";
    return exit_input;
  }
  if (threshold && !gm::is_valid_risk_threshold(*threshold)) {
    err << "carebridge group set: --risk-threshold is low, moderate or high\n";
    return exit_input;
  }
  std::optional<std::uint8_t> event_bits;
  if (events) {
    event_bits = gm::parse_alert_events(*events);
    if (!event_bits) {
      err << "carebridge group set: --events is a list of discharge, ed_visit, admission\n";
      return exit_input;
    }
  }
  const auto db_file = members_db(dbo, err, "group set");
  if (!db_file) return exit_input;
  try {
    auto db = gm::roster_db::open(*db_file);
    gm::physician_group g = db->group(id).value_or(gm::physician_group{});
    g.id = id;
    if (name) g.name = *name;
    if (npi) g.npi = *npi;
    if (tin) g.tin = *tin;
    if (threshold) g.risk_threshold = *threshold;
    if (event_bits) g.alert_events = *event_bits;
    db->put_group(g);
    print_group_header(out);
    print_group(out, *db->group(id));
  } catch (const std::exception& e) {
    err << "carebridge group set: " << e.what() << '\n';
    return exit_internal;
  }
  return exit_ok;
}

}  // namespace

int cmd_roster(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (!args.empty() && args[0] == "import") return roster_import(args, out, err);
  if (!args.empty() && args[0] == "stats") return roster_stats(args, out, err);
  err << "carebridge roster: usage: carebridge roster import FILE [options] | roster stats "
         "[--data-dir DIR]\n";
  return exit_input;
}

int cmd_group(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (!args.empty() && args[0] == "list") return group_list(args, out, err);
  if (!args.empty() && args[0] == "set") return group_set(args, out, err);
  err << "carebridge group: usage: carebridge group list | group set ID [options]\n";
  return exit_input;
}

}  // namespace carebridge::app
