// carebridge convert: HL7 v2 message(s) → FHIR R4 transaction Bundle(s), JSON on stdout.
#include "gateway/app/cli.hpp"
#include "gateway/config/config.hpp"
#include "mappings/event/clinical_event.hpp"
#include "mappings/fhir/v2_to_fhir.hpp"
#include "mappings/hl7v2/batch.hpp"
#include "mappings/hl7v2/message.hpp"

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <ostream>

namespace carebridge::app {

namespace hl7 = carebridge::mappings::hl7v2;
namespace fhir = carebridge::mappings::fhir;

namespace {

std::string pretty(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 2);
  d.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

int cmd_convert(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string file, config_file;
  bool compact = false, event = false, verbose = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--config") {
      if (i + 1 == args.size()) {
        err << "carebridge convert: --config needs a value\n";
        return exit_input;
      }
      config_file = args[++i];
    } else if (a == "--compact") {
      compact = true;
    } else if (a == "--event") {
      event = true;
    } else if (a == "--verbose") {
      verbose = true;
    } else if (a.size() > 1 && a[0] == '-' && a != "-") {
      err << "carebridge convert: unknown option " << a << '\n';
      return exit_input;
    } else if (file.empty()) {
      file = a;
    } else {
      err << "carebridge convert: only one FILE may be given\n";
      return exit_input;
    }
  }
  if (file.empty()) {
    err << "carebridge convert: FILE (or - for standard input) is missing\n";
    return exit_input;
  }
  gateway::config::config cfg;
  if (!config_file.empty()) {
    try {
      cfg = gateway::config::load_file(config_file);
    } catch (const gateway::config::config_error& e) {
      err << "carebridge convert: " << e.what() << '\n';
      return exit_input;
    }
  }
  const auto input = read_input(file, err, "convert");
  if (!input) return exit_input;

  auto split = hl7::split_batch(*input);
  if (!split) {
    err << "carebridge convert: " << file << ": not HL7 v2: " << split.error().describe() << '\n';
    return exit_input;
  }
  std::vector<std::string_view> messages;
  for (const auto& b : split->batches)
    messages.insert(messages.end(), b.messages.begin(), b.messages.end());
  // Several messages: one compact document per line (NDJSON); one message: pretty unless --compact.
  const bool ndjson = messages.size() > 1;
  int failures = 0;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const std::string where = messages.size() > 1 ? " message " + std::to_string(i + 1) : "";
    auto parsed = hl7::parse(messages[i]);
    if (!parsed) {
      err << "carebridge convert: " << file << where << ": " << parsed.error().describe() << '\n';
      ++failures;
      continue;
    }
    fhir::convert_options options;
    const std::string facility(parsed->segment(0).field(4).component(1).raw());
    if (auto it = cfg.facilities.find(facility); it != cfg.facilities.end())
      options.sender = &it->second;
    auto converted = fhir::convert(*parsed, options);
    if (!converted) {
      err << "carebridge convert: " << file << where << " (control id " << parsed->control_id()
          << "): " << converted.error().message() << '\n';
      ++failures;
      continue;
    }
    const std::string json = event ? mappings::event::to_json(converted->event) : converted->bundle;
    out << (compact || ndjson ? json : pretty(json)) << '\n';
    if (verbose) {
      for (const auto& u : converted->unmapped)
        err << "carebridge convert:" << where << " unmapped " << u.table << " code " << u.code
            << '\n';
      for (const auto& n : converted->notes)
        err << "carebridge convert:" << where << " note: " << n << '\n';
    }
  }
  return failures == 0 ? exit_ok : exit_input;
}

}  // namespace carebridge::app
