#include "gateway/members/member_matcher.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
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

std::string normalize_system(std::string_view system) {
  std::string out;
  for (char c : trim(system)) out.push_back(to_lower(c));
  return out;
}

// FNV-1a, 64 bits: stable keys for the postings (a collision only adds a candidate; identifier
// hits are verified against the member).
class key_builder {
 public:
  explicit key_builder(char tag) noexcept { add(std::string_view(&tag, 1)); }
  key_builder& add(std::string_view s) noexcept {
    for (char c : s) {
      h_ ^= static_cast<unsigned char>(c);
      h_ *= 0x100000001b3ull;
    }
    h_ ^= 0x1f;  // field separator: ("ab","c") and ("a","bc") differ
    h_ *= 0x100000001b3ull;
    return *this;
  }
  key_builder& add(std::uint32_t v) noexcept {
    const char bytes[4] = {static_cast<char>(v & 0xFF), static_cast<char>((v >> 8) & 0xFF),
                           static_cast<char>((v >> 16) & 0xFF), static_cast<char>(v >> 24)};
    return add(std::string_view(bytes, 4));
  }
  std::uint64_t get() const noexcept { return h_; }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ull;
};

std::uint64_t member_id_key(std::string_view normalized) noexcept {
  return key_builder('M').add(normalized).get();
}
std::uint64_t identifier_key(std::string_view system, std::string_view normalized) noexcept {
  return key_builder('I').add(system).add(normalized).get();
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
  std::string lower;
  for (char c : s.substr(0, 8)) lower.push_back(to_lower(c));
  if (lower == "male" || lower == "m") return 1;
  if (lower == "female" || lower == "f") return 2;
  if (lower == "other" || lower == "o") return 3;
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

roster_index::prepared prepare(std::string_view family, std::string_view given,
                               std::string_view birth_date, std::string_view sex,
                               std::string_view postal, std::string_view phone) {
  roster_index::prepared p;
  p.family = normalize_family(family);
  p.given = normalize_name(given);
  p.birth_date = parse_date(birth_date);
  p.sex = parse_sex(sex);
  p.postal = parse_postal(postal);
  parse_phone(phone, p.phone, p.phone_digits);
  return p;
}

bool is_payer_type(std::string_view type) noexcept {
  std::string t;
  for (char c : trim(type).substr(0, 4)) t.push_back(to_upper(c));
  return t == "MB" || t == "MC" || t == "MA" || t == "SN";
}

// --- Field comparisons ---------------------------------------------------------------------------

bool is_typo(std::string_view a, std::string_view b) noexcept {
  const std::size_t shortest = std::min(a.size(), b.size());
  if (shortest < 4) return false;
  // The distance is at least the difference in length: no need to compute it beyond 2.
  if (std::max(a.size(), b.size()) - shortest <= 2) {
    const std::size_t d = damerau_levenshtein(a, b);
    if (d == 1 || (d == 2 && shortest >= 8)) return true;
  }
  return jaro_winkler(a, b) >= 0.94;
}

comparison compare_family(std::string_view p, std::string_view m) {
  if (p.empty() || m.empty()) return comparison::missing;
  const std::string pj = joined(p), mj = joined(m);
  if (pj == mj) return comparison::exact;
  // Hyphenated and double names: a part of one (2+ letters) is the other or one of its parts.
  bool part = false;
  const auto parts_of = [](std::string_view n, std::string_view j, auto&& f) {
    f(j);
    if (token_count(n) > 1) for_each_token(n, f);
  };
  parts_of(p, pj, [&](std::string_view a) {
    if (a.size() < 2 || part) return;
    parts_of(m, mj, [&](std::string_view b) {
      if (b.size() >= 2 && a == b) part = true;
    });
  });
  if (part) return comparison::name_part;
  if (is_typo(pj, mj)) return comparison::typo;
  return comparison::disagree;
}

comparison compare_given(std::string_view p, std::string_view m, const name_variants& variants) {
  if (p.empty() || m.empty()) return comparison::missing;
  const std::string pj = joined(p), mj = joined(m);
  if (pj == mj) return comparison::exact;
  const std::string_view pf = first_token(p), mf = first_token(m);
  if (pf.size() >= 2 && pf == mf) return comparison::name_part;  // a middle name on one side
  if (variants.are_variants(pf, mf) || variants.are_variants(pj, mj)) return comparison::nickname;
  if (is_typo(pj, mj) || (pf.size() >= 4 && mf.size() >= 4 && is_typo(pf, mf)))
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

scored score(const roster_index& index, std::uint32_t position, const roster_index::prepared& p,
             const match_options& options) {
  const auto& m = index.prepared_at(position);
  const auto& w = options.weights;
  const auto& variants = index.variants();
  scored s;
  s.position = position;

  comparison fam = compare_family(p.family, m.family);
  comparison giv = compare_given(p.given, m.given, variants);
  double names = family_weight(fam, w) + given_weight(giv, w);
  if (fam == comparison::disagree || giv == comparison::disagree) {
    // Given and family exchanged (by the registrar, or by a sender's field order).
    const comparison fam_x = compare_family(p.given, m.family);
    const comparison giv_x = compare_given(p.family, m.given, variants);
    const double crossed = family_weight(fam_x, w) + given_weight(giv_x, w) + w.names_swapped;
    if (family_agrees(fam_x) && given_agrees(giv_x) && crossed > names) {
      fam = fam_x;
      giv = giv_x;
      names = crossed;
      s.names_swapped = true;
    }
  }
  const comparison dob = compare_dob(p.birth_date, m.birth_date);
  const comparison sex = compare_sex(p.sex, m.sex);
  const comparison postal = compare_postal(p.postal, m.postal);
  const comparison phone = compare_phone(p.phone, p.phone_digits, m.phone, m.phone_digits);

  const auto set = [&](field f, comparison c, double weight) {
    s.fields[static_cast<std::size_t>(f)] = field_evidence{f, c, weight};
    s.total += weight;
  };
  set(field::family, fam, family_weight(fam, w));
  set(field::given, giv, given_weight(giv, w));
  if (s.names_swapped) s.total += w.names_swapped;
  set(field::birth_date, dob, dob_weight(dob, w));
  set(field::sex, sex,
      sex == comparison::exact      ? w.sex_exact
      : sex == comparison::disagree ? w.sex_disagree
                                    : 0);
  set(field::postal_code, postal,
      postal == comparison::exact      ? w.postal_exact
      : postal == comparison::prefix   ? w.postal_prefix
      : postal == comparison::disagree ? w.postal_disagree
                                       : 0);
  set(field::phone, phone,
      phone == comparison::exact      ? w.phone_exact
      : phone == comparison::disagree ? w.phone_disagree
                                      : 0);
  return s;
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

bool better(const scored& a, const scored& b) noexcept {
  if (a.total != b.total) return a.total > b.total;
  return a.position < b.position;
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

roster_index::roster_index(std::vector<member_record> members, const name_variants& variants)
    : members_(std::move(members)), variants_(&variants) {
  if (members_.size() >= 0xFFFFFFFFu) throw std::length_error("roster_index: too many members");
  prepared_.reserve(members_.size());
  postings_.reserve(members_.size() * 8);
  for (std::size_t i = 0; i < members_.size(); ++i) {
    const auto pos = static_cast<std::uint32_t>(i);
    const member_record& r = members_[i];
    prepared p = prepare(r.family, r.given, r.birth_date, r.sex, r.postal_code, r.phone);

    if (std::string id = normalize_id(r.member_id); !id.empty())
      postings_.push_back({member_id_key(id), pos});
    for (const identifier& id : r.identifiers) {
      const std::string system = normalize_system(id.system), value = normalize_id(id.value);
      if (!system.empty() && !value.empty())
        postings_.push_back({identifier_key(system, value), pos});
    }
    const std::vector<std::string> sounds = name_sounds(p.family);
    if (p.birth_date != 0) {
      postings_.push_back({dob_key(p.birth_date), pos});
      for (const std::string& s : sounds)
        for (std::uint64_t key : sound_date_keys(s, p.birth_date)) postings_.push_back({key, pos});
    }
    if (!p.given.empty()) {
      const std::string_view formal = variants_->canonical(first_token(p.given));
      for (const std::string& s : sounds) postings_.push_back({name_key(s, formal), pos});
    }
    prepared_.push_back(std::move(p));
  }
  std::sort(postings_.begin(), postings_.end(), [](const posting& a, const posting& b) {
    return a.key != b.key ? a.key < b.key : a.member < b.member;
  });
  postings_.shrink_to_fit();
}

void roster_index::collect(std::uint64_t key, std::vector<std::uint32_t>& out) const {
  auto it = std::lower_bound(postings_.begin(), postings_.end(), key,
                             [](const posting& p, std::uint64_t k) { return p.key < k; });
  for (; it != postings_.end() && it->key == key; ++it) out.push_back(it->member);
}

candidate score_member(const roster_index& index, std::uint32_t position,
                       const patient_facts& patient, const match_options& options) {
  const roster_index::prepared p = prepare(patient.family, patient.given, patient.birth_date,
                                           patient.sex, patient.postal_code, patient.phone);
  return to_candidate(index, score(index, position, p, options));
}

// --- Matching ------------------------------------------------------------------------------------

namespace {

struct id_hit {
  match_rule rule;
  std::uint32_t member;
};

void find_identifier_hits(const roster_index& index, const patient_facts& patient,
                          std::vector<id_hit>& hits) {
  std::vector<std::uint32_t> found;
  for (const std::string& raw : patient.member_ids) {
    const std::string id = normalize_id(raw);
    if (id.empty()) continue;
    found.clear();
    index.collect(member_id_key(id), found);
    for (std::uint32_t m : found)
      if (normalize_id(index.member(m).member_id) == id) hits.push_back({match_rule::member_id, m});
  }
  for (const identifier& pid : patient.identifiers) {
    const std::string system = normalize_system(pid.system), value = normalize_id(pid.value);
    if (system.empty() || value.empty()) continue;  // an MRN without its authority links nothing
    found.clear();
    index.collect(identifier_key(system, value), found);
    const match_rule rule =
        is_payer_type(pid.type) ? match_rule::payer_id : match_rule::identifier_link;
    for (std::uint32_t m : found) {
      for (const identifier& mid : index.member(m).identifiers) {
        if (normalize_system(mid.system) == system && normalize_id(mid.value) == value) {
          hits.push_back({rule, m});
          break;
        }
      }
    }
  }
}

// Members that share a blocking key with the patient, scored, the best first (the first
// max(max_reported, 2) in order). `truncated`: more than max_candidates were found.
std::vector<scored> demographic_candidates(const roster_index& index,
                                           const roster_index::prepared& p,
                                           const match_options& options, bool& truncated) {
  std::vector<std::uint32_t> members;
  const std::vector<std::string> family_sounds = name_sounds(p.family);
  const std::vector<std::string> given_sounds = name_sounds(p.given);  // swapped names
  if (p.birth_date != 0) {
    index.collect(dob_key(p.birth_date), members);
    const std::uint32_t year = p.birth_date / 10000, month = p.birth_date / 100 % 100,
                        day = p.birth_date % 100;
    if (month != day && valid_month_day(day, month))
      index.collect(dob_key(year * 10000 + day * 100 + month), members);
    for (const auto* sounds : {&family_sounds, &given_sounds})
      for (const std::string& s : *sounds)
        for (std::uint64_t key : sound_date_keys(s, p.birth_date)) index.collect(key, members);
  } else {
    // Without a birth date nothing can auto-link; the name block finds candidates for review.
    if (!p.given.empty())
      for (const std::string& s : family_sounds)
        index.collect(name_key(s, index.variants().canonical(first_token(p.given))), members);
    if (!p.family.empty())
      for (const std::string& s : given_sounds)
        index.collect(name_key(s, index.variants().canonical(first_token(p.family))), members);
  }
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  truncated = members.size() > options.max_candidates;
  if (truncated) members.resize(options.max_candidates);

  std::vector<scored> all;
  all.reserve(members.size());
  for (std::uint32_t m : members) all.push_back(score(index, m, p, options));
  const std::size_t keep = std::min(all.size(), std::max<std::size_t>(options.max_reported, 2));
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(),
                    better);
  return all;
}

// Whether the best demographic candidate is another member, scoring at least the review
// threshold and more than the identifier's member (all[0]); if so it is appended to `all`.
bool fits_another(const roster_index& index, const roster_index::prepared& p,
                  const match_options& options, std::vector<scored>& all) {
  bool truncated = false;
  const std::vector<scored> demo = demographic_candidates(index, p, options, truncated);
  if (demo.empty() || demo.front().position == all.front().position) return false;
  if (demo.front().total < options.review_threshold || demo.front().total <= all.front().total)
    return false;
  all.push_back(demo.front());
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
  const roster_index::prepared p = prepare(patient.family, patient.given, patient.birth_date,
                                           patient.sex, patient.postal_code, patient.phone);

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
    for (std::uint32_t m : members) all.push_back(score(index, m, p, options));
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
    } else if (disagrees(all.front()) && fits_another(index, p, options, all)) {
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
  bool truncated = false;
  std::vector<scored> all = demographic_candidates(index, p, options, truncated);
  if (all.empty()) {
    out.decision = match_decision::no_match;
    out.reasons.emplace_back("no_candidates");
    return out;
  }
  const std::size_t keep = std::min(all.size(), std::max<std::size_t>(options.max_reported, 2));
  out.candidates_considered = all.size();
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
                       joined(a.given) != joined(b.given);
    why_not.emplace_back(twins ? "twin_conflict" : "close_candidates");
  }
  if (best.total < options.auto_link_threshold) why_not.emplace_back("below_auto_threshold");
  if (!family_agrees(best.of(field::family)) || !given_agrees(best.of(field::given)))
    why_not.emplace_back("name_not_confirmed");
  if (!dob_agrees(best.of(field::birth_date))) why_not.emplace_back("dob_not_confirmed");
  if (best.of(field::sex) == comparison::disagree) why_not.emplace_back("sex_conflict");
  if (truncated) why_not.emplace_back("candidates_truncated");

  out.decision = why_not.empty() ? match_decision::auto_link : match_decision::review;
  for (std::string& w : why_not) out.reasons.push_back(std::move(w));
  return out;
}

}  // namespace carebridge::gateway::members
