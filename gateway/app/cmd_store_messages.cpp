// carebridge store messages | store reprocess: the operators' view of stored messages and their way
// to run errored ones through the pipeline again.
//   store messages --data-dir DIR [--state S] [--facility F] [--since T] [--until T] [--limit N]
//                  [--json]          ids, times, facility, type, control id, state and reason
//   store reprocess --data-dir DIR (--id N [--id N]... [--force] | --errored [--facility F]
//                  [--since T] [--until T] | --since T [--until T] [--facility F] [--state S]...
//                  [--force]) [--dry-run] [--limit N] [--json]
//                                    set them back to pending; a running gateway picks them up
// Never prints a message body or anything read from one beyond the header's ids and codes; the
// reasons are PHI-free by construction (they name fields, never their values).
#include "gateway/alerts/subscription.hpp"
#include "gateway/app/cli.hpp"
#include "gateway/app/json_output.hpp"
#include "gateway/store/sqlite_store.hpp"
#include "gateway/obs/log.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <ostream>

namespace carebridge::app {

namespace {

namespace store = gateway::store;

std::optional<std::int64_t> positive_number(std::string_view text) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v <= 0) return std::nullopt;
  return v;
}

// Reads the filter options shared by both commands: --facility, --since, --until. True when
// args[i] was one (i moved past its value); an error on `err` when its value is bad.
enum class filter_arg { no, yes, bad };
filter_arg read_filter(const std::vector<std::string>& args, std::size_t& i,
                       store::message_filter& f, std::string_view command, std::ostream& err) {
  const std::string& a = args[i];
  if (i + 1 >= args.size()) return filter_arg::no;
  if (a == "--facility") {
    f.sending_facility = args[++i];
    return filter_arg::yes;
  }
  if (a == "--since" || a == "--until") {
    const auto t = time_us(args[++i]);
    if (!t) {
      err << "carebridge store " << command << ": " << a
          << " needs a time: YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ (or +hh:mm)\n";
      return filter_arg::bad;
    }
    (a == "--since" ? f.since_us : f.until_us) = *t;
    return filter_arg::yes;
  }
  return filter_arg::no;
}

}  // namespace

int cmd_store_messages(const std::vector<std::string>& args, std::ostream& out,
                       std::ostream& err) {
  std::string dir;
  store::message_filter f;
  bool json = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    switch (read_filter(args, i, f, "messages", err)) {
      case filter_arg::yes: continue;
      case filter_arg::bad: return exit_input;
      case filter_arg::no: break;
    }
    if (a == "--json") {
      json = true;
    } else if (a == "--data-dir" && has_value) {
      dir = args[++i];
    } else if (a == "--state" && has_value) {
      f.state = store::state_from_string(args[++i]);
      if (!f.state) {
        err << "carebridge store messages: --state is one of errored, rejected, pending, "
               "processed\n";
        return exit_input;
      }
    } else if (a == "--limit" && has_value) {
      const auto n = positive_number(args[++i]);
      if (!n) {
        err << "carebridge store messages: --limit needs a positive number\n";
        return exit_input;
      }
      f.limit = static_cast<std::size_t>(*n);
    } else {
      err << "carebridge store messages: unexpected argument " << a << '\n';
      return exit_input;
    }
  }
  if (!store_exists(dir, "store messages", err)) return exit_input;
  const std::size_t limit = f.limit;
  f.limit = limit + 1;  // one more: whether there are more than shown
  std::vector<store::message_summary> rows;
  try {
    rows = store::sqlite_store::open_read_only(dir)->messages(f);
  } catch (const std::exception& e) {
    err << "carebridge store messages: " << e.what() << '\n';
    return exit_internal;
  }
  const bool more = rows.size() > limit;
  if (more) rows.resize(limit);
  if (json) {
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    w.StartArray();
    for (const auto& m : rows) {
      w.StartObject();
      w.Key("id");
      w.Int64(m.id);
      w.Key("received_at");
      const std::string at = gateway::obs::utc_seconds_text(m.received_at_us / 1'000'000);
      w.String(at.c_str());
      w.Key("received_at_us");
      w.Int64(m.received_at_us);
      const std::string state(store::to_string(m.state));
      string_members(w, {
          {"sending_application", &m.sending_application},
          {"sending_facility", &m.sending_facility},
          {"message_type", &m.message_type},
          {"control_id", &m.control_id},
          {"sender", &m.sender},
          {"state", &state},
          {"reason", &m.reason},
          {"ack_code", &m.ack_code}});
      w.EndObject();
    }
    w.EndArray();
    out << buf.GetString() << '\n';
    return exit_ok;
  }
  if (rows.empty()) {
    out << "no messages\n";
    return exit_ok;
  }
  out << "id       received (UTC)        facility         type          control id            "
         "state      reason\n";
  for (const auto& m : rows) {
    char line[200];
    std::snprintf(line, sizeof line, "%-8lld %-21s %-16s %-13s %-21s %-10s ",
                  static_cast<long long>(m.id), gateway::obs::utc_seconds_text(m.received_at_us / 1'000'000).c_str(),
                  m.sending_facility.empty() ? "-" : m.sending_facility.c_str(),
                  m.message_type.empty() ? "-" : m.message_type.c_str(),
                  m.control_id.empty() ? "-" : m.control_id.c_str(),
                  std::string(store::to_string(m.state)).c_str());
    out << line << (m.reason.empty() ? "-" : m.reason) << '\n';
  }
  if (more)
    out << "(the first " << limit << " shown: --limit N, --since or --facility for the rest)\n";
  return exit_ok;
}

int cmd_store_reprocess(const std::vector<std::string>& args, std::ostream& out,
                        std::ostream& err) {
  std::string dir;
  store::reprocess_request r;
  bool errored = false;
  bool filtered = false;
  bool ranged = false;  // --since: a time range replayed
  bool json = false;
  std::size_t limit = 100;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "--since" && has_value) ranged = true;
    switch (read_filter(args, i, r.errored, "reprocess", err)) {
      case filter_arg::yes: filtered = true; continue;
      case filter_arg::bad: return exit_input;
      case filter_arg::no: break;
    }
    if (a == "--data-dir" && has_value) {
      dir = args[++i];
    } else if (a == "--id" && has_value) {
      const auto id = positive_number(args[++i]);
      if (!id) {
        err << "carebridge store reprocess: --id needs a message id (a positive number)\n";
        return exit_input;
      }
      r.ids.push_back(*id);
    } else if (a == "--state" && has_value) {
      const auto st = store::state_from_string(args[++i]);
      if (!st || *st == store::message_state::pending) {
        err << "carebridge store reprocess: --state is one of errored, processed, rejected\n";
        return exit_input;
      }
      r.states.push_back(*st);
    } else if (a == "--errored") {
      errored = true;
    } else if (a == "--force") {
      r.force = true;
    } else if (a == "--dry-run") {
      r.dry_run = true;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--limit" && has_value) {
      const auto n = positive_number(args[++i]);
      if (!n) {
        err << "carebridge store reprocess: --limit needs a positive number\n";
        return exit_input;
      }
      limit = static_cast<std::size_t>(*n);
    } else {
      err << "carebridge store reprocess: unexpected argument " << a << '\n';
      return exit_input;
    }
  }
  const int modes = (r.ids.empty() ? 0 : 1) + (errored ? 1 : 0) + (ranged && !errored ? 1 : 0);
  if (modes != 1) {
    err << "carebridge store reprocess: give one of --id N (one or more), --errored, or --since "
           "TIME (a time range)\n";
    return exit_input;
  }
  if (!r.ids.empty() && (filtered || !r.states.empty())) {
    err << "carebridge store reprocess: --facility, --since, --until and --state do not go with "
           "--id\n";
    return exit_input;
  }
  if (errored && (r.force || !r.states.empty())) {
    err << "carebridge store reprocess: --errored takes errored messages only (--state and "
           "--force go with --id or --since)\n";
    return exit_input;
  }
  // A time range takes errored and processed messages unless --state says otherwise: rejected
  // ones were refused (AR/CR) and usually resent, so they are taken only when named.
  if (ranged && !errored && r.states.empty())
    r.states = {store::message_state::errored, store::message_state::processed};
  if (errored) r.states = {store::message_state::errored};
  if (r.dry_run || json) r.list_limit = limit;
  if (!store_exists(dir, "store reprocess", err)) return exit_input;
  store::reprocess_result done;
  try {
    done = store::sqlite_store::reprocess(dir, r);
  } catch (const std::exception& e) {
    err << "carebridge store reprocess: " << e.what() << '\n';
    return exit_internal;
  }
  std::size_t refused = 0;
  for (const auto& [id, why] : done.skipped)
    if (why != "already pending") ++refused;
  std::uint64_t refused_in_range = 0;
  for (const auto& [state, n] : done.refused) refused_in_range += n;
  if (json) {
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    w.StartObject();
    w.Key("dry_run");
    w.Bool(r.dry_run);
    w.Key("reprocessed");
    w.Uint64(done.reprocessed);
    w.Key("by_state");
    w.StartObject();
    for (const auto& [state, n] : done.by_state) {
      w.Key(std::string(store::to_string(state)).c_str());
      w.Uint64(n);
    }
    w.EndObject();
    w.Key("needs_force");
    w.StartObject();
    for (const auto& [state, n] : done.refused) {
      w.Key(std::string(store::to_string(state)).c_str());
      w.Uint64(n);
    }
    w.EndObject();
    w.Key("skipped");
    w.StartArray();
    for (const auto& [id, why] : done.skipped) {
      w.StartObject();
      w.Key("id");
      w.Int64(id);
      w.Key("why");
      w.String(why.c_str());
      w.EndObject();
    }
    w.EndArray();
    w.Key("messages");
    w.StartArray();
    for (const auto& m : done.listed) {
      w.StartObject();
      w.Key("id");
      w.Int64(m.id);
      const std::string at = gateway::obs::utc_seconds_text(m.received_at_us / 1'000'000);
      const std::string state(store::to_string(m.state));
      string_members(w, {{"received_at", &at},
                         {"sending_facility", &m.sending_facility},
                         {"message_type", &m.message_type},
                         {"control_id", &m.control_id},
                         {"state", &state}});
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    out << buf.GetString() << '\n';
  } else {
    for (const auto& [id, why] : done.skipped)
      out << "message " << id << " left as it is: " << why << '\n';
    if (r.dry_run) {
      for (const auto& m : done.listed) {
        char line[200];
        std::snprintf(line, sizeof line, "%-8lld %-21s %-16s %-13s %-21s %s\n",
                      static_cast<long long>(m.id), gateway::obs::utc_seconds_text(m.received_at_us / 1'000'000).c_str(),
                      m.sending_facility.empty() ? "-" : m.sending_facility.c_str(),
                      m.message_type.empty() ? "-" : m.message_type.c_str(),
                      m.control_id.empty() ? "-" : m.control_id.c_str(),
                      std::string(store::to_string(m.state)).c_str());
        out << line;
      }
      if (done.listed.size() < done.reprocessed)
        out << "(the first " << done.listed.size() << " listed: --limit N for more)\n";
    }
    if (done.reprocessed == 0) {
      out << "no message to reprocess\n";
    } else {
      const bool one = done.reprocessed == 1;
      out << (r.dry_run ? "would reprocess " : "reprocessing ") << done.reprocessed
          << (one ? " message" : " messages");
      if (ranged || done.by_state.size() > 1) {
        out << " (";
        bool first = true;
        for (const auto& [state, n] : done.by_state) {
          out << (first ? "" : ", ") << store::to_string(state) << ' ' << n;
          first = false;
        }
        out << ')';
      }
      if (r.dry_run)
        out << "; nothing changed (dry run)\n";
      else
        out << ": set back to pending; a running gateway processes " << (one ? "it" : "them")
            << " within seconds, a stopped one at its next start\n";
    }
    for (const auto& [state, n] : done.refused)
      out << n << ' ' << store::to_string(state) << (n == 1 ? " message" : " messages")
          << " in the range left as " << (n == 1 ? "it is" : "they are") << " (needs --force)\n";
  }
  if (refused > 0) {
    err << "carebridge store reprocess: " << refused << " of the messages asked for "
        << (refused == 1 ? "was" : "were") << " not found or need --force\n";
    return exit_input;
  }
  if (refused_in_range > 0) {
    err << "carebridge store reprocess: " << refused_in_range
        << " messages in the range need --force (processed or rejected)\n";
    return exit_input;
  }
  return exit_ok;
}

}  // namespace carebridge::app
