// carebridge subscriptions list | deliveries | retry: the physician groups' FHIR Subscriptions as
// operators need to see them — status, last error, events numbered and delivered (the backlog is
// the difference), and where they go as an origin only (scheme://host:port: a path can carry
// tokens, and header values are the group's credentials, so neither is ever printed).
//   subscriptions list --data-dir DIR [--group ID] [--json]
//   subscriptions deliveries --data-dir DIR [--id SUB] [--status S] [--json]
//                      what is waiting per subscription: delivered through, highest event,
//                      backlog, age of the oldest undelivered event
//   subscriptions retry --data-dir DIR (--id SUB... | --errored)
//                      error → requested: a running gateway's notifier handshakes again at its
//                      next pass and sends everything after what was delivered
#include "gateway/alerts/topics.hpp"
#include "gateway/app/cli.hpp"
#include "gateway/app/json_output.hpp"
#include "gateway/store/sqlite_store.hpp"

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <ostream>

namespace carebridge::app {

namespace {

// "https://host:port" of an absolute URL ("" when it is not one): no user info, path, query or
// fragment; the scheme's default port when it names none.
std::string origin_of(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return "";
  std::string scheme(url.substr(0, scheme_end));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  if (rest.empty()) return "";
  // A port is what follows the last ':' outside an IPv6 literal's brackets.
  const auto colon = rest.rfind(':');
  const bool has_port = colon != std::string_view::npos &&
                        (rest.find(']') == std::string_view::npos || colon > rest.find(']'));
  std::string out = scheme + "://" + std::string(rest);
  if (!has_port) out += scheme == "https" ? ":443" : scheme == "http" ? ":80" : "";
  return out;
}

std::string endpoint_origin(const std::string& subscription_json) {
  rapidjson::Document doc;
  doc.Parse(subscription_json.c_str(), subscription_json.size());
  if (doc.HasParseError() || !doc.IsObject()) return "";
  const auto ch = doc.FindMember("channel");
  if (ch == doc.MemberEnd() || !ch->value.IsObject()) return "";
  const auto ep = ch->value.FindMember("endpoint");
  if (ep == ch->value.MemberEnd() || !ep->value.IsString()) return "";
  return origin_of({ep->value.GetString(), ep->value.GetStringLength()});
}

// The topic's short name (readmission-risk), or the canonical as stored when it is not one of ours.
std::string topic_name(const std::string& canonical) {
  const std::string_view url = std::string_view(canonical).substr(0, canonical.find('|'));
  if (const auto* t = gateway::alerts::find_topic(canonical)) return std::string(t->key);
  if (const auto* t = gateway::alerts::find_topic(url)) return std::string(t->key);
  return canonical;
}

constexpr std::string_view subscriptions_usage =
    "carebridge subscriptions: usage: carebridge subscriptions list|deliveries|retry --data-dir "
    "DIR ... (see carebridge help)\n";

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// carebridge subscriptions deliveries: per subscription, what its endpoint has and what waits.
int deliveries(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string dir, id, status;
  bool json = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "--json") {
      json = true;
    } else if (a == "--data-dir" && has_value) {
      dir = args[++i];
    } else if (a == "--id" && has_value) {
      id = args[++i];
    } else if (a == "--status" && has_value) {
      status = args[++i];
      if (status != "requested" && status != "active" && status != "error" && status != "off") {
        err << "carebridge subscriptions deliveries: --status is one of requested, active, "
               "error, off\n";
        return exit_input;
      }
    } else {
      err << "carebridge subscriptions deliveries: unexpected argument " << a << '\n';
      return exit_input;
    }
  }
  if (!store_exists(dir, "subscriptions deliveries", err)) return exit_input;
  std::vector<gateway::store::subscription_row> subs;
  std::vector<gateway::store::delivery_backlog> backlogs;
  try {
    auto st = gateway::store::sqlite_store::open_read_only(dir);
    if (id.empty()) {
      subs = st->subscriptions();
    } else if (auto s = st->subscription(id)) {
      subs.push_back(std::move(*s));
    }
    backlogs = st->delivery_backlogs(id);
  } catch (const std::exception& e) {
    err << "carebridge subscriptions deliveries: " << e.what() << '\n';
    return exit_internal;
  }
  if (!id.empty() && subs.empty()) {
    err << "carebridge subscriptions deliveries: no subscription " << id << '\n';
    return exit_input;
  }
  std::erase_if(subs, [&](const auto& s) { return !status.empty() && s.status != status; });
  const std::int64_t now = now_us();
  struct row {
    const gateway::store::subscription_row* sub = nullptr;
    std::int64_t highest = 0;
    std::optional<double> oldest_age_s;
  };
  std::vector<row> rows;
  for (const auto& s : subs) {
    row r;
    r.sub = &s;
    for (const auto& b : backlogs) {
      if (b.subscription_id != s.id) continue;
      r.highest = b.highest_event;
      if (b.oldest_undelivered_us)
        r.oldest_age_s = static_cast<double>(now - *b.oldest_undelivered_us) / 1e6;
    }
    rows.push_back(r);
  }
  if (json) {
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    w.StartArray();
    for (const auto& r : rows) {
      const auto& s = *r.sub;
      w.StartObject();
      const std::string topic = topic_name(s.topic);
      string_members(w, {{"id", &s.id},
                         {"group_id", &s.group_id},
                         {"topic", &topic},
                         {"status", &s.status},
                         {"error", &s.error}});
      w.Key("delivered_through");
      w.Int64(s.delivered_through);
      w.Key("highest_event");
      w.Int64(r.highest);
      w.Key("backlog");
      w.Int64(r.highest - s.delivered_through);
      w.Key("oldest_undelivered_age_seconds");
      r.oldest_age_s ? w.Double(*r.oldest_age_s) : w.Null();
      w.EndObject();
    }
    w.EndArray();
    out << buf.GetString() << '\n';
    return exit_ok;
  }
  if (rows.empty()) {
    out << "no subscriptions" << (status.empty() ? "" : " in " + status) << '\n';
    return exit_ok;
  }
  out << "id                                    group          status     delivered  highest  "
         "backlog  oldest undelivered\n";
  for (const auto& r : rows) {
    const auto& s = *r.sub;
    char age[32] = "-";
    if (r.oldest_age_s) std::snprintf(age, sizeof age, "%.1f s", *r.oldest_age_s);
    char line[256];
    std::snprintf(line, sizeof line, "%-37s %-14s %-10s %9lld %8lld %8lld  %s\n", s.id.c_str(),
                  s.group_id.c_str(), s.status.c_str(),
                  static_cast<long long>(s.delivered_through), static_cast<long long>(r.highest),
                  static_cast<long long>(r.highest - s.delivered_through), age);
    out << line;
    if (!s.error.empty()) out << "    error: " << s.error << '\n';
  }
  return exit_ok;
}

// carebridge subscriptions retry: subscriptions in error back to requested.
int retry(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string dir;
  std::vector<std::string> ids;
  bool errored = false;
  bool json = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "--data-dir" && has_value) {
      dir = args[++i];
    } else if (a == "--id" && has_value) {
      ids.push_back(args[++i]);
    } else if (a == "--errored") {
      errored = true;
    } else if (a == "--json") {
      json = true;
    } else {
      err << "carebridge subscriptions retry: unexpected argument " << a << '\n';
      return exit_input;
    }
  }
  if (ids.empty() == !errored) {
    err << "carebridge subscriptions retry: give either --id SUB (one or more) or --errored\n";
    return exit_input;
  }
  if (!store_exists(dir, "subscriptions retry", err)) return exit_input;
  gateway::store::retry_result done;
  try {
    done = gateway::store::sqlite_store::retry_subscriptions(dir, ids);
  } catch (const std::exception& e) {
    err << "carebridge subscriptions retry: " << e.what() << '\n';
    return exit_internal;
  }
  if (json) {
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    w.StartObject();
    w.Key("retried");
    w.StartArray();
    for (const auto& id : done.retried) w.String(id.c_str());
    w.EndArray();
    w.Key("skipped");
    w.StartArray();
    for (const auto& [id, why] : done.skipped) {
      w.StartObject();
      string_members(w, {{"id", &id}, {"why", &why}});
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    out << buf.GetString() << '\n';
  } else {
    for (const auto& [id, why] : done.skipped)
      out << "subscription " << id << " left as it is: " << why << '\n';
    for (const auto& id : done.retried) out << "subscription " << id << ": requested\n";
    if (done.retried.empty())
      out << "no subscription to retry\n";
    else
      out << "retrying " << done.retried.size()
          << (done.retried.size() == 1 ? " subscription" : " subscriptions")
          << ": a running gateway handshakes with the endpoint again within a second, then sends "
             "every event after the last one delivered\n";
  }
  if (!done.skipped.empty()) {
    err << "carebridge subscriptions retry: " << done.skipped.size() << " of the subscriptions "
        << "asked for " << (done.skipped.size() == 1 ? "was" : "were")
        << " not found or not in error\n";
    return exit_input;
  }
  return exit_ok;
}

}  // namespace

int cmd_subscriptions(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (!args.empty() && args[0] == "deliveries") return deliveries(args, out, err);
  if (!args.empty() && args[0] == "retry") return retry(args, out, err);
  if (args.empty() || args[0] != "list") {
    err << subscriptions_usage;
    return exit_input;
  }
  std::string dir, group;
  bool json = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--data-dir" && i + 1 < args.size()) {
      dir = args[++i];
    } else if (a == "--group" && i + 1 < args.size()) {
      group = args[++i];
    } else {
      err << "carebridge subscriptions list: unexpected argument " << a << '\n';
      return exit_input;
    }
  }
  if (!store_exists(dir, "subscriptions list", err)) return exit_input;
  std::vector<gateway::store::subscription_row> subs;
  try {
    subs = gateway::store::sqlite_store::open_read_only(dir)->subscriptions(group);
  } catch (const std::exception& e) {
    err << "carebridge subscriptions list: " << e.what() << '\n';
    return exit_internal;
  }
  if (json) {
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    w.StartArray();
    for (const auto& s : subs) {
      w.StartObject();
      const std::string topic = topic_name(s.topic);
      const std::string origin = endpoint_origin(s.json);
      string_members(w, {
          {"id", &s.id},         {"group_id", &s.group_id}, {"topic", &topic},
          {"status", &s.status}, {"error", &s.error},       {"endpoint_origin", &origin}});
      w.Key("events_since_start");
      w.Int64(s.events_since_start);
      w.Key("delivered_through");
      w.Int64(s.delivered_through);
      w.Key("backlog");
      w.Int64(s.events_since_start - s.delivered_through);
      w.EndObject();
    }
    w.EndArray();
    out << buf.GetString() << '\n';
    return exit_ok;
  }
  if (subs.empty()) {
    out << "no subscriptions" << (group.empty() ? "" : " for this group") << '\n';
    return exit_ok;
  }
  out << "id                                    group          topic                  status     "
         "events  delivered  backlog  endpoint\n";
  for (const auto& s : subs) {
    char line[256];
    std::snprintf(line, sizeof line, "%-37s %-14s %-22s %-10s %6lld %10lld %8lld  ",
                  s.id.c_str(), s.group_id.c_str(), topic_name(s.topic).c_str(), s.status.c_str(),
                  static_cast<long long>(s.events_since_start),
                  static_cast<long long>(s.delivered_through),
                  static_cast<long long>(s.events_since_start - s.delivered_through));
    const std::string origin = endpoint_origin(s.json);
    out << line << (origin.empty() ? "-" : origin) << '\n';
    if (!s.error.empty()) out << "    error: " << s.error << '\n';
  }
  return exit_ok;
}

}  // namespace carebridge::app
