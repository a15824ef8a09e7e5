// carebridge send: a small MLLP client. Sends the messages of each file (single, concatenated or
// batch), one frame each, waits for each ACK and prints it. Exit 0 when every message got AA/CA.
#include "gateway/app/cli.hpp"
#include "gateway/app/mllp_client.hpp"
#include "mappings/hl7v2/batch.hpp"
#include "mappings/hl7v2/message.hpp"

#include <ostream>
#include <string_view>
#include <utility>

namespace carebridge::app {

namespace hl7 = mappings::hl7v2;

int cmd_send(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  constexpr std::string_view command = "carebridge send";
  mllp_client_options client;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const auto taken = parse_mllp_client_option(args, i, client, command, err);
    if (taken == client_option::bad_value) return exit_input;
    if (taken == client_option::taken) continue;
    if (a.size() > 1 && a[0] == '-' && a != "-") {
      err << "carebridge send: unknown option " << a << '\n';
      return exit_input;
    } else if (client.target.empty()) {
      client.target = a;
    } else {
      files.push_back(a);
    }
  }
  if (client.target.empty() || files.empty()) {
    err << "carebridge send: usage: carebridge send HOST:PORT FILE... [--tls --ca FILE --cert FILE "
           "--key FILE]\n";
    return exit_input;
  }
  if (!check_mllp_client_options(client, command, err)) return exit_input;

  std::vector<std::pair<std::string, std::string>> messages;  // (label, bytes)
  for (const auto& f : files) {
    auto data = read_input(f, err, "send");
    if (!data) return exit_input;
    auto split = hl7::split_batch(*data);
    if (!split) {
      err << "carebridge send: " << f << ": not HL7 v2: " << split.error().describe() << '\n';
      return exit_input;
    }
    const auto msgs = split->messages();
    for (std::size_t i = 0; i < msgs.size(); ++i) {
      std::string m(msgs[i]);
      // Send with the canonical CR terminator, whatever the file used.
      for (std::size_t p = 0; (p = m.find("\r\n", p)) != std::string::npos;) m.erase(p + 1, 1);
      for (char& c : m)
        if (c == '\n') c = '\r';
      messages.emplace_back(f + (msgs.size() > 1 ? " #" + std::to_string(i + 1) : ""),
                            std::move(m));
    }
  }

  std::vector<std::string_view> texts;
  texts.reserve(messages.size());
  for (const auto& [label, bytes] : messages) texts.emplace_back(bytes);
  std::size_t negative = 0;
  auto print_ack = [&](std::size_t index, std::string_view payload) {
    std::string ack(payload);
    for (char& c : ack)
      if (c == '\r') c = '\n';
    out << "# " << messages[index].first << '\n' << ack;
    if (!ack.empty() && ack.back() != '\n') out << '\n';
    auto parsed = hl7::parse(payload);
    const std::string code = parsed ? parsed->get("MSA.1").value() : "";
    if (code != "AA" && code != "CA") ++negative;
  };
  const auto result = send_mllp_messages(client, texts, print_ack);
  if (!result.connect_error.empty()) {
    err << "carebridge send: " << result.connect_error << '\n';
    return exit_input;
  }
  if (!result.failure.empty()) {
    err << "carebridge send: " << result.failure << " (after " << result.answered << " of "
        << messages.size() << " messages)\n";
    return exit_input;
  }
  if (negative != 0) {
    err << "carebridge send: " << negative << " of " << messages.size()
        << " messages were not accepted\n";
    return exit_input;
  }
  return exit_ok;
}

}  // namespace carebridge::app
