// Fuzz target: parse() of one message, every accessor on the result, and the promises of
// message.hpp, json.hpp and ack.hpp:
//   - parse() with and without a windows-1252 fallback agree on success and on the error;
//   - the segment views lie in the message text, which is valid UTF-8 and, unless transcoded, the
//     caller's bytes; MSH-1/MSH-2 of segment 0 are the delimiters parse() reported;
//   - to_er7() is the input after terminator normalisation (untranscoded), and parses again to the
//     same segments and the same to_er7(); a transcoded message does so once written back in its
//     source character set;
//   - append_json() is valid JSON (UTF-8 included) with one entry per segment;
//   - build_ack() answers exactly when ack.hpp says (original mode, else MSH-15, else MSH-16), and
//     its ACK parses with the inbound delimiters, MSA-1 = the code, MSA-2 = the inbound MSH-10, the
//     error text intact.
#include "tests/fuzz/fuzz_check.hpp"

#include "mappings/hl7v2/ack.hpp"
#include "mappings/hl7v2/charset.hpp"
#include "mappings/hl7v2/json.hpp"
#include "mappings/hl7v2/message.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace hl7 = carebridge::mappings::hl7v2;
using carebridge::fuzz::within;

// nth_piece() scans from the start of its element, so visiting every field of a 64 KiB segment one
// by one would be quadratic; the walk visits this many of each kind (plus one past the end).
constexpr std::uint32_t walk_limit = 48;

bool is_eol(char c) {
  return c == '\r' || c == '\n';
}

// The input as message.hpp says to_er7() gives it back: without a leading UTF-8 byte-order mark,
// each run of CR/LF one `\r`, a `\r` after the last segment, nothing before the first.
std::string normalised(std::string_view in) {
  if (in.substr(0, 3) == "\xEF\xBB\xBF") in.remove_prefix(3);
  std::string out;
  std::size_t i = 0;
  while (i < in.size()) {
    while (i < in.size() && is_eol(in[i])) ++i;
    const std::size_t start = i;
    while (i < in.size() && !is_eol(in[i])) ++i;
    if (i > start) {
      out.append(in.substr(start, i - start));
      out.push_back('\r');
    }
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool same_delimiters(const hl7::delimiters& a, const hl7::delimiters& b) {
  return a.field == b.field && a.component == b.component && a.repetition == b.repetition &&
         a.escape == b.escape && a.subcomponent == b.subcomponent && a.truncation == b.truncation;
}

// Both forms of decoded() agree, and a value without the escape character decodes to itself.
void check_leaf(const hl7::element& e, char esc, std::string& scratch) {
  const std::string full = e.decoded();
  CB_FUZZ_REQUIRE(e.decoded(scratch) == full);
  if (esc == '\0' || e.raw().find(esc) == std::string_view::npos) CB_FUZZ_REQUIRE(full == e.raw());
}

// Visits segments, fields, repetitions, components and sub-components (bounded, see walk_limit).
void walk(const hl7::message& m) {
  std::string scratch;
  const hl7::delimiters& d = m.delims();
  for (std::size_t i = 0; i < m.segment_count(); ++i) {
    const hl7::segment_view seg = m.segment(i);
    CB_FUZZ_REQUIRE(!seg.raw().empty());
    CB_FUZZ_REQUIRE(within(seg.raw(), m.text()));
    CB_FUZZ_REQUIRE(seg.raw().find_first_of("\r\n") == std::string_view::npos);
    const std::string_view id = seg.id();
    CB_FUZZ_REQUIRE(id.find(d.field) == std::string_view::npos);
    const std::uint32_t fields = seg.field_count();
    CB_FUZZ_REQUIRE(seg.field(fields + 1).empty());
    CB_FUZZ_REQUIRE(seg.field(0).empty());
    for (std::uint32_t f = 1; f <= std::min(fields, walk_limit); ++f) {
      const hl7::element field = seg.field(f);
      CB_FUZZ_REQUIRE(within(field.raw(), seg.raw()));
      CB_FUZZ_REQUIRE(field.raw().find(d.field) == std::string_view::npos || f == 1);
      check_leaf(field, d.escape, scratch);
      const std::uint32_t reps = field.repetition_count();
      CB_FUZZ_REQUIRE(field.repetition(reps + 1).empty());
      for (std::uint32_t r = 1; r <= std::min(reps, walk_limit); ++r) {
        const hl7::element rep = field.repetition(r);
        CB_FUZZ_REQUIRE(within(rep.raw(), field.raw()));
        const std::uint32_t comps = rep.component_count();
        CB_FUZZ_REQUIRE(rep.component(comps + 1).empty());
        for (std::uint32_t c = 1; c <= std::min(comps, walk_limit); ++c) {
          const hl7::element comp = rep.component(c);
          CB_FUZZ_REQUIRE(within(comp.raw(), rep.raw()));
          const std::uint32_t subs = comp.subcomponent_count();
          CB_FUZZ_REQUIRE(comp.subcomponent(subs + 1).empty());
          for (std::uint32_t s = 1; s <= std::min(subs, walk_limit); ++s) {
            const hl7::element sub = comp.subcomponent(s);
            CB_FUZZ_REQUIRE(within(sub.raw(), comp.raw()));
            (void)sub.is_null();
            check_leaf(sub, d.escape, scratch);
          }
        }
      }
    }
  }
}

void check_paths(const hl7::message& m) {
  static constexpr std::string_view paths[] = {"MSH.1",     "MSH.2",  "MSH.9.1",    "MSH.9.2",
                                               "MSH.10",    "MSH.18", "PID.3[2].1", "PID.5.1.2",
                                               "pid.5-1",   "PV1.19", "OBX[2].5",   "ZZ1.1",
                                               "EVN.2.1.1", "MSH.0",  "MSH[2].3.1", "DG1[3].3.2"};
  for (std::string_view p : paths) {
    const auto r = m.get(p);
    const bool well_formed = p != "MSH.0";
    CB_FUZZ_REQUIRE(r.has_value() == well_formed);
  }
  if (const auto msh = m.find("MSH"); msh && m.segment(0).id() == "MSH") {
    CB_FUZZ_REQUIRE(*m.get("MSH.1") == std::string(1, m.delims().field));
    CB_FUZZ_REQUIRE(*m.get("MSH.2") == m.delims().encoding_characters());
  }
  (void)m.count("PID");
  (void)m.sending_application();
  (void)m.sending_facility();
  (void)m.message_type();
  (void)m.trigger_event();
  (void)m.processing_id();
  (void)m.version();
}

void check_json(const hl7::message& m) {
  std::string out = "#";
  hl7::append_json(m, out);
  CB_FUZZ_REQUIRE(out.size() > 1 && out[0] == '#');
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(out.data() + 1, out.size() - 1);
  CB_FUZZ_REQUIRE(!doc.HasParseError());
  CB_FUZZ_REQUIRE(doc.IsObject());
  CB_FUZZ_REQUIRE(doc.HasMember("segments") && doc["segments"].IsArray());
  CB_FUZZ_REQUIRE(doc["segments"].Size() == m.segment_count());
  CB_FUZZ_REQUIRE(doc.HasMember("control_id") && doc["control_id"].IsString());
  CB_FUZZ_REQUIRE(std::string_view(doc["control_id"].GetString(),
                                   doc["control_id"].GetStringLength()) == m.control_id());
}

// to_er7() must give back what parse() read (message.hpp), and parse to the same message again.
void check_round_trip(const hl7::message& m, std::string_view input, const hl7::parse_options& o) {
  const std::string er7 = m.to_er7();
  const hl7::text_encoding& enc = m.encoding();
  if (!enc.transcoded) {
    CB_FUZZ_REQUIRE(er7 == normalised(input));
    const auto again = hl7::parse(er7, o);
    CB_FUZZ_REQUIRE(again.has_value());
    CB_FUZZ_REQUIRE(!again->encoding().transcoded);
    CB_FUZZ_REQUIRE(again->segment_count() == m.segment_count());
    CB_FUZZ_REQUIRE(again->to_er7() == er7);
    return;
  }
  // Transcoded: to_er7() is UTF-8 while MSH-18 still names the source set, so it is written back
  // in that set first (as `carebridge inspect --er7` does). Only lossless reads can come back.
  if (enc.invalid_bytes != 0 || enc.source == hl7::charset::utf8) return;
  std::size_t unencodable = 0;
  const std::string back = hl7::from_utf8(er7, enc.source, &unencodable);
  if (unencodable != 0) return;
  const auto again = hl7::parse(back, o);
  CB_FUZZ_REQUIRE(again.has_value());
  CB_FUZZ_REQUIRE(again->segment_count() == m.segment_count());
  CB_FUZZ_REQUIRE(again->to_er7() == er7);
}

// The ACK that ack.hpp promises for an outcome, written independently of ack.cpp: in original mode
// always, with AA/AE/AR. In enhanced mode (MSH-15 or MSH-16 valued) the accept ACK (CA/CE/CR) when
// MSH-15 wants one for the outcome; if not, the application ACK (AA/AE/AR) when MSH-16 wants one;
// if neither, none. AL, empty or unknown = always, NE = never, ER = error/reject, SU = success.
std::optional<hl7::ack_mode> expected_ack(const hl7::message& m, hl7::disposition d) {
  const hl7::segment_view msh = m.segment(0);
  const std::string_view accept = trim(msh.field(15).raw());
  const std::string_view application = trim(msh.field(16).raw());
  if (accept.empty() && application.empty()) return hl7::ack_mode::original;
  const bool ok = d == hl7::disposition::accepted;
  auto wanted = [ok](std::string_view condition) {
    if (condition == "NE") return false;
    if (condition == "ER") return !ok;
    if (condition == "SU") return ok;
    return true;
  };
  if (wanted(accept)) return hl7::ack_mode::enhanced;
  if (wanted(application)) return hl7::ack_mode::original;
  return std::nullopt;
}

void check_acks(const hl7::message& m) {
  static constexpr std::string_view user_text = "bad |^~\\&# value\r\nline 2 \\.br\\ \\X41\\";
  const hl7::ack_context ctx{"CBACK0042", "20261122143005.123+0000"};
  const hl7::ack_error err{hl7::error_condition::data_type_error, user_text, "PID", 2, 3};
  const hl7::segment_view msh = m.segment(0);
  for (const hl7::disposition d :
       {hl7::disposition::accepted, hl7::disposition::errored, hl7::disposition::rejected}) {
    const std::optional<hl7::ack_mode> mode = expected_ack(m, d);
    const auto ack = hl7::build_ack(m, d, ctx, d == hl7::disposition::accepted ? nullptr : &err);
    CB_FUZZ_REQUIRE(ack.has_value() == mode.has_value());
    if (!ack) continue;
    CB_FUZZ_REQUIRE(ack->code == hl7::ack_code(d, *mode));
    const auto a = hl7::parse(ack->text);
    CB_FUZZ_REQUIRE(a.has_value());
    CB_FUZZ_REQUIRE(same_delimiters(a->delims(), m.delims()));
    // The ACK is UTF-8 text that echoes MSH-18: when that names another set and the echoed
    // fields are not ASCII, parse() reads it in that set and the values below change form.
    if (a->encoding().transcoded) continue;
    CB_FUZZ_REQUIRE(a->segment_count() == (d == hl7::disposition::accepted ? 2u : 3u));
    CB_FUZZ_REQUIRE(a->segment(0).id() == "MSH");
    CB_FUZZ_REQUIRE(a->message_type() == "ACK");
    CB_FUZZ_REQUIRE(a->control_id() == ctx.control_id);
    CB_FUZZ_REQUIRE(a->segment(0).field(3).raw() == msh.field(5).raw());
    CB_FUZZ_REQUIRE(a->segment(0).field(5).raw() == msh.field(3).raw());
    const auto msa = a->find("MSA");
    CB_FUZZ_REQUIRE(msa.has_value());
    CB_FUZZ_REQUIRE(msa->field(1).raw() == ack->code);
    CB_FUZZ_REQUIRE(msa->field(2).raw() == msh.field(10).raw());
    if (d == hl7::disposition::accepted) continue;
    const auto err_seg = a->find("ERR");
    CB_FUZZ_REQUIRE(err_seg.has_value());
    // The caller's text comes back intact (ERR-8 from v2.5, MSA-3 before) when the message has an
    // escape character to escape it with and \Xhh\ means bytes of UTF-8.
    const bool utf8 =
        a->encoding().source == hl7::charset::utf8 || a->encoding().source == hl7::charset::ascii;
    if (a->delims().escape != '\0' && utf8) {
      const std::string err8 = err_seg->field(8).repetition(1).decoded();
      const std::string msa3 = msa->field(3).repetition(1).decoded();
      CB_FUZZ_REQUIRE(err8 == user_text || msa3 == user_text);
    }
  }
}

void check_reject_for_unparseable() {
  const hl7::ack_error err{hl7::error_condition::application_internal_error, "no MSH", {}, 1, 0};
  const hl7::built_ack b = hl7::build_reject_for_unparseable({"CBACK0043", "20261122"}, err);
  const auto a = hl7::parse(b.text);
  CB_FUZZ_REQUIRE(a.has_value() && a->segment_count() == 3);
  CB_FUZZ_REQUIRE(b.code == "AR" && *a->get("MSA.1") == "AR");
}

void check_message(const hl7::message& m, std::string_view input, const hl7::parse_options& o) {
  CB_FUZZ_REQUIRE(m.segment_count() >= 1);
  CB_FUZZ_REQUIRE(hl7::is_valid_utf8(m.text()));
  CB_FUZZ_REQUIRE(m.encoding().transcoded != within(m.text(), input));
  const hl7::delimiters& d = m.delims();
  const hl7::segment_view msh = m.segment(0);
  // Segment 0 is the MSH whose delimiters were read (an MSH-18 of UTF-16/32 on 8-bit text once
  // broke this: regress_msh18_utf16_on_8bit*).
  const bool header_intact = msh.id() == "MSH" &&
                             msh.field(1).raw() == std::string_view(&d.field, 1) &&
                             msh.field(2).raw() == d.encoding_characters();
  CB_FUZZ_REQUIRE(header_intact);
  walk(m);
  check_paths(m);
  check_round_trip(m, input, o);
  check_json(m);
  check_acks(m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = carebridge::fuzz::as_text(data, size);

  const hl7::parse_options plain;
  hl7::parse_options cp1252;
  cp1252.fallback_charset = hl7::charset::windows_1252;
  hl7::parse_options few;
  few.max_segments = 3;

  const auto a = hl7::parse(input, plain);
  const auto b = hl7::parse(input, cp1252);
  const auto c = hl7::parse(input, few);

  // Every error is found before any conversion, so the fallback cannot change the outcome.
  CB_FUZZ_REQUIRE(a.has_value() == b.has_value());
  if (!a) {
    CB_FUZZ_REQUIRE(a.error().code == b.error().code && a.error().offset == b.error().offset);
    CB_FUZZ_REQUIRE(a.error().offset <= size);
    CB_FUZZ_REQUIRE(!a.error().describe().empty());
    CB_FUZZ_REQUIRE(!c.has_value());
    if (size < 8) check_reject_for_unparseable();
    return 0;
  }
  CB_FUZZ_REQUIRE(c.has_value() == (a->segment_count() <= few.max_segments));
  check_message(*a, input, plain);
  check_message(*b, input, cp1252);
  // The fallback only applies to bytes that are not UTF-8, or to an MSH-18 we do not know.
  if (!a->encoding().transcoded && !a->encoding().unknown_declared)
    CB_FUZZ_REQUIRE(b->to_er7() == a->to_er7());
  return 0;
}
