// Fuzz target: split_batch() on arbitrary bytes, then parse() of every message it found, then the
// JSON document of the whole input. Checks the promises of batch.hpp:
//   - it fails only when no segment starts with MSH, FHS, BHS, BTS or FTS;
//   - nothing is lost: there are as many messages as segments starting with MSH (counted by a scan
//     written here, independently of the splitter);
//   - each message is a view into the input, starts with MSH at its recorded offset and ends where
//     a segment ends; messages follow one another without overlapping;
//   - parse() of each message fails only on its MSH line (truncated_msh / bad_delimiters);
//   - to_json() of the result is valid JSON (UTF-8 included) with one entry per message.
#include "tests/fuzz/fuzz_check.hpp"

#include "mappings/hl7v2/batch.hpp"
#include "mappings/hl7v2/charset.hpp"
#include "mappings/hl7v2/error.hpp"
#include "mappings/hl7v2/json.hpp"
#include "mappings/hl7v2/message.hpp"

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace hl7 = carebridge::mappings::hl7v2;
using carebridge::fuzz::within;

bool is_eol(char c) {
  return c == '\r' || c == '\n';
}

bool is_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

struct scan_result {
  std::size_t msh = 0;       // segments that open a message
  std::size_t envelope = 0;  // FHS, BHS, BTS, FTS segments
};

// Segments are the non-empty runs between CR/LF bytes (after an optional UTF-8 byte-order mark);
// one opens a message when it is "MSH" followed by a delimiter (not a letter or digit).
scan_result scan(std::string_view in) {
  if (in.substr(0, 3) == "\xEF\xBB\xBF") in.remove_prefix(3);
  scan_result r;
  std::size_t i = 0;
  while (i < in.size()) {
    const std::size_t start = i;
    while (i < in.size() && !is_eol(in[i])) ++i;
    const std::string_view seg = in.substr(start, i - start);
    if (seg.size() >= 4 && !is_alnum(seg[3])) {
      const std::string_view id = seg.substr(0, 3);
      if (id == "MSH") ++r.msh;
      if (id == "FHS" || id == "BHS" || id == "BTS" || id == "FTS") ++r.envelope;
    }
    ++i;
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = carebridge::fuzz::as_text(data, size);
  const scan_result expected = scan(input);

  const auto split = hl7::split_batch(input);
  if (!split) {
    CB_FUZZ_REQUIRE(expected.msh == 0 && expected.envelope == 0);
    const auto code = split.error().code;
    CB_FUZZ_REQUIRE(code == hl7::error::empty_input || code == hl7::error::no_msh);
    CB_FUZZ_REQUIRE(split.error().offset <= size);
    return 0;
  }
  const hl7::batch_file& file = *split;
  CB_FUZZ_REQUIRE(expected.msh + expected.envelope > 0);
  CB_FUZZ_REQUIRE(file.message_count() == expected.msh);

  const std::vector<std::string_view> messages = file.messages();
  CB_FUZZ_REQUIRE(messages.size() == expected.msh);
  const char* previous_end = input.data();
  for (const hl7::batch_group& g : file.batches) {
    CB_FUZZ_REQUIRE(g.messages.size() == g.message_offsets.size());
    CB_FUZZ_REQUIRE(within(g.header, input) && within(g.trailer, input));
    for (std::size_t i = 0; i < g.messages.size(); ++i) {
      const std::string_view msg = g.messages[i];
      CB_FUZZ_REQUIRE(within(msg, input));
      CB_FUZZ_REQUIRE(msg.substr(0, 3) == "MSH");
      CB_FUZZ_REQUIRE(static_cast<std::size_t>(msg.data() - input.data()) == g.message_offsets[i]);
      CB_FUZZ_REQUIRE(msg.data() >= previous_end);
      previous_end = msg.data() + msg.size();
      CB_FUZZ_REQUIRE(previous_end == input.data() + input.size() || is_eol(*previous_end));
      CB_FUZZ_REQUIRE(!is_eol(msg.back()));
    }
  }
  CB_FUZZ_REQUIRE(within(file.file_header, input) && within(file.file_trailer, input));
  for (const hl7::batch_issue& issue : file.issues) {
    CB_FUZZ_REQUIRE(issue.offset <= size);
    CB_FUZZ_REQUIRE(!issue.describe().empty());
  }
  (void)file.is_envelope();

  std::vector<boost::system::result<hl7::message, hl7::parse_error>> parsed;
  parsed.reserve(messages.size());
  for (const std::string_view msg : messages) {
    parsed.push_back(hl7::parse(msg));
    const auto& m = parsed.back();
    if (m) {
      CB_FUZZ_REQUIRE(m->segment_count() >= 1);
    } else {
      // The view starts with "MSH": only the delimiters can be wrong.
      const auto code = m.error().code;
      CB_FUZZ_REQUIRE(code == hl7::error::truncated_msh || code == hl7::error::bad_delimiters);
      CB_FUZZ_REQUIRE(m.error().offset <= msg.size());
    }
  }

  const std::string json = hl7::to_json(file, parsed, size % 2 == 0);
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  CB_FUZZ_REQUIRE(!doc.HasParseError());
  CB_FUZZ_REQUIRE(doc.IsObject() && doc.HasMember("messages") && doc["messages"].IsArray());
  CB_FUZZ_REQUIRE(doc["messages"].Size() == parsed.size());
  return 0;
}
