#include "mappings/fhir/datetime_text.hpp"

namespace carebridge::mappings::fhir {

namespace {

// The n digits at s[from…] as a number; false when they are not all there or not all digits.
bool number(std::string_view s, std::size_t from, std::size_t n, int& out) noexcept {
  if (s.size() < from + n) return false;
  int v = 0;
  for (std::size_t i = from; i < from + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

}  // namespace

std::optional<datetime_text> read_datetime_text(std::string_view s) noexcept {
  datetime_text t;
  if (!number(s, 0, 4, t.year)) return std::nullopt;
  if (s.size() == 4) return t;
  if (s.size() < 7 || s[4] != '-' || !number(s, 5, 2, t.month) || t.month < 1 || t.month > 12)
    return std::nullopt;
  if (s.size() == 7) return t;
  if (s.size() < 10 || s[7] != '-' || !number(s, 8, 2, t.day)) return std::nullopt;
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (t.year % 4 == 0 && t.year % 100 != 0) || t.year % 400 == 0;
  if (t.day < 1 || t.day > days[t.month - 1] + (t.month == 2 && leap ? 1 : 0)) return std::nullopt;
  if (s.size() == 10) return t;
  int h = 0, mi = 0, sec = 0;
  if (s[10] != 'T' || s.size() < 19 || !number(s, 11, 2, h) || s[13] != ':' ||
      !number(s, 14, 2, mi) || s[16] != ':' || !number(s, 17, 2, sec) || h > 23 || mi > 59 ||
      sec > 60)
    return std::nullopt;
  t.has_time = true;
  std::size_t p = 19;
  if (p < s.size() && s[p] == '.') {
    const std::size_t first = ++p;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') ++p;
    if (p == first) return std::nullopt;
    t.fraction_digits = p - first;
  }
  if (p == s.size()) return t;
  t.has_zone = true;
  if (s[p] == 'Z') return p + 1 == s.size() ? std::optional(t) : std::nullopt;
  int zh = 0, zm = 0;
  if ((s[p] != '+' && s[p] != '-') || s.size() != p + 6 || !number(s, p + 1, 2, zh) ||
      s[p + 3] != ':' || !number(s, p + 4, 2, zm) || zm > 59 || zh > 14 || (zh == 14 && zm != 0))
    return std::nullopt;
  return t;
}

}  // namespace carebridge::mappings::fhir
