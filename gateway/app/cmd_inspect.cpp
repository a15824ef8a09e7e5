// carebridge inspect: parse HL7 v2 input and show it as JSON, as values at paths, or as ER7.
#include "gateway/app/cli.hpp"
#include "mappings/hl7v2/batch.hpp"
#include "mappings/hl7v2/json.hpp"
#include "mappings/hl7v2/message.hpp"

#include <ostream>

namespace carebridge::app {

namespace hl7 = carebridge::mappings::hl7v2;

namespace {

void write_segment(std::ostream& out, std::string_view seg) {
  if (seg.empty()) return;
  out << seg << '\r';
}

// A message written back in the character set it was read in, so that --er7 reproduces the input.
std::string er7_in_source_charset(const hl7::message& m) {
  const std::string text = m.to_er7();
  const hl7::text_encoding& e = m.encoding();
  if (!e.transcoded || e.invalid_bytes != 0 || e.source == hl7::charset::utf8) return text;
  return hl7::from_utf8(text, e.source);
}

}  // namespace

int cmd_inspect(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<hl7::path> paths;
  std::vector<std::string> path_texts;
  bool er7 = false;
  bool compact = false;
  hl7::parse_options options;
  std::string file;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--get" || a == "--fallback-charset") {
      if (i + 1 == args.size()) {
        err << "carebridge inspect: " << a << " needs a value\n";
        return exit_input;
      }
      const std::string& v = args[++i];
      if (a == "--get") {
        auto p = hl7::parse_path(v);
        if (!p) {
          err << "carebridge inspect: --get " << v << ": " << p.error().message() << '\n';
          return exit_input;
        }
        paths.push_back(*p);
        path_texts.push_back(v);
      } else {
        auto cs = hl7::charset_from_name(v);
        if (!cs) {
          err << "carebridge inspect: --fallback-charset " << v << ": unknown character set\n";
          return exit_input;
        }
        options.fallback_charset = *cs;
      }
    } else if (a == "--er7") {
      er7 = true;
    } else if (a == "--compact") {
      compact = true;
    } else if (a.size() > 1 && a[0] == '-' && a != "-") {
      err << "carebridge inspect: unknown option " << a << '\n';
      return exit_input;
    } else if (file.empty()) {
      file = a;
    } else {
      err << "carebridge inspect: only one FILE may be given\n";
      return exit_input;
    }
  }
  if (file.empty()) {
    err << "carebridge inspect: FILE (or - for standard input) is missing\n";
    return exit_input;
  }
  if (er7 && !paths.empty()) {
    err << "carebridge inspect: --er7 and --get cannot be combined\n";
    return exit_input;
  }

  const auto data = read_input(file, err, "inspect");
  if (!data) return exit_input;
  const auto split = hl7::split_batch(*data);
  if (!split) {
    err << "carebridge inspect: " << file << ": not HL7 v2: " << split.error().describe() << '\n';
    return exit_input;
  }
  std::vector<boost::system::result<hl7::message, hl7::parse_error>> parsed;
  std::size_t failures = 0;
  std::string first_failure;
  for (const auto& b : split->batches) {
    for (std::size_t i = 0; i < b.messages.size(); ++i) {
      parsed.push_back(hl7::parse(b.messages[i], options));
      if (!parsed.back() && failures++ == 0) {
        const hl7::parse_error& e = parsed.back().error();
        first_failure = e.code.message() + " (byte " +
                        std::to_string(b.message_offsets[i] + e.offset) + ")";
      }
    }
  }
  if (!parsed.empty() && failures == parsed.size()) {
    err << "carebridge inspect: " << file << ": not HL7 v2: " << first_failure << '\n';
    return exit_input;
  }

  if (!paths.empty()) {
    for (const auto& m : parsed) {
      if (!m) continue;
      for (const std::string& p : path_texts) {
        std::string v = m->get(p).value();
        // One value per line: a line break inside a value is written as the two characters \n.
        for (std::size_t pos = 0; (pos = v.find('\n', pos)) != std::string::npos; pos += 2)
          v.replace(pos, 1, "\\n");
        out << v << '\n';
      }
    }
  } else if (er7) {
    write_segment(out, split->file_header);
    std::size_t k = 0;
    for (const auto& b : split->batches) {
      write_segment(out, b.header);
      for (std::size_t i = 0; i < b.messages.size(); ++i, ++k) {
        if (parsed[k]) out << er7_in_source_charset(*parsed[k]);
        else write_segment(out, b.messages[i]);  // kept as it came: nothing is dropped
      }
      write_segment(out, b.trailer);
    }
    write_segment(out, split->file_trailer);
  } else {
    out << hl7::to_json(*split, parsed, !compact) << '\n';
  }
  out.flush();
  if (failures != 0) {
    err << "carebridge inspect: " << file << ": " << failures << " of " << parsed.size()
        << " messages are not HL7 v2; first: " << first_failure << '\n';
    return exit_input;
  }
  return exit_ok;
}

}  // namespace carebridge::app
