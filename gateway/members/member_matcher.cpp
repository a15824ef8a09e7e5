#include "gateway/members/member_matcher.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <unordered_map>
#include <utility>

// The weights (match_weights, log2 likelihood ratios). m = P(outcome | same person), u =
// P(outcome | different people) among the candidates a block brings together (people who share a
// birth date, or a family-name sound and birth year), as assumed for a regional US plan; rounded
// to halves and checked on the generated roster (tests/unit/member_matching_quality_test.cpp).
//
//   family   exact      m .85  u .005  → +7.4 → 7     (common names are ~1%; most far rarer)
//            name_part  m .05  u .0015 → +5           (Garcia-Lopez ~ Garcia; double names)
//            typo       m .04  u .002  → +4.3 → 4.5
//            disagree   m .06  u .99   → -4.0         (marriage changes names: mild)
//   given    exact      m .80  u .012  → +6.1 → 6
//            nickname   m .08  u .004  → +4.3 → 4.5   (Bill ~ William)
//            name_part  m .04  u .002  → +4.3 → 4.5   (Mary Ann ~ Mary)
//            typo       m .03  u .003  → +3.3 → 3.5
//            initial    m .01  u .005  → +1
//            disagree   m .03  u .97   → -5.0         (twins differ here, and only here)
//   swapped  both names matched crosswise: -1 on top of the two name weights
//   birth    exact      m .95  u .001  → +9.9 → 10    (u: share a block, same date)
//            near       m .03  u .001  → +4.9 → 5     (transposed, one digit, month/day swapped)
//            year_typo  m .005 u .0015 → +1.5         (a parent/child with one name: never auto)
//            disagree   m .015 u .997  → -6.1 → -8    (rounded down: a wrong date is a wrong
//            person)
//   sex      exact      m .98  u .5    → +1
//            disagree   m .02  u .5    → -4.6 → -4
//   postal   exact      m .80  u .05   → +4           (5 digits)
//            prefix     m .05  u .025  → +1           (3 digits: moved nearby)
//            disagree   m .15  u .92   → -2.6 → -1.5  (people move; households share one)
//   phone    exact      m .55  u .017  → +5
//            disagree   m .45  u .98   → -1.1 → -1    (new phones are common)
//
// A full agreement scores 33, name + birth date + sex 17 + 10 + 1 = 24; auto_link needs 20 and
// both names and the birth date, so the birth date alone (10) or the names alone (13) never link.

namespace carebridge::gateway::members {

namespace {

// --- Small helpers -------------------------------------------------------------------------------

constexpr char to_upper(char c) noexcept {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}
constexpr char to_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Identifiers are compared as normalize_id() has them (upper case, no spaces, tabs, dashes) and
// systems trimmed and in lower case; both are read from the raw text, without building strings.
constexpr bool id_filler(char c) noexcept {
  return c == ' ' || c == '\t' || c == '-';
}
bool empty_id(std::string_view raw) noexcept {
  return std::all_of(raw.begin(), raw.end(), id_filler);
}
bool same_id(std::string_view a, std::string_view b) noexcept {
  std::size_t i = 0, j = 0;
  for (;; ++i, ++j) {
    while (i < a.size() && id_filler(a[i])) ++i;
    while (j < b.size() && id_filler(b[j])) ++j;
    if (i == a.size() || j == b.size()) return i == a.size() && j == b.size();
    if (to_upper(a[i]) != to_upper(b[j])) return false;
  }
}
bool same_system(std::string_view a, std::string_view b) noexcept {
  a = trim(a);
  b = trim(b);
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return to_lower(x) == to_lower(y);
         });
}

// FNV-1a, 64 bits: stable keys for the postings (a collision only adds a candidate; identifier
// hits are verified against the member).
class key_builder {
 public:
  explicit key_builder(char tag) noexcept { add(std::string_view(&tag, 1)); }
  key_builder& add(std::string_view s) noexcept {
    for (char c : s) mix(c);
    return separator();
  }
  key_builder& add(std::uint32_t v) noexcept {
    const char bytes[4] = {static_cast<char>(v & 0xFF), static_cast<char>((v >> 8) & 0xFF),
                           static_cast<char>((v >> 16) & 0xFF), static_cast<char>(v >> 24)};
    return add(std::string_view(bytes, 4));
  }
  key_builder& add_id(std::string_view raw) noexcept {  // as add(normalize_id(raw))
    for (char c : raw)
      if (!id_filler(c)) mix(to_upper(c));
    return separator();
  }
  key_builder& add_system(std::string_view raw) noexcept {  // as add(trimmed lower case)
    for (char c : trim(raw)) mix(to_lower(c));
    return separator();
  }
  std::uint64_t get() const noexcept { return h_; }

 private:
  void mix(char c) noexcept {
    h_ ^= static_cast<unsigned char>(c);
    h_ *= 0x100000001b3ull;
  }
  key_builder& separator() noexcept {  // ("ab","c") and ("a","bc") differ
    mix(0x1f);
    return *this;
  }
  std::uint64_t h_ = 0xcbf29ce484222325ull;
};

// Keys of raw identifiers; the caller skips an empty one (empty_id, or a system that trims to
// nothing).
std::uint64_t member_id_key(std::string_view raw) noexcept {
  return key_builder('M').add_id(raw).get();
}
std::uint64_t identifier_key(std::string_view system, std::string_view raw) noexcept {
  return key_builder('I').add_system(system).add_id(raw).get();
}
std::uint64_t dob_key(std::uint32_t dob) noexcept {
  return key_builder('D').add(dob).get();
}
// A name's sound with two of the three parts of the birth date (year+month, year+day, month+day):
// a typo in one part keeps one key, and each block stays small even for the commonest names.
std::array<std::uint64_t, 3> sound_date_keys(std::string_view sound, std::uint32_t dob) noexcept {
  const std::uint32_t year = dob / 10000, month = dob / 100 % 100, day = dob % 100;
  return {key_builder('Y').add(sound).add(year * 100 + month).get(),
          key_builder('X').add(sound).add(year * 100 + day).get(),
          key_builder('Z').add(sound).add(month * 100 + day).get()};
}
std::uint64_t name_key(std::string_view family_sound, std::string_view given_formal) noexcept {
  return key_builder('N').add(family_sound).add(given_formal).get();
}

// --- Field normalisation -------------------------------------------------------------------------

// YYYY-MM-DD with a plausible month and day → YYYYMMDD; 0 otherwise.
std::uint32_t parse_date(std::string_view s) noexcept {
  s = trim(s);
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return 0;
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 10; ++i) {
    if (i == 4 || i == 7) continue;
    if (!is_digit(s[i])) return 0;
    v = v * 10 + static_cast<std::uint32_t>(s[i] - '0');
  }
  const std::uint32_t month = v / 100 % 100, day = v % 100;
  if (month < 1 || month > 12 || day < 1 || day > 31 || v / 10000 < 1800) return 0;
  return v;
}

bool valid_month_day(std::uint32_t month, std::uint32_t day) noexcept {
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

std::uint8_t parse_sex(std::string_view s) noexcept {
  s = trim(s);
  const auto is = [&](std::string_view code) {  // case-insensitive; codes are lower case
    return s.size() == code.size() && std::equal(s.begin(), s.end(), code.begin(),
                                                 [](char a, char b) { return to_lower(a) == b; });
  };
  if (is("male") || is("m")) return 1;
  if (is("female") || is("f")) return 2;
  if (is("other") || is("o")) return 3;
  return 0;  // unknown, U, empty, anything else: missing
}

// The first 5 digits + 1 (so that 00000 is not "missing"); 0 with fewer than 5 digits.
std::uint32_t parse_postal(std::string_view s) noexcept {
  std::uint32_t v = 0;
  int n = 0;
  for (char c : s) {
    if (is_digit(c)) {
      v = v * 10 + static_cast<std::uint32_t>(c - '0');
      if (++n == 5) return v + 1;
    } else if (c == '-' || c == ' ') {
      if (n > 0) break;  // ZIP+4 after 5 digits is handled above; a break before 5 is too short
    } else {
      return 0;  // not a US ZIP code
    }
  }
  return 0;
}

// The phone's digits without a leading US country code; the last 10 are kept.
void parse_phone(std::string_view s, std::uint64_t& value, std::uint8_t& digits) noexcept {
  std::uint64_t v = 0;
  std::size_t n = 0;
  std::size_t all = 0;
  char first = 0;
  for (char c : s) {
    if (!is_digit(c)) continue;
    if (all == 0) first = c;
    ++all;
    v = (v * 10 + static_cast<std::uint64_t>(c - '0')) % 10000000000ull;
    n = std::min<std::size_t>(n + 1, 10);
  }
  if (all == 11 && first == '1') n = 10;  // +1 country code dropped by the modulo
  if (n < 7 || all > 15) {
    value = 0;
    digits = 0;
    return;
  }
  value = v;
  digits = static_cast<std::uint8_t>(n);
}

bool is_suffix(std::string_view token) noexcept {
  return token == "jr" || token == "sr" || token == "ii" || token == "iii" || token == "iv";
}

// Family name: normalised, generational suffixes dropped (unless nothing else is left).
std::string normalize_family(std::string_view s) {
  const std::string n = normalize_name(s);
  std::string out;
  std::size_t start = 0;
  while (start < n.size()) {
    std::size_t end = n.find(' ', start);
    if (end == std::string::npos) end = n.size();
    const std::string_view tok(n.data() + start, end - start);
    if (!is_suffix(tok)) {
      if (!out.empty()) out.push_back(' ');
      out.append(tok);
    }
    start = end + 1;
  }
  return out.empty() ? n : out;
}

template <class F>
void for_each_token(std::string_view normalized, F&& f) {
  std::size_t start = 0;
  while (start < normalized.size()) {
    std::size_t end = normalized.find(' ', start);
    if (end == std::string_view::npos) end = normalized.size();
    f(normalized.substr(start, end - start));
    start = end + 1;
  }
}

std::string_view first_token(std::string_view normalized) noexcept {
  return normalized.substr(0, normalized.find(' '));
}

std::size_t token_count(std::string_view normalized) noexcept {
  return normalized.empty()
             ? 0
             : static_cast<std::size_t>(std::count(normalized.begin(), normalized.end(), ' ')) + 1;
}

// The Soundex keys a name is blocked under: the whole name and, for a double name, each part of
// at least 2 letters.
std::vector<std::string> name_sounds(std::string_view normalized) {
  std::vector<std::string> out;
  if (normalized.empty()) return out;
  out.push_back(soundex(normalized));
  if (token_count(normalized) > 1) {
    for_each_token(normalized, [&](std::string_view tok) {
      if (tok.size() < 2) return;
      std::string s = soundex(tok);
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
    });
  }
  return out;
}

// The fields other than the names, as a member's are prepared.
void prepare_fields(roster_index::prepared& p, std::string_view birth_date, std::string_view sex,
                    std::string_view postal, std::string_view phone) noexcept {
  p.birth_date = parse_date(birth_date);
  p.sex = parse_sex(sex);
  p.postal = parse_postal(postal);
  parse_phone(phone, p.phone, p.phone_digits);
}

roster_index::name make_name(std::string normalized) {
  std::string j = joined(normalized);
  return {std::move(normalized), std::move(j), {}, {}};
}

// Looks up the variant groups of a name compared as a given name.
void find_groups(roster_index::name& n, const name_variants& variants) noexcept {
  n.first_groups = variants.groups(first_token(n.normalized));
  n.joined_groups = variants.groups(n.joined);
}

// The patient, normalised as the members are (its names are not in the index's tables). Both
// names have their groups: the family name is compared as a given name when names are swapped.
struct query {
  roster_index::name family, given;
  roster_index::prepared fields;  // family and given unused
};

query prepare_query(const patient_facts& patient, const name_variants& variants) {
  query q{
      make_name(normalize_family(patient.family)), make_name(normalize_name(patient.given)), {}};
  find_groups(q.family, variants);
  find_groups(q.given, variants);
  prepare_fields(q.fields, patient.birth_date, patient.sex, patient.postal_code, patient.phone);
  return q;
}

bool is_payer_type(std::string_view type) noexcept {
  type = trim(type);
  if (type.size() != 2) return false;
  const char t[2] = {to_upper(type[0]), to_upper(type[1])};
  const std::string_view code(t, 2);
  return code == "MB" || code == "MC" || code == "MA" || code == "SN";
}

// --- Field comparisons ---------------------------------------------------------------------------

// An upper bound of how many characters two strings have in common (as multisets: "anna" and
// "nan" have 3): characters are counted by their low 5 bits, exactly for a–z, and two characters
// that share a count can only add to it.
std::size_t common_characters_bound(std::string_view a, std::string_view b) noexcept {
  std::array<std::uint8_t, 32> count{};
  for (char c : a) ++count[static_cast<unsigned char>(c) & 31u];
  std::size_t common = 0;
  for (char c : b) {
    std::uint8_t& n = count[static_cast<unsigned char>(c) & 31u];
    if (n > 0) {
      --n;
      ++common;
    }
  }
  return common;
}

// The most Jaro–Winkler can be for strings of these lengths with `common` characters in common and
// a common prefix of `prefix` (up to 4): every common character matched and none transposed.
double jaro_winkler_bound(std::size_t a, std::size_t b, std::size_t common,
                          std::size_t prefix) noexcept {
  const double m = static_cast<double>(common);
  const double jaro = (m / static_cast<double>(a) + m / static_cast<double>(b) + 1) / 3;
  return jaro + static_cast<double>(prefix) * 0.1 * (1.0 - jaro);
}

bool is_typo(std::string_view a, std::string_view b) noexcept {
  const std::size_t shortest = std::min(a.size(), b.size()), longest = std::max(a.size(), b.size());
  if (shortest < 4) return false;
  // Most names of a block are nothing alike: bounds rule them out before the two measures run,
  // first from the lengths, then from the characters the names share. An edit keeps at most the
  // common characters, so the distance is at least the longer length less them (and at least the
  // difference in length). (Both measures compare the first 64 characters: longer names go to
  // them unbounded. The margin on Jaro–Winkler covers rounding.)
  const bool bounded = longest <= 64;
  const std::size_t most_distance = shortest >= 8 ? 2 : 1;  // a typo by distance
  std::size_t prefix = 0;
  while (prefix < 4 && a[prefix] == b[prefix]) ++prefix;
  constexpr double jw_typo = 0.94, margin = 1e-9;
  bool distance_may = longest - shortest <= most_distance;
  bool jw_may =
      !bounded || jaro_winkler_bound(a.size(), b.size(), shortest, prefix) >= jw_typo - margin;
  if (bounded && (distance_may || jw_may)) {
    const std::size_t common = common_characters_bound(a, b);
    distance_may = distance_may && longest - common <= most_distance;
    jw_may = jw_may && common > 0 &&
             jaro_winkler_bound(a.size(), b.size(), common, prefix) >= jw_typo - margin;
  }
  if (distance_may) {
    const std::size_t d = damerau_levenshtein(a, b);
    if (d == 1 || (d == 2 && shortest >= 8)) return true;
  }
  return jw_may && jaro_winkler(a, b) >= jw_typo;
}

comparison compare_family(const roster_index::name& p, const roster_index::name& m) {
  if (p.normalized.empty() || m.normalized.empty()) return comparison::missing;
  const std::string_view pj = p.joined, mj = m.joined;
  if (pj == mj) return comparison::exact;
  // Hyphenated and double names: a part of one (2+ letters) is the other or one of its parts.
  // (Two single names have no part but themselves, and those differ.)
  bool part = false;
  const auto parts_of = [](std::string_view n, std::string_view j, auto&& f) {
    f(j);
    if (token_count(n) > 1) for_each_token(n, f);
  };
  const bool single = p.normalized.size() == pj.size() && m.normalized.size() == mj.size();
  if (!single) {
    parts_of(p.normalized, pj, [&](std::string_view a) {
      if (a.size() < 2 || part) return;
      parts_of(m.normalized, mj, [&](std::string_view b) {
        if (b.size() >= 2 && a == b) part = true;
      });
    });
  }
  if (part) return comparison::name_part;
  if (is_typo(pj, mj)) return comparison::typo;
  return comparison::disagree;
}

// name_variants::are_variants() on names whose groups were looked up: different, with a group
// in common (both lists sorted).
bool are_variants(std::string_view a, std::span<const std::uint32_t> ga, std::string_view b,
                  std::span<const std::uint32_t> gb) noexcept {
  return a != b && name_variants::share_group(ga, gb);
}

comparison compare_given(const roster_index::name& p, const roster_index::name& m) {
  if (p.normalized.empty() || m.normalized.empty()) return comparison::missing;
  const std::string_view pj = p.joined, mj = m.joined;
  if (pj == mj) return comparison::exact;
  const std::string_view pf = first_token(p.normalized), mf = first_token(m.normalized);
  if (pf.size() >= 2 && pf == mf) return comparison::name_part;  // a middle name on one side
  // Single names (the most) are their own first token: each test once.
  const bool single = pf.size() == pj.size() && mf.size() == mj.size();
  if (are_variants(pf, p.first_groups, mf, m.first_groups) ||
      (!single && are_variants(pj, p.joined_groups, mj, m.joined_groups)))
    return comparison::nickname;
  if (is_typo(pj, mj) || (!single && pf.size() >= 4 && mf.size() >= 4 && is_typo(pf, mf)))
    return comparison::typo;
  if ((pf.size() == 1 || mf.size() == 1) && pf.front() == mf.front()) return comparison::initial;
  return comparison::disagree;
}

comparison compare_dob(std::uint32_t p, std::uint32_t m) noexcept {
  if (p == 0 || m == 0) return comparison::missing;
  if (p == m) return comparison::exact;
  const std::uint32_t py = p / 10000, my = m / 10000;
  const std::uint32_t pm = p / 100 % 100, pd = p % 100, mm = m / 100 % 100, md = m % 100;
  if (py == my && pm == md && pd == mm) return comparison::month_day_swapped;
  // One digit changed moves the date by k·10^i, two adjacent digits exchanged by 9k·10^i (k ≤ 9):
  // any other difference disagrees without comparing digit by digit.
  std::uint32_t diff = p > m ? p - m : m - p;
  while (diff % 10 == 0) diff /= 10;
  if (diff > 9 && (diff > 81 || diff % 9 != 0)) return comparison::disagree;
  std::array<std::uint32_t, 8> a{}, b{};
  std::uint32_t pv = p, mv = m;
  for (std::size_t i = 8; i-- > 0; pv /= 10, mv /= 10) {
    a[i] = pv % 10;
    b[i] = mv % 10;
  }
  std::size_t first = 8, count = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    if (a[i] == b[i]) continue;
    if (count == 0) first = i;
    ++count;
  }
  const bool one_digit = count == 1;
  const bool transposed =
      count == 2 && first + 1 < 8 && a[first] == b[first + 1] && a[first + 1] == b[first];
  if (!one_digit && !transposed) return comparison::disagree;
  const std::uint32_t years_apart = py > my ? py - my : my - py;
  if (years_apart > 1) return comparison::year_typo;
  return one_digit ? comparison::one_digit : comparison::transposed;
}

comparison compare_sex(std::uint8_t p, std::uint8_t m) noexcept {
  if (p == 0 || m == 0) return comparison::missing;
  return p == m ? comparison::exact : comparison::disagree;
}

comparison compare_postal(std::uint32_t p, std::uint32_t m) noexcept {
  if (p == 0 || m == 0) return comparison::missing;
  if (p == m) return comparison::exact;
  return (p - 1) / 100 == (m - 1) / 100 ? comparison::prefix : comparison::disagree;
}

comparison compare_phone(std::uint64_t p, std::uint8_t pn, std::uint64_t m,
                         std::uint8_t mn) noexcept {
  if (pn == 0 || mn == 0) return comparison::missing;
  // Without an area code on one side, the 7-digit local numbers are compared.
  const std::uint64_t mod = std::min(pn, mn) >= 10 ? 10000000000ull : 10000000ull;
  return p % mod == m % mod ? comparison::exact : comparison::disagree;
}

double family_weight(comparison c, const match_weights& w) noexcept {
  switch (c) {
    case comparison::exact:
      return w.family_exact;
    case comparison::name_part:
      return w.family_part;
    case comparison::typo:
      return w.family_typo;
    case comparison::disagree:
      return w.family_disagree;
    default:
      return 0;
  }
}
double given_weight(comparison c, const match_weights& w) noexcept {
  switch (c) {
    case comparison::exact:
      return w.given_exact;
    case comparison::nickname:
      return w.given_nickname;
    case comparison::name_part:
      return w.given_part;
    case comparison::typo:
      return w.given_typo;
    case comparison::initial:
      return w.given_initial;
    case comparison::disagree:
      return w.given_disagree;
    default:
      return 0;
  }
}
double dob_weight(comparison c, const match_weights& w) noexcept {
  switch (c) {
    case comparison::exact:
      return w.dob_exact;
    case comparison::transposed:
    case comparison::one_digit:
    case comparison::month_day_swapped:
      return w.dob_near;
    case comparison::year_typo:
      return w.dob_year_typo;
    case comparison::disagree:
      return w.dob_disagree;
    default:
      return 0;
  }
}

bool family_agrees(comparison c) noexcept {
  return c == comparison::exact || c == comparison::name_part || c == comparison::typo;
}
bool given_agrees(comparison c) noexcept {
  return c == comparison::exact || c == comparison::nickname || c == comparison::name_part ||
         c == comparison::typo;
}
bool dob_agrees(comparison c) noexcept {
  return c == comparison::exact || c == comparison::transposed || c == comparison::one_digit ||
         c == comparison::month_day_swapped;
}

// The score of one member, before the member id is copied out.
struct scored {
  std::uint32_t position = 0;
  double total = 0;
  bool names_swapped = false;
  std::array<field_evidence, field_count> fields{};

  comparison of(field f) const noexcept { return fields[static_cast<std::size_t>(f)].outcome; }
};

// The patient's names compared with the roster's, by name id, for one match. A block of
// candidates shares few names (a family and its sound-alikes, the common given names), so each
// distinct name is compared once per match, not once per member: string comparisons, nickname
// lookups and edit distances leave the per-candidate cost. The slots are the thread's, reused from
// one match to the next; a stamp per match says which are current. One at a time per thread.
class name_comparisons {
 public:
  name_comparisons(const roster_index& index, const query& q) : index_(index), q_(q) {
    tables& t = thread_tables();
    if (++t.stamp == 0) {  // wrapped: no slot may look current
      std::fill(t.family.begin(), t.family.end(), slot{});
      std::fill(t.given.begin(), t.given.end(), slot{});
      t.stamp = 1;
    }
    if (t.family.size() < index.family_name_count()) t.family.resize(index.family_name_count());
    if (t.given.size() < index.given_name_count()) t.given.resize(index.given_name_count());
    family_ = t.family.data();
    given_ = t.given.data();
    stamp_ = t.stamp;
  }
  name_comparisons(const name_comparisons&) = delete;
  name_comparisons& operator=(const name_comparisons&) = delete;

  const query& patient() const noexcept { return q_; }

  // compare_family(patient family, member family), and with the patient's given name instead.
  comparison family(std::uint32_t id) {
    slot& s = current(family_[id]);
    if (s.direct == unknown) s.direct = compare_family(q_.family, index_.family_name(id));
    return s.direct;
  }
  comparison family_crossed(std::uint32_t id) {
    slot& s = current(family_[id]);
    if (s.crossed == unknown) s.crossed = compare_family(q_.given, index_.family_name(id));
    return s.crossed;
  }
  // compare_given(patient given, member given), and with the patient's family name instead.
  comparison given(std::uint32_t id) {
    slot& s = current(given_[id]);
    if (s.direct == unknown) s.direct = compare_given(q_.given, index_.given_name(id));
    return s.direct;
  }
  comparison given_crossed(std::uint32_t id) {
    slot& s = current(given_[id]);
    if (s.crossed == unknown) s.crossed = compare_given(q_.family, index_.given_name(id));
    return s.crossed;
  }

 private:
  static constexpr auto unknown = static_cast<comparison>(0xFF);
  struct slot {
    std::uint32_t stamp = 0;
    comparison direct = unknown, crossed = unknown;
  };
  struct tables {
    std::vector<slot> family, given;
    std::uint32_t stamp = 0;
  };
  static tables& thread_tables() {
    thread_local tables t;
    return t;
  }
  slot& current(slot& s) const noexcept {
    if (s.stamp != stamp_) s = slot{stamp_, unknown, unknown};
    return s;
  }

  const roster_index& index_;
  const query& q_;
  slot* family_ = nullptr;
  slot* given_ = nullptr;
  std::uint32_t stamp_ = 0;
};

double sex_weight(comparison c, const match_weights& w) noexcept {
  return c == comparison::exact ? w.sex_exact : c == comparison::disagree ? w.sex_disagree : 0;
}
double postal_weight(comparison c, const match_weights& w) noexcept {
  return c == comparison::exact      ? w.postal_exact
         : c == comparison::prefix   ? w.postal_prefix
         : c == comparison::disagree ? w.postal_disagree
                                     : 0;
}
double phone_weight(comparison c, const match_weights& w) noexcept {
  return c == comparison::exact ? w.phone_exact : c == comparison::disagree ? w.phone_disagree : 0;
}

// How one member compares with the patient: each field's outcome and the total. The evidence
// (scored) is written out only for the members that rank.
struct outcomes {
  std::array<comparison, field_count> outcome{};
  bool names_swapped = false;
  double total = 0;

  comparison of(field f) const noexcept { return outcome[static_cast<std::size_t>(f)]; }
};

outcomes compare(const roster_index& index, std::uint32_t position, name_comparisons& names,
                 const match_weights& w) {
  const auto& m = index.prepared_at(position);
  const auto& p = names.patient().fields;
  outcomes o;

  comparison fam = names.family(m.family);
  comparison giv = names.given(m.given);
  if (fam == comparison::disagree || giv == comparison::disagree) {
    // Given and family exchanged (by the registrar, or by a sender's field order).
    const comparison fam_x = names.family_crossed(m.family);
    if (family_agrees(fam_x)) {  // rarely: the given name is compared only then
      const comparison giv_x = names.given_crossed(m.given);
      const double crossed = family_weight(fam_x, w) + given_weight(giv_x, w) + w.names_swapped;
      if (given_agrees(giv_x) && crossed > family_weight(fam, w) + given_weight(giv, w)) {
        fam = fam_x;
        giv = giv_x;
        o.names_swapped = true;
      }
    }
  }
  const auto set = [&](field f, comparison c, double weight) {
    o.outcome[static_cast<std::size_t>(f)] = c;
    o.total += weight;
  };
  set(field::family, fam, family_weight(fam, w));
  set(field::given, giv, given_weight(giv, w));
  if (o.names_swapped) o.total += w.names_swapped;
  const comparison dob = compare_dob(p.birth_date, m.birth_date);
  set(field::birth_date, dob, dob_weight(dob, w));
  const comparison sex = compare_sex(p.sex, m.sex);
  set(field::sex, sex, sex_weight(sex, w));
  const comparison postal = compare_postal(p.postal, m.postal);
  set(field::postal_code, postal, postal_weight(postal, w));
  const comparison phone = compare_phone(p.phone, p.phone_digits, m.phone, m.phone_digits);
  set(field::phone, phone, phone_weight(phone, w));
  return o;
}

scored evidence(std::uint32_t position, const outcomes& o, const match_weights& w) {
  scored s;
  s.position = position;
  s.total = o.total;
  s.names_swapped = o.names_swapped;
  const auto set = [&](field f, double (*weight)(comparison, const match_weights&)) {
    s.fields[static_cast<std::size_t>(f)] = field_evidence{f, o.of(f), weight(o.of(f), w)};
  };
  set(field::family, family_weight);
  set(field::given, given_weight);
  set(field::birth_date, dob_weight);
  set(field::sex, sex_weight);
  set(field::postal_code, postal_weight);
  set(field::phone, phone_weight);
  return s;
}

scored score(const roster_index& index, std::uint32_t position, name_comparisons& names,
             const match_options& options) {
  return evidence(position, compare(index, position, names, options.weights), options.weights);
}

candidate to_candidate(const roster_index& index, const scored& s) {
  candidate c;
  c.position = s.position;
  c.member_id = index.member(s.position).member_id;
  c.total = s.total;
  c.names_swapped = s.names_swapped;
  c.fields = s.fields;
  return c;
}

// The ranking of candidates: the higher total first, then the lower position.
bool ranks_before(double total, std::uint32_t position, const scored& b) noexcept {
  if (total != b.total) return total > b.total;
  return position < b.position;
}
bool better(const scored& a, const scored& b) noexcept {
  return ranks_before(a.total, a.position, b);
}

// "name+dob+sex+postal": the fields that agree.
std::string agreement_signature(const scored& s) {
  std::string out;
  const auto add = [&](std::string_view part) {
    if (!out.empty()) out.push_back('+');
    out.append(part);
  };
  const bool fam = family_agrees(s.of(field::family)), giv = given_agrees(s.of(field::given));
  if (fam && giv)
    add("name");
  else if (fam)
    add("family");
  else if (giv)
    add("given");
  if (dob_agrees(s.of(field::birth_date))) add("dob");
  if (s.of(field::sex) == comparison::exact) add("sex");
  if (s.of(field::postal_code) == comparison::exact) add("postal");
  if (s.of(field::phone) == comparison::exact) add("phone");
  if (out.empty()) out = "none";
  return out;
}

void add_qualifiers(const scored& s, std::vector<std::string>& reasons) {
  switch (s.of(field::given)) {
    case comparison::nickname:
      reasons.emplace_back("given_nickname");
      break;
    case comparison::typo:
      reasons.emplace_back("given_typo");
      break;
    case comparison::name_part:
      reasons.emplace_back("given_middle_name");
      break;
    case comparison::initial:
      reasons.emplace_back("given_initial");
      break;
    default:
      break;
  }
  switch (s.of(field::family)) {
    case comparison::typo:
      reasons.emplace_back("family_typo");
      break;
    case comparison::name_part:
      reasons.emplace_back("family_part");
      break;
    default:
      break;
  }
  if (s.names_swapped) reasons.emplace_back("swapped_names");
  const comparison dob = s.of(field::birth_date);
  if (dob == comparison::transposed || dob == comparison::one_digit ||
      dob == comparison::month_day_swapped)
    reasons.emplace_back("dob_near");
  if (dob == comparison::year_typo) reasons.emplace_back("dob_year_typo");
}

// Strong contradiction of an identifier match: two or more of the identity fields disagree.
bool contradicts(const scored& s) noexcept {
  int n = 0;
  for (field f : {field::family, field::given, field::birth_date, field::sex})
    if (s.of(f) == comparison::disagree ||
        (f == field::birth_date && s.of(f) == comparison::year_typo))
      ++n;
  return n >= 2;
}

bool disagrees(const scored& s) noexcept {
  for (field f : {field::family, field::given, field::birth_date, field::sex})
    if (s.of(f) == comparison::disagree || s.of(f) == comparison::year_typo) return true;
  return false;
}

}  // namespace

// --- Names of the enums --------------------------------------------------------------------------

std::string_view to_string(field f) noexcept {
  switch (f) {
    case field::family:
      return "family";
    case field::given:
      return "given";
    case field::birth_date:
      return "birth_date";
    case field::sex:
      return "sex";
    case field::postal_code:
      return "postal_code";
    case field::phone:
      return "phone";
  }
  return "?";
}

std::string_view to_string(comparison c) noexcept {
  switch (c) {
    case comparison::missing:
      return "missing";
    case comparison::exact:
      return "exact";
    case comparison::nickname:
      return "nickname";
    case comparison::name_part:
      return "name_part";
    case comparison::typo:
      return "typo";
    case comparison::initial:
      return "initial";
    case comparison::transposed:
      return "transposed";
    case comparison::one_digit:
      return "one_digit";
    case comparison::month_day_swapped:
      return "month_day_swapped";
    case comparison::year_typo:
      return "year_typo";
    case comparison::prefix:
      return "prefix";
    case comparison::disagree:
      return "disagree";
  }
  return "?";
}

std::string_view to_string(match_decision d) noexcept {
  switch (d) {
    case match_decision::auto_link:
      return "auto_link";
    case match_decision::review:
      return "review";
    case match_decision::no_match:
      return "no_match";
  }
  return "?";
}

std::string_view to_string(match_rule r) noexcept {
  switch (r) {
    case match_rule::member_id:
      return "member_id";
    case match_rule::payer_id:
      return "payer_id";
    case match_rule::identifier_link:
      return "identifier_link";
    case match_rule::demographics:
      return "demographics";
    case match_rule::none:
      return "none";
  }
  return "?";
}

std::string normalize_id(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value)
    if (c != ' ' && c != '\t' && c != '-') out.push_back(to_upper(c));
  return out;
}

std::string match_result::describe() const {
  std::string out(to_string(decision));
  out += ' ';
  out += to_string(rule);
  out += " [";
  for (std::size_t i = 0; i < reasons.size(); ++i) {
    if (i) out += ',';
    out += reasons[i];
  }
  out += ']';
  char buf[64];
  if (!candidates.empty()) {
    std::snprintf(buf, sizeof buf, " %.1f", candidates[0].total);
    out += buf;
  }
  if (candidates.size() > 1) {
    std::snprintf(buf, sizeof buf, " next %.1f", candidates[1].total);
    out += buf;
  }
  out += " of " + std::to_string(candidates_considered);
  return out;
}

// --- The index -----------------------------------------------------------------------------------

namespace {

// Interns the names of a roster while the index is built: each distinct spelling is normalised
// once, and each distinct normalised name gets one id in `table` (0: the empty name).
class name_interner {
 public:
  using normalizer = std::string (*)(std::string_view);
  name_interner(std::vector<roster_index::name>& table, normalizer normalize)
      : table_(table), normalize_(normalize) {
    table_.push_back({});
    by_normalized_.emplace("", 0);
  }
  // The id of `raw`'s name; `fresh` set when it is new to the table.
  std::uint32_t intern(std::string_view raw, bool& fresh) {
    fresh = false;
    if (const auto it = by_spelling_.find(raw); it != by_spelling_.end()) return it->second;
    std::string normalized = normalize_(raw);
    const auto [at, added] =
        by_normalized_.try_emplace(normalized, static_cast<std::uint32_t>(table_.size()));
    if (added) {
      table_.push_back(make_name(std::move(normalized)));
      fresh = true;
    }
    by_spelling_.emplace(std::string(raw), at->second);
    return at->second;
  }

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using map = std::unordered_map<std::string, std::uint32_t, string_hash, std::equal_to<>>;
  std::vector<roster_index::name>& table_;
  normalizer normalize_;
  map by_spelling_, by_normalized_;
};

}  // namespace

roster_index::roster_index(std::vector<member_record> members, const name_variants& variants)
    : members_(std::move(members)), variants_(&variants) {
  if (members_.size() >= 0xFFFFFFFFu) throw std::length_error("roster_index: too many members");

  // What the blocking keys need of each distinct name, for the build only.
  std::vector<std::vector<std::string>> family_sounds(1);  // by family id
  std::vector<std::string> given_formal(1);                // by given id
  name_interner families(family_names_, normalize_family), givens(given_names_, normalize_name);
  // Every member's keys, member after member, until they are placed.
  std::vector<std::uint64_t> keys;
  std::vector<std::uint32_t> keys_end;  // where each member's keys end
  keys.reserve(members_.size() * 7);
  keys_end.reserve(members_.size());
  prepared_.reserve(members_.size());
  for (const member_record& r : members_) {
    prepared p;
    bool fresh = false;
    p.family = families.intern(r.family, fresh);
    if (fresh) family_sounds.push_back(name_sounds(family_names_.back().normalized));
    p.given = givens.intern(r.given, fresh);
    if (fresh)
      given_formal.emplace_back(variants_->canonical(first_token(given_names_.back().normalized)));
    prepare_fields(p, r.birth_date, r.sex, r.postal_code, r.phone);
    prepared_.push_back(p);

    if (!empty_id(r.member_id)) keys.push_back(member_id_key(r.member_id));
    for (const identifier& id : r.identifiers)
      if (!trim(id.system).empty() && !empty_id(id.value))
        keys.push_back(identifier_key(id.system, id.value));
    const std::vector<std::string>& sounds = family_sounds[p.family];
    if (p.birth_date != 0) {
      keys.push_back(dob_key(p.birth_date));
      for (const std::string& s : sounds)
        for (std::uint64_t key : sound_date_keys(s, p.birth_date)) keys.push_back(key);
    }
    if (p.given != 0)
      for (const std::string& s : sounds) keys.push_back(name_key(s, given_formal[p.given]));
    if (keys.size() >= 0xFFFFFFFFu) throw std::length_error("roster_index: too many postings");
    keys_end.push_back(static_cast<std::uint32_t>(keys.size()));
  }
  for (name& n : given_names_) find_groups(n, *variants_);

  // A counting sort by bucket (the key's top bits): count, then place. Placing the members last
  // to first at each bucket's end keeps each bucket in member order, so a key's members come out
  // ascending, as the matcher's candidate order expects.
  const unsigned bucket_bits =
      std::max(4u, static_cast<unsigned>(std::bit_width(members_.size() * 2)));
  bucket_shift_ = 64 - bucket_bits;
  const auto bucket = [&](std::uint64_t key) {
    return static_cast<std::size_t>(key >> bucket_shift_);
  };
  bucket_start_.assign((std::size_t{1} << bucket_bits) + 1, 0);
  for (std::uint64_t key : keys) ++bucket_start_[bucket(key)];
  std::uint32_t end = 0;
  for (std::uint32_t& b : bucket_start_) b = end += b;  // each bucket's end (the last: the total)
  posting_keys_.resize(keys.size());
  posting_members_.resize(keys.size());
  for (auto pos = static_cast<std::uint32_t>(members_.size()); pos-- > 0;) {
    for (std::uint32_t i = pos == 0 ? 0 : keys_end[pos - 1]; i < keys_end[pos]; ++i) {
      const std::uint32_t at = --bucket_start_[bucket(keys[i])];
      posting_keys_[at] = keys[i];
      posting_members_[at] = pos;
    }
  }
}

void roster_index::collect(std::uint64_t key, std::vector<std::uint32_t>& out) const {
  for_each_posting(key, [&](std::uint32_t m) { out.push_back(m); });
}

candidate score_member(const roster_index& index, std::uint32_t position,
                       const patient_facts& patient, const match_options& options) {
  const query q = prepare_query(patient, index.variants());
  name_comparisons names(index, q);
  return to_candidate(index, score(index, position, names, options));
}

// --- Matching ------------------------------------------------------------------------------------

namespace {

struct id_hit {
  match_rule rule;
  std::uint32_t member;
};

void find_identifier_hits(const roster_index& index, const patient_facts& patient,
                          std::vector<id_hit>& hits) {
  for (const std::string& id : patient.member_ids) {
    if (empty_id(id)) continue;
    index.for_each_posting(member_id_key(id), [&](std::uint32_t m) {
      if (same_id(index.member(m).member_id, id)) hits.push_back({match_rule::member_id, m});
    });
  }
  for (const identifier& pid : patient.identifiers) {
    // An MRN without its authority links nothing.
    if (trim(pid.system).empty() || empty_id(pid.value)) continue;
    const match_rule rule =
        is_payer_type(pid.type) ? match_rule::payer_id : match_rule::identifier_link;
    index.for_each_posting(identifier_key(pid.system, pid.value), [&](std::uint32_t m) {
      for (const identifier& mid : index.member(m).identifiers) {
        if (same_system(mid.system, pid.system) && same_id(mid.value, pid.value)) {
          hits.push_back({rule, m});
          break;
        }
      }
    });
  }
}

// The demographic candidates of one match: the best few of the members that share a blocking key
// with the patient.
struct ranked {
  std::vector<scored> best;    // the first max(max_reported, 2) in `better` order
  std::size_t considered = 0;  // members scored
  bool truncated = false;      // more than max_candidates were found
};

// Keeps `best` the k best seen so far (better() is a total order: the result does not depend on
// the order candidates come in).
void keep_best(std::vector<scored>& best, std::size_t k, std::uint32_t position, const outcomes& o,
               const match_weights& w) {
  if (best.size() == k && !ranks_before(o.total, position, best.back())) return;
  if (best.size() == k) best.pop_back();
  const scored s = evidence(position, o, w);
  best.insert(std::upper_bound(best.begin(), best.end(), s, better), s);
}

// The members of the patient's blocks, each once. The lists are the thread's, reused from one
// match to the next; `seen` has bits set for members in `members` only (even after a push_back
// that threw), and is cleared once they are collected.
struct candidate_lists {
  std::vector<std::uint32_t> members;
  std::vector<std::uint64_t> seen;

  void reset(std::size_t roster_size) {
    for (std::uint32_t m : members) seen[m / 64] = 0;
    members.clear();
    if (seen.size() < (roster_size + 63) / 64) seen.resize((roster_size + 63) / 64);
  }
  void add(std::uint32_t m) {
    std::uint64_t& word = seen[m / 64];
    const std::uint64_t bit = std::uint64_t{1} << (m % 64);
    if (word & bit) return;
    members.push_back(m);
    word |= bit;
  }
};

ranked demographic_candidates(const roster_index& index, name_comparisons& names,
                              const match_options& options) {
  const query& p = names.patient();
  thread_local candidate_lists lists;
  lists.reset(index.size());
  const auto add = [&](std::uint64_t key) {
    index.for_each_posting(key, [&](std::uint32_t m) { lists.add(m); });
  };

  const std::vector<std::string> family_sounds = name_sounds(p.family.normalized);
  const std::vector<std::string> given_sounds = name_sounds(p.given.normalized);  // swapped names
  const std::uint32_t dob = p.fields.birth_date;
  if (dob != 0) {
    add(dob_key(dob));
    const std::uint32_t year = dob / 10000, month = dob / 100 % 100, day = dob % 100;
    if (month != day && valid_month_day(day, month)) add(dob_key(year * 10000 + day * 100 + month));
    for (const auto* sounds : {&family_sounds, &given_sounds})
      for (const std::string& s : *sounds)
        for (std::uint64_t key : sound_date_keys(s, dob)) add(key);
  } else {
    // Without a birth date nothing can auto-link; the name block finds candidates for review.
    if (!p.given.normalized.empty())
      for (const std::string& s : family_sounds)
        add(name_key(s, index.variants().canonical(first_token(p.given.normalized))));
    if (!p.family.normalized.empty())
      for (const std::string& s : given_sounds)
        add(name_key(s, index.variants().canonical(first_token(p.family.normalized))));
  }
  std::vector<std::uint32_t>& members = lists.members;
  for (std::uint32_t m : members) lists.seen[m / 64] = 0;

  ranked out;
  out.truncated = members.size() > options.max_candidates;
  if (out.truncated) {
    // The first max_candidates by position, as a sorted list would keep.
    std::nth_element(members.begin(),
                     members.begin() + static_cast<std::ptrdiff_t>(options.max_candidates),
                     members.end());
    members.resize(options.max_candidates);
  }
  out.considered = members.size();
  const std::size_t k = std::max<std::size_t>(options.max_reported, 2);
  out.best.reserve(k + 1);
  // The members' prepared fields are scattered over the roster: ask for them ahead.
  constexpr std::size_t ahead = 8;
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (i + ahead < members.size()) __builtin_prefetch(&index.prepared_at(members[i + ahead]));
    keep_best(out.best, k, members[i], compare(index, members[i], names, options.weights),
              options.weights);
  }
  return out;
}

// Whether the best demographic candidate is another member, scoring at least the review
// threshold and more than the identifier's member (all[0]); if so it is appended to `all`.
bool fits_another(const roster_index& index, name_comparisons& names, const match_options& options,
                  std::vector<scored>& all) {
  const ranked demo = demographic_candidates(index, names, options);
  if (demo.best.empty() || demo.best.front().position == all.front().position) return false;
  if (demo.best.front().total < options.review_threshold ||
      demo.best.front().total <= all.front().total)
    return false;
  all.push_back(demo.best.front());
  return true;
}

std::string_view rule_reason(match_rule r) noexcept {
  switch (r) {
    case match_rule::member_id:
      return "member_id";
    case match_rule::payer_id:
      return "payer_id";
    case match_rule::identifier_link:
      return "mrn_link";
    case match_rule::demographics:
      return "demographics";
    case match_rule::none:
      return "none";
  }
  return "none";
}

}  // namespace

match_result match(const roster_index& index, const patient_facts& patient,
                   const match_options& options) {
  match_result out;
  const query p = prepare_query(patient, index.variants());
  name_comparisons names(index, p);

  // 1–3: identifiers.
  std::vector<id_hit> hits;
  find_identifier_hits(index, patient, hits);
  if (!hits.empty()) {
    match_rule rule = match_rule::none;
    std::vector<std::uint32_t> members;
    for (const id_hit& h : hits) {
      rule = std::min(rule, h.rule);
      members.push_back(h.member);
    }
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    std::vector<scored> all;
    for (std::uint32_t m : members) all.push_back(score(index, m, names, options));
    std::sort(all.begin(), all.end(), better);
    out.rule = rule;
    out.candidates_considered = all.size();
    out.reasons.emplace_back(rule_reason(rule));
    if (all.size() > 1) {
      // Identifiers that point at different members (a stale MRN link, a duplicated member): a
      // person decides.
      out.decision = match_decision::review;
      out.reasons.emplace_back("identifier_conflict");
    } else if (contradicts(all.front())) {
      out.decision = match_decision::review;
      out.reasons.emplace_back("demographics_conflict");
    } else if (disagrees(all.front()) && fits_another(index, names, options, all)) {
      // One field disagrees and the demographics fit another member better: a twin or another
      // dependent registered under this member's id.
      out.decision = match_decision::review;
      out.reasons.emplace_back("demographics_conflict");
    } else {
      out.decision = match_decision::auto_link;
    }
    for (std::size_t i = 0; i < all.size() && i < std::max<std::size_t>(options.max_reported, 1);
         ++i)
      out.candidates.push_back(to_candidate(index, all[i]));
    return out;
  }

  // 4: demographics.
  out.rule = match_rule::demographics;
  const ranked demo = demographic_candidates(index, names, options);
  const std::vector<scored>& all = demo.best;
  if (all.empty()) {
    out.decision = match_decision::no_match;
    out.reasons.emplace_back("no_candidates");
    return out;
  }
  const std::size_t keep = all.size();
  out.candidates_considered = demo.considered;
  const scored& best = all.front();
  const scored* second = all.size() > 1 ? &all[1] : nullptr;

  for (std::size_t i = 0; i < keep && i < options.max_reported; ++i)
    out.candidates.push_back(to_candidate(index, all[i]));

  if (best.total < options.review_threshold) {
    out.decision = match_decision::no_match;
    out.reasons.emplace_back("below_threshold");
    return out;
  }
  out.reasons.push_back(agreement_signature(best));
  add_qualifiers(best, out.reasons);

  const bool ambiguous = second != nullptr && second->total >= options.review_threshold &&
                         best.total - second->total < options.ambiguity_margin;
  std::vector<std::string> why_not;
  if (ambiguous) {
    const auto& a = index.prepared_at(best.position);
    const auto& b = index.prepared_at(second->position);
    const bool twins = a.birth_date != 0 && a.birth_date == b.birth_date && a.family == b.family &&
                       index.given_name(a.given).joined != index.given_name(b.given).joined;
    why_not.emplace_back(twins ? "twin_conflict" : "close_candidates");
  }
  if (best.total < options.auto_link_threshold) why_not.emplace_back("below_auto_threshold");
  if (!family_agrees(best.of(field::family)) || !given_agrees(best.of(field::given)))
    why_not.emplace_back("name_not_confirmed");
  if (!dob_agrees(best.of(field::birth_date))) why_not.emplace_back("dob_not_confirmed");
  if (best.of(field::sex) == comparison::disagree) why_not.emplace_back("sex_conflict");
  if (demo.truncated) why_not.emplace_back("candidates_truncated");

  out.decision = why_not.empty() ? match_decision::auto_link : match_decision::review;
  for (std::string& w : why_not) out.reasons.push_back(std::move(w));
  return out;
}

}  // namespace carebridge::gateway::members
