#include "mappings/hl7v2/datetime.hpp"

#include <cstdio>

namespace carebridge::mappings::hl7v2 {
namespace {

bool leap(int y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in(int y, int m) noexcept {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) noexcept {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

}  // namespace

boost::system::result<hl7_datetime> parse_datetime(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  hl7_datetime t;
  const error bad = error::bad_datetime;

  // Split off the offset: the last '+' or '-' (a date never contains one).
  std::string_view body = text;
  // (A loop: find_first_of would call memchr on "+-" once per character of the text.)
  std::size_t sign = 0;
  while (sign < text.size() && text[sign] != '+' && text[sign] != '-') ++sign;
  if (sign == text.size()) sign = std::string_view::npos;
  if (sign != std::string_view::npos) {
    body = text.substr(0, sign);
    const std::string_view off = text.substr(sign + 1);
    int hh = 0;
    int mm = 0;
    if (off.size() != 4 || !digits(off, 0, 2, hh) || !digits(off, 2, 2, mm) || hh > 14 || mm > 59)
      return bad;
    const int minutes = hh * 60 + mm;
    t.utc_offset_minutes = text[sign] == '-' ? -minutes : minutes;
  }

  const std::size_t dot = body.find('.');
  const std::string_view main = body.substr(0, dot);
  if (!digits(main, 0, 4, t.year)) return bad;
  t.prec = hl7_datetime::precision::year;
  struct part {
    int* value;
    hl7_datetime::precision prec;
  };
  const part parts[] = {{&t.month, hl7_datetime::precision::month},
                        {&t.day, hl7_datetime::precision::day},
                        {&t.hour, hl7_datetime::precision::hour},
                        {&t.minute, hl7_datetime::precision::minute},
                        {&t.second, hl7_datetime::precision::second}};
  std::size_t pos = 4;
  for (const part& pt : parts) {
    if (pos == main.size()) break;
    if (!digits(main, pos, 2, *pt.value)) return bad;
    t.prec = pt.prec;
    pos += 2;
  }
  if (pos != main.size()) return bad;
  if (t.month < 1 || t.month > 12) return bad;
  if (t.day < 1 || t.day > days_in(t.year, t.month)) return bad;
  if (t.hour > 23 || t.minute > 59 || t.second > 60) return bad;

  if (dot != std::string_view::npos) {
    if (t.prec != hl7_datetime::precision::second) return bad;  // fraction only after seconds
    const std::string_view frac = body.substr(dot + 1);
    if (frac.empty() || frac.size() > 4) return bad;
    int v = 0;
    if (!digits(frac, 0, frac.size(), v)) return bad;
    t.fraction = static_cast<std::uint32_t>(v);
    t.fraction_digits = static_cast<std::uint8_t>(frac.size());
    t.prec = hl7_datetime::precision::fraction;
  }
  return t;
}

std::string hl7_datetime::to_iso8601(bool fhir) const {
  char buf[iso8601_max];
  return std::string(buf, write_iso8601(buf, fhir));
}

std::size_t hl7_datetime::write_iso8601(char* out, bool fhir) const {
  // Written digit by digit (snprintf was a visible share of the v2 → FHIR mapper's time). At most
  // 4+3+3+3+3+3 + 1+9 + 6 = 35 bytes.
  char* const buf = out;
  char* p = out;
  auto digits = [&](unsigned v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      p[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    p += width;
  };
  auto two = [&](char sep, int v) {
    *p++ = sep;
    digits(static_cast<unsigned>(v < 0 ? 0 : v), 2);
  };
  digits(static_cast<unsigned>(year < 0 ? 0 : year > 9999 ? 9999 : year), 4);
  if (prec >= precision::month) two('-', month);
  if (prec >= precision::day) two('-', day);
  if (prec >= precision::hour) two('T', hour);
  if (prec >= precision::hour) two(':', prec >= precision::minute ? minute : 0);
  if (prec >= precision::second || (fhir && prec >= precision::hour))
    two(':', prec >= precision::second ? second : 0);
  if (prec == precision::fraction && fraction_digits > 0) {
    *p++ = '.';
    const int width = fraction_digits > 9 ? 9 : fraction_digits;
    digits(fraction, width);
  }
  if (utc_offset_minutes && prec >= precision::hour) {
    const int off = *utc_offset_minutes;
    const int a = off < 0 ? -off : off;
    *p++ = off < 0 ? '-' : '+';
    digits(static_cast<unsigned>(a / 60 % 100), 2);
    two(':', a % 60);
  }
  return static_cast<std::size_t>(p - buf);
}

}  // namespace carebridge::mappings::hl7v2
