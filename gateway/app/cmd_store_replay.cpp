// carebridge store replay: sends the HL7 v2 messages of a file to a running gateway over MLLP, so
// they are stored and processed as if the sender had sent them (a file a hospital sent by other
// means, a dump of what an interface engine queued while the gateway was down).
//
// Why MLLP and not a write into the store: the store belongs to the gateway process. A message
// becomes durable in its append-only message log, written by the gateway's log thread alone, which
// also gives each message its id and holds the duplicate keys not yet in SQLite; a second process
// appending to the log, or inserting rows, would collide with ids that thread has handed out and
// corrupt the store. Sent to the listener, each message goes through ingest as any other: parsed,
// authorized for its MSH-4 on this connection (TLS client certificate or address, as configured),
// stored — accepted or rejected with its reason, nothing lost — and acknowledged after the commit;
// a resend of an accepted message is answered with the stored ACK and not stored twice.
//
//   store replay FILE... [--to HOST:PORT] [--tls] [--ca FILE] [--cert FILE --key FILE]
//                [--server-name N] [--timeout S] [--facility F] [--data-dir DIR] [--dry-run]
//                [--json]
//
// Input: one message, several one after the other (CR, LF or CRLF; blank lines between them are
// fine), MLLP-framed dumps (the frame bytes are dropped), or an FHS/BHS … BTS/FTS batch. With
// --data-dir (the gateway's, read only) a message whose duplicate key the store already holds is
// reported as a duplicate. Prints, per message, its control id (MSH-10) and what became of it —
// never a body or a field beyond the header's ids and codes.
#include "adapters/mllp/mllp_framer.hpp"
#include "gateway/app/cli.hpp"
#include "gateway/app/json_output.hpp"
#include "gateway/app/mllp_client.hpp"
#include "gateway/store/sqlite_store.hpp"
#include "mappings/hl7v2/batch.hpp"
#include "mappings/hl7v2/message.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <ostream>
#include <string_view>

namespace carebridge::app {

namespace {

namespace hl7 = mappings::hl7v2;

constexpr std::string_view replay_usage =
    "carebridge store replay: usage: carebridge store replay FILE... [--to HOST:PORT] [--tls "
    "...] [--facility F] [--data-dir DIR] [--dry-run] [--json] (see carebridge help)\n";

// One message of the input and what became of it.
struct replayed {
  std::string label;  // FILE #n
  std::string text;   // with CR segment terminators
  std::string sending_application, sending_facility, control_id, message_type;
  bool header_ok = false;                 // MSH parsed
  std::optional<std::int64_t> stored_as;  // --data-dir: the accepted message with its key
  bool skipped = false;                   // --facility: another facility's
  std::string ack_code;                   // empty: not sent, or no ACK
  std::string ack_text;                   // MSA-3 or ERR-8 (the gateway's PHI-free reason)
  std::string outcome;                    // accepted, duplicate, rejected, errored, skipped…
};

std::string value_at(const hl7::message& m, std::string_view path) {
  auto v = m.get(path);
  return v ? std::move(*v) : std::string();
}

// What the ACK says, and what it means for the message.
void read_ack(std::string_view ack, replayed& m) {
  const auto parsed = hl7::parse(ack);
  if (parsed) {
    m.ack_code = value_at(*parsed, "MSA.1");
    // The gateway's reason: MSA-3 before v2.5, ERR-8 from it on (PHI-free: names fields only).
    m.ack_text = value_at(*parsed, "MSA.3");
    if (m.ack_text.empty()) m.ack_text = value_at(*parsed, "ERR.8");
  }
  if (m.ack_code == "AA" || m.ack_code == "CA")
    m.outcome = m.stored_as ? "duplicate" : "accepted";
  else if (m.ack_code == "AR" || m.ack_code == "CR")
    m.outcome = "rejected";
  else if (m.ack_code == "AE" || m.ack_code == "CE")
    m.outcome = "errored";
  else
    m.outcome = "unreadable ACK";
}

// The messages of one file. MLLP frame bytes become segment ends, so a dump of frames splits
// like a file of messages; each message is sent with CR terminators whatever the file used.
bool split_file(const std::string& name, const std::string& data, std::vector<replayed>& into,
                std::ostream& err, std::size_t& issues) {
  std::string text = data;
  for (char& c : text)
    if (c == adapters::mllp::start_block || c == adapters::mllp::end_block) c = '\r';
  auto split = hl7::split_batch(text);
  if (!split) {
    err << "carebridge store replay: " << name << ": not HL7 v2: " << split.error().describe()
        << '\n';
    return false;
  }
  for (const auto& issue : split->issues) {
    err << "carebridge store replay: " << name << ": " << issue.describe() << '\n';
    ++issues;
  }
  const auto msgs = split->messages();
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    replayed m;
    m.label = name + " #" + std::to_string(i + 1);
    m.text = std::string(msgs[i]);
    for (std::size_t p = 0; (p = m.text.find("\r\n", p)) != std::string::npos;)
      m.text.erase(p + 1, 1);
    for (char& c : m.text)
      if (c == '\n') c = '\r';
    // Blank lines between messages leave empty segments at the end of the one before.
    while (m.text.size() > 1 && m.text.ends_with("\r\r")) m.text.pop_back();
    if (const auto parsed = hl7::parse(m.text)) {
      m.header_ok = true;
      m.sending_application = std::string(parsed->sending_application());
      m.sending_facility = std::string(parsed->sending_facility());
      m.control_id = std::string(parsed->control_id());
      m.message_type = std::string(parsed->message_type());
      if (!parsed->trigger_event().empty())
        m.message_type += "^" + std::string(parsed->trigger_event());
    }
    into.push_back(std::move(m));
  }
  return true;
}

const std::string& dash(const std::string& s) {
  static const std::string d = "-";
  return s.empty() ? d : s;
}

}  // namespace

int cmd_store_replay(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  constexpr std::string_view command = "carebridge store replay";
  mllp_client_options client;
  client.target = "127.0.0.1:2575";
  std::string facility, dir;
  bool dry_run = false, json = false;
  std::vector<std::string> files;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    const auto taken = parse_mllp_client_option(args, i, client, command, err);
    if (taken == client_option::bad_value) return exit_input;
    if (taken == client_option::taken) continue;
    if (a == "--dry-run") {
      dry_run = true;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--to" || a == "--facility" || a == "--data-dir") {
      if (i + 1 == args.size()) {
        err << "carebridge store replay: " << a << " needs a value\n";
        return exit_input;
      }
      const std::string& v = args[++i];
      if (a == "--to")
        client.target = v;
      else if (a == "--facility")
        facility = v;
      else
        dir = v;
    } else if (a.size() > 1 && a[0] == '-') {
      err << "carebridge store replay: unexpected argument " << a << '\n';
      return exit_input;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    err << replay_usage;
    return exit_input;
  }
  if (!check_mllp_client_options(client, command, err)) return exit_input;
  if (!dir.empty() && !store_exists(dir, "store replay", err)) return exit_input;

  std::vector<replayed> messages;
  std::size_t issues = 0;
  for (const auto& f : files) {
    auto data = read_input(f, err, "store replay");
    if (!data) return exit_input;
    if (!split_file(f, *data, messages, err, issues)) return exit_input;
  }
  for (auto& m : messages) {
    if (!facility.empty() && m.header_ok && m.sending_facility != facility) {
      m.skipped = true;
      m.outcome = "skipped (another facility)";
    }
  }
  if (!dir.empty()) {
    try {
      auto st = gateway::store::sqlite_store::open_read_only(dir);
      for (auto& m : messages)
        if (m.header_ok && !m.skipped)
          m.stored_as =
              st->accepted_with_key(m.sending_application, m.sending_facility, m.control_id);
    } catch (const std::exception& e) {
      err << "carebridge store replay: " << e.what() << '\n';
      return exit_internal;
    }
  }

  mllp_send_result sent;
  if (dry_run) {
    for (auto& m : messages)
      if (!m.skipped) m.outcome = m.stored_as ? "would be a duplicate" : "would be sent";
  } else {
    std::vector<replayed*> to_send;
    std::vector<std::string_view> texts;
    for (auto& m : messages) {
      if (m.skipped) continue;
      to_send.push_back(&m);
      texts.emplace_back(m.text);
    }
    sent = send_mllp_messages(
        client, texts,
        [&](std::size_t index, std::string_view ack) { read_ack(ack, *to_send[index]); },
        " (replay sends to a running gateway: carebridge serve)");
    if (!sent.connect_error.empty()) {
      err << "carebridge store replay: " << sent.connect_error << '\n';
      return exit_input;
    }
    for (auto& m : messages)
      if (!m.skipped && m.outcome.empty()) m.outcome = "not sent";
  }

  std::map<std::string, std::size_t> totals;
  for (const auto& m : messages) ++totals[m.outcome];
  if (json) {
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    w.StartObject();
    w.Key("dry_run");
    w.Bool(dry_run);
    w.Key("messages");
    w.StartArray();
    for (const auto& m : messages) {
      w.StartObject();
      string_members(w, {{"source", &m.label},
                         {"sending_facility", &m.sending_facility},
                         {"message_type", &m.message_type},
                         {"control_id", &m.control_id},
                         {"ack_code", &m.ack_code},
                         {"ack_text", &m.ack_text},
                         {"outcome", &m.outcome}});
      w.Key("duplicate_of");
      m.stored_as ? w.Int64(*m.stored_as) : w.Null();
      w.EndObject();
    }
    w.EndArray();
    w.Key("totals");
    w.StartObject();
    for (const auto& [what, n] : totals) {
      w.Key(what.c_str());
      w.Uint64(n);
    }
    w.EndObject();
    w.Key("envelope_issues");
    w.Uint64(issues);
    w.EndObject();
    out << buf.GetString() << '\n';
  } else {
    out << "source                   facility         type          control id            ack  "
           "outcome\n";
    for (const auto& m : messages) {
      char line[200];
      std::snprintf(line, sizeof line, "%-24s %-16s %-13s %-21s %-4s ", m.label.c_str(),
                    dash(m.sending_facility).c_str(), dash(m.message_type).c_str(),
                    dash(m.control_id).c_str(), dash(m.ack_code).c_str());
      out << line << m.outcome;
      if (m.stored_as) out << " (message " << *m.stored_as << ')';
      if (!m.ack_text.empty() && m.outcome != "accepted" && m.outcome != "duplicate")
        out << ": " << m.ack_text;
      out << '\n';
    }
    out << messages.size() << (messages.size() == 1 ? " message" : " messages");
    for (const auto& [what, n] : totals) out << ", " << what << ' ' << n;
    out << '\n';
  }
  if (!sent.failure.empty()) {
    err << "carebridge store replay: " << sent.failure << " (after " << sent.answered << " of "
        << messages.size() << " messages; the rest were not sent)\n";
    return exit_input;
  }
  std::size_t bad = 0;
  for (const auto& m : messages)
    if (m.outcome == "rejected" || m.outcome == "errored" || m.outcome == "unreadable ACK") ++bad;
  if (bad > 0) {
    err << "carebridge store replay: " << bad << " of " << messages.size()
        << " messages were not accepted (stored as rejected with their reason, or to be resent "
           "when errored)\n";
    return exit_input;
  }
  if (issues > 0) {
    err << "carebridge store replay: the file's batch envelope has " << issues
        << (issues == 1 ? " problem" : " problems") << " (see above)\n";
    return exit_input;
  }
  return exit_ok;
}

}  // namespace carebridge::app
