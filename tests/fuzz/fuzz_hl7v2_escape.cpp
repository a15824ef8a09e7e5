// Fuzz target: escape sequences (escape.hpp).
//   - escape() then unescape() gives back any text (NUL and invalid UTF-8 included: escape() never
//     writes \X00\, the only form whose NUL bytes decoding drops) with the default delimiters, and
//     with any delimiter set parse() would accept (taken from the first bytes of the input);
//   - the escaped form is one leaf value: no CR, LF or delimiter outside escape sequences;
//   - decode_escapes() on arbitrary bytes with arbitrary delimiters (NUL ones included) in any
//     character set does not crash, appends to what `out` held and, without an escape character,
//     copies the input.
#include "tests/fuzz/fuzz_check.hpp"

#include "mappings/hl7v2/charset.hpp"
#include "mappings/hl7v2/escape.hpp"
#include "mappings/hl7v2/message.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace hl7 = carebridge::mappings::hl7v2;

constexpr std::size_t charset_count = static_cast<std::size_t>(hl7::charset::big5) + 1;

// What parse() accepts for MSH-1/MSH-2 (message.cpp read_delimiters, error::bad_delimiters):
// printable ASCII that is not a letter, digit or space.
bool usable(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x21 || u >= 0x7F) return false;
  return !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
}

bool distinct_usable(const hl7::delimiters& d) {
  const char all[] = {d.field, d.component, d.repetition, d.escape, d.subcomponent, d.truncation};
  const std::size_t n = d.truncation == '\0' ? 5 : 6;
  for (std::size_t i = 0; i < n; ++i) {
    if (!usable(all[i])) return false;
    for (std::size_t j = 0; j < i; ++j)
      if (all[i] == all[j]) return false;
  }
  return true;
}

// The escaped form holds delimiters only inside escape sequences, which are made of letters and
// digits between two escape characters.
void check_escaped(std::string_view escaped, const hl7::delimiters& d) {
  bool inside = false;
  for (char c : escaped) {
    CB_FUZZ_REQUIRE(c != '\r' && c != '\n');
    if (c == d.escape) {
      inside = !inside;
      continue;
    }
    if (inside) {
      CB_FUZZ_REQUIRE((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'));
      continue;
    }
    CB_FUZZ_REQUIRE(c != d.field && c != d.component && c != d.repetition && c != d.subcomponent &&
                    (d.truncation == '\0' || c != d.truncation));
  }
  CB_FUZZ_REQUIRE(!inside);
}

void round_trip(std::string_view text, const hl7::delimiters& d) {
  const std::string escaped = hl7::escape(text, d);
  check_escaped(escaped, d);
  CB_FUZZ_REQUIRE(hl7::unescape(escaped, d, hl7::charset::utf8) == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = carebridge::fuzz::as_text(data, size);

  round_trip(input, hl7::delimiters{});

  // Arbitrary decoding: the default set in every character set, then whatever the input says.
  std::string out = "kept";
  hl7::decode_escapes(input, hl7::delimiters{}, hl7::charset::utf8, out);
  CB_FUZZ_REQUIRE(std::string_view(out).substr(0, 4) == "kept");
  CB_FUZZ_REQUIRE(hl7::is_valid_utf8(input) == false || hl7::is_valid_utf8(out));

  if (size < 7) return 0;
  hl7::delimiters d;
  d.field = input[0];
  d.component = input[1];
  d.repetition = input[2];
  d.escape = input[3];
  d.subcomponent = input[4];
  d.truncation = input[5];
  const auto cs = static_cast<hl7::charset>(static_cast<unsigned char>(input[6]) % charset_count);
  const std::string_view rest = input.substr(7);

  out.clear();
  hl7::decode_escapes(rest, d, cs, out);
  if (d.escape == '\0') CB_FUZZ_REQUIRE(out == rest);
  (void)hl7::escape(rest, d);  // any set, NUL members included: must not crash

  if (d.truncation != '\0' && !usable(d.truncation)) d.truncation = '\0';
  if (distinct_usable(d)) round_trip(rest, d);
  return 0;
}
