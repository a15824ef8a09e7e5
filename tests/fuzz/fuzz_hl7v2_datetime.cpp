// Fuzz target: DTM values (datetime.hpp) and paths (message.hpp parse_path).
//   - parse_datetime() on arbitrary bytes; a value it accepts is in range (31 April is not), reads
//     the same when written back as a DTM, and its to_iso8601() text (plain and FHIR) has the shape
//     datetime.hpp documents for its precision, with the parsed numbers in it;
//   - parse_path() on arbitrary bytes; a path it accepts has 1-based parts and reads the same when
//     written back in canonical form.
#include "tests/fuzz/fuzz_check.hpp"

#include "mappings/hl7v2/datetime.hpp"
#include "mappings/hl7v2/message.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace {

namespace hl7 = carebridge::mappings::hl7v2;
using prec = hl7::hl7_datetime::precision;

bool leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int month_days(int y, int m) {
  if (m == 2) return leap(y) ? 29 : 28;
  return (m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31;
}

// Reads ISO 8601 text left to right.
struct reader {
  std::string_view s;
  std::size_t pos = 0;

  bool number(std::size_t n, int expected) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = s[pos + i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    pos += n;
    return v == expected;
  }
  bool literal(char c) {
    if (pos >= s.size() || s[pos] != c) return false;
    ++pos;
    return true;
  }
};

// YYYY[-MM[-DD[Thh:mm[:ss[.f]]]]][±hh:mm], as datetime.hpp describes for each precision. The offset
// is written from hour precision on (a FHIR date carries none).
bool iso_matches(const hl7::hl7_datetime& t, std::string_view iso, bool fhir) {
  reader r{iso};
  if (!r.number(4, t.year)) return false;
  if (t.prec >= prec::month && !(r.literal('-') && r.number(2, t.month))) return false;
  if (t.prec >= prec::day && !(r.literal('-') && r.number(2, t.day))) return false;
  if (t.prec >= prec::hour) {
    if (!(r.literal('T') && r.number(2, t.hour) && r.literal(':'))) return false;
    if (!r.number(2, t.prec >= prec::minute ? t.minute : 0)) return false;
    if (t.prec >= prec::second || fhir) {
      if (!(r.literal(':') && r.number(2, t.prec >= prec::second ? t.second : 0))) return false;
    }
  }
  if (t.prec == prec::fraction) {
    if (!r.literal('.') || !r.number(t.fraction_digits, static_cast<int>(t.fraction))) return false;
  }
  if (t.utc_offset_minutes && t.prec >= prec::hour) {
    const int off = *t.utc_offset_minutes;
    const int a = off < 0 ? -off : off;
    if (!r.literal(off < 0 ? '-' : '+')) return false;
    if (!(r.number(2, a / 60) && r.literal(':') && r.number(2, a % 60))) return false;
  }
  return r.pos == iso.size();
}

// The DTM form of a parsed value, for reading it again.
std::string to_dtm(const hl7::hl7_datetime& t) {
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d", t.year);
  const int parts[] = {t.month, t.day, t.hour, t.minute, t.second};
  for (int i = 0; i < 5 && static_cast<int>(t.prec) > i; ++i)
    n += std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), "%02d", parts[i]);
  if (t.prec == prec::fraction)
    n += std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), ".%0*u",
                       static_cast<int>(t.fraction_digits), t.fraction);
  if (t.utc_offset_minutes) {
    const int off = *t.utc_offset_minutes;
    const int a = off < 0 ? -off : off;
    n += std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), "%c%02d%02d",
                       off < 0 ? '-' : '+', a / 60, a % 60);
  }
  return std::string(buf, static_cast<std::size_t>(n));
}

bool same(const hl7::hl7_datetime& a, const hl7::hl7_datetime& b) {
  return a.year == b.year && a.month == b.month && a.day == b.day && a.hour == b.hour &&
         a.minute == b.minute && a.second == b.second && a.fraction == b.fraction &&
         a.fraction_digits == b.fraction_digits && a.prec == b.prec &&
         a.utc_offset_minutes == b.utc_offset_minutes;
}

void check_datetime(std::string_view text) {
  const auto r = hl7::parse_datetime(text);
  if (!r) return;
  const hl7::hl7_datetime& t = *r;
  CB_FUZZ_REQUIRE(t.year >= 0 && t.year <= 9999);
  CB_FUZZ_REQUIRE(t.month >= 1 && t.month <= 12);
  CB_FUZZ_REQUIRE(t.day >= 1 && t.day <= month_days(t.year, t.month));
  CB_FUZZ_REQUIRE(t.hour >= 0 && t.hour <= 23 && t.minute >= 0 && t.minute <= 59);
  CB_FUZZ_REQUIRE(t.second >= 0 && t.second <= 60);
  CB_FUZZ_REQUIRE((t.prec == prec::fraction) == (t.fraction_digits != 0));
  CB_FUZZ_REQUIRE(t.fraction_digits <= 4 && t.fraction < 10'000);
  if (t.utc_offset_minutes) {
    const int off = *t.utc_offset_minutes;
    CB_FUZZ_REQUIRE(off >= -(14 * 60 + 59) && off <= 14 * 60 + 59);
  }
  CB_FUZZ_REQUIRE(iso_matches(t, t.to_iso8601(false), false));
  CB_FUZZ_REQUIRE(iso_matches(t, t.to_iso8601(true), true));
  const auto again = hl7::parse_datetime(to_dtm(t));
  CB_FUZZ_REQUIRE(again.has_value() && same(*again, t));
}

std::string to_text(const hl7::path& p) {
  std::string s(p.segment_id());
  s += '[' + std::to_string(p.occurrence) + "]." + std::to_string(p.field) + '[' +
       std::to_string(p.repetition) + ']';
  if (p.component != 0) s += '.' + std::to_string(p.component);
  if (p.subcomponent != 0) s += '.' + std::to_string(p.subcomponent);
  return s;
}

void check_path(std::string_view text) {
  const auto r = hl7::parse_path(text);
  if (!r) return;
  const hl7::path& p = *r;
  for (char c : p.segment_id()) CB_FUZZ_REQUIRE((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
  CB_FUZZ_REQUIRE(p.occurrence >= 1 && p.field >= 1 && p.repetition >= 1);
  CB_FUZZ_REQUIRE(p.subcomponent == 0 || p.component != 0);
  const auto again = hl7::parse_path(to_text(p));
  CB_FUZZ_REQUIRE(again.has_value());
  CB_FUZZ_REQUIRE(again->segment_id() == p.segment_id() && again->occurrence == p.occurrence &&
                  again->field == p.field && again->repetition == p.repetition &&
                  again->component == p.component && again->subcomponent == p.subcomponent);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = carebridge::fuzz::as_text(data, size);
  check_datetime(input);
  check_path(input);
  // DTM values usually come as the first component of a TS field: try the text before a '^' too.
  if (const std::size_t caret = input.find('^'); caret != std::string_view::npos)
    check_datetime(input.substr(0, caret));
  return 0;
}
