// carebridge store stats: counts by state and by sending facility, and the oldest pending age;
// store alerts here too, store messages and store reprocess in cmd_store_messages.cpp.
#include "gateway/app/cli.hpp"
#include "gateway/app/json_output.hpp"
#include "gateway/store/sqlite_store.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <chrono>
#include <cstdio>
#include <ostream>

namespace carebridge::app {

namespace {

// carebridge store alerts: the alert outbox, oldest first (ids and codes only, never PHI).
int store_alerts(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string dir, group;
  std::int64_t after = 0;
  std::size_t limit = 100;
  bool json = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    try {
      if (a == "--json") {
        json = true;
      } else if (a == "--data-dir" && has_value) {
        dir = args[++i];
      } else if (a == "--group" && has_value) {
        group = args[++i];
      } else if (a == "--after" && has_value) {
        after = std::stoll(args[++i]);
      } else if (a == "--limit" && has_value) {
        limit = static_cast<std::size_t>(std::stoull(args[++i]));
      } else {
        err << "carebridge store alerts: unexpected argument " << a << '\n';
        return exit_input;
      }
    } catch (const std::exception&) {
      err << "carebridge store alerts: " << a << " needs a number\n";
      return exit_input;
    }
  }
  if (dir.empty()) {
    err << "carebridge store alerts: --data-dir DIR is needed\n";
    return exit_input;
  }
  std::vector<gateway::store::stored_alert> alerts;
  try {
    alerts = gateway::store::sqlite_store::open_read_only(dir)->alerts_after(after, limit, group);
  } catch (const std::exception& e) {
    err << "carebridge store alerts: " << e.what() << '\n';
    return exit_input;
  }
  if (json) {
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    w.StartArray();
    for (const auto& s : alerts) {
      const auto& a = s.alert;
      w.StartObject();
      w.Key("seq");
      w.Int64(s.seq);
      w.Key("message_id");
      w.Int64(s.message_id);
      w.Key("created_us");
      w.Int64(s.created_us);
      string_members(w, {
          {"kind", &a.kind},         {"event_kind", &a.event_kind},
          {"group_id", &a.group_id}, {"patient_id", &a.patient_id},
          {"encounter_id", &a.encounter_id}, {"risk_assessment_id", &a.risk_assessment_id},
          {"task_id", &a.task_id},   {"risk_band", &a.risk_band},
          {"occurred", &a.occurred}});
      w.EndObject();
    }
    w.EndArray();
    out << buf.GetString() << '\n';
    return exit_ok;
  }
  if (alerts.empty()) {
    out << "no alerts" << (group.empty() ? "" : " for this group") << '\n';
    return exit_ok;
  }
  out << "seq     kind        event      group            risk      encounter / task\n";
  for (const auto& s : alerts) {
    const auto& a = s.alert;
    char line[160];
    std::snprintf(line, sizeof line, "%-7lld %-11s %-10s %-16s %-9s ", static_cast<long long>(s.seq),
                  a.kind.c_str(), a.event_kind.c_str(), a.group_id.c_str(),
                  a.risk_band.empty() ? "-" : a.risk_band.c_str());
    out << line << "Encounter/" << a.encounter_id;
    if (!a.task_id.empty()) out << "  Task/" << a.task_id;
    out << '\n';
  }
  return exit_ok;
}

}  // namespace

int cmd_store(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (!args.empty() && args[0] == "alerts") return store_alerts(args, out, err);
  if (!args.empty() && args[0] == "messages") return cmd_store_messages(args, out, err);
  if (!args.empty() && args[0] == "reprocess") return cmd_store_reprocess(args, out, err);
  if (!args.empty() && args[0] == "replay") return cmd_store_replay(args, out, err);
  if (args.empty() || args[0] != "stats") {
    err << "carebridge store: usage: carebridge store stats|alerts|messages|reprocess|replay "
           "--data-dir DIR ... (see carebridge help)\n";
    return exit_input;
  }
  std::string dir;
  bool json = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--data-dir" && i + 1 < args.size()) {
      dir = args[++i];
    } else {
      err << "carebridge store stats: unexpected argument " << args[i] << '\n';
      return exit_input;
    }
  }
  if (dir.empty()) {
    err << "carebridge store stats: --data-dir DIR is needed\n";
    return exit_input;
  }
  gateway::store::store_stats s;
  try {
    s = gateway::store::sqlite_store::open_read_only(dir)->stats();
  } catch (const std::exception& e) {
    err << "carebridge store stats: " << e.what() << '\n';
    return exit_input;
  }
  std::optional<double> oldest_age;
  if (s.oldest_pending_us) {
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    oldest_age = static_cast<double>(now - *s.oldest_pending_us) / 1e6;
  }
  if (json) {
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    w.StartObject();
    const std::pair<const char*, std::uint64_t> counts[] = {
        {"total", s.total},         {"accepted", s.accepted}, {"pending", s.pending},
        {"processed", s.processed}, {"rejected", s.rejected}, {"errored", s.errored},
        {"duplicates", s.duplicates}};
    for (const auto& [k, v] : counts) {
      w.Key(k);
      w.Uint64(v);
    }
    w.Key("oldest_pending_age_seconds");
    oldest_age ? w.Double(*oldest_age) : w.Null();
    w.Key("by_sender");
    w.StartObject();
    for (const auto& [facility, c] : s.by_sender) {
      w.Key(facility.c_str());
      w.StartObject();
      w.Key("pending");
      w.Uint64(c.pending);
      w.Key("processed");
      w.Uint64(c.processed);
      w.Key("rejected");
      w.Uint64(c.rejected);
      w.Key("errored");
      w.Uint64(c.errored);
      w.EndObject();
    }
    w.EndObject();
    w.EndObject();
    out << buf.GetString() << '\n';
    return exit_ok;
  }
  out << "messages   " << s.total << '\n'
      << "accepted   " << s.accepted << "  (pending " << s.pending << ", processed "
      << s.processed << ")\n"
      << "rejected   " << s.rejected << '\n'
      << "errored    " << s.errored << '\n'
      << "duplicates " << s.duplicates << "  (resends answered with the stored ACK)\n";
  if (oldest_age) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f s", *oldest_age);
    out << "oldest pending " << buf << '\n';
  } else {
    out << "oldest pending -\n";
  }
  if (!s.by_sender.empty()) {
    out << "\nby sending facility (MSH-4)   pending  processed  rejected  errored\n";
    for (const auto& [facility, c] : s.by_sender) {
      char line[160];
      std::snprintf(line, sizeof line, "  %-28s %8llu %10llu %9llu %8llu\n",
                    facility.empty() ? "(none)" : facility.c_str(),
                    static_cast<unsigned long long>(c.pending),
                    static_cast<unsigned long long>(c.processed),
                    static_cast<unsigned long long>(c.rejected),
                    static_cast<unsigned long long>(c.errored));
      out << line;
    }
  }
  return exit_ok;
}

}  // namespace carebridge::app
