// carebridge subscriptions list: the physician groups' FHIR Subscriptions as operators need to see
// them — status, last error, events numbered and delivered (the backlog is the difference), and
// where they go as an origin only (scheme://host:port: a path can carry tokens, and header values
// are the group's credentials, so neither is ever printed).
#include "gateway/alerts/topics.hpp"
#include "gateway/app/cli.hpp"
#include "gateway/app/json_output.hpp"
#include "gateway/store/sqlite_store.hpp"

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

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

}  // namespace

int cmd_subscriptions(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] != "list") {
    err << "carebridge subscriptions: usage: carebridge subscriptions list --data-dir DIR "
           "[--group ID] [--json]\n";
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
  if (dir.empty()) {
    err << "carebridge subscriptions list: --data-dir DIR is needed\n";
    return exit_input;
  }
  if (!std::filesystem::exists(std::filesystem::path(dir) / "carebridge.db")) {
    err << "carebridge subscriptions list: no store in " << dir << " (carebridge.db not found)\n";
    return exit_input;
  }
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
