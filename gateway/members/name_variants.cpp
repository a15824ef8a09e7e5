#include "gateway/members/name_variants.hpp"

#include <boost/throw_exception.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <stdexcept>
#include <utility>

namespace carebridge::gateway::members {

namespace detail {
// The text of mappings/tables/members/*.csv, written into the build tree at configure time by
// mappings/tables/embed_csv.cmake (member_tables_data.cpp).
extern const std::size_t builtin_table_count;
extern const std::string_view builtin_table_names[];
extern const std::string_view builtin_table_csv[];
}  // namespace detail

namespace {

// U+00C0–U+00FF (second byte 0x80–0xBF after 0xC3): the ASCII letter(s) each folds to; "" for
// ×, ÷ (separators).
constexpr std::array<std::string_view, 64> k_latin1 = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",   // À–Ï
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "ss",  // Ð–ß
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",   // à–ï
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "y",   // ð–ÿ
};
// U+0100–U+017F (Latin Extended-A), one letter each.
constexpr std::string_view k_latin_ext_a =
    "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkkklllllllllln"
    "nnnnnnnnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";
static_assert(k_latin_ext_a.size() == 128);

constexpr bool is_ascii_letter(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr char to_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

char soundex_digit(char c) noexcept {
  switch (c) {
    case 'b':
    case 'f':
    case 'p':
    case 'v':
      return '1';
    case 'c':
    case 'g':
    case 'j':
    case 'k':
    case 'q':
    case 's':
    case 'x':
    case 'z':
      return '2';
    case 'd':
    case 't':
      return '3';
    case 'l':
      return '4';
    case 'm':
    case 'n':
      return '5';
    case 'r':
      return '6';
    case 'h':
    case 'w':
      return 'h';  // transparent: letters either side with one code count once
    default:
      return '0';  // vowels, y: separate equal codes
  }
}

}  // namespace

std::string normalize_name(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  bool pending_space = false;
  const auto put = [&](std::string_view letters) {
    if (letters.empty()) {
      pending_space = !out.empty();
      return;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.append(letters);
  };
  for (std::size_t i = 0; i < utf8.size();) {
    const auto b = static_cast<unsigned char>(utf8[i]);
    if (b < 0x80) {
      const char c = to_lower(static_cast<char>(b));
      put(is_ascii_letter(c) ? std::string_view(&c, 1) : std::string_view());
      ++i;
      continue;
    }
    // A two-byte sequence of the folded blocks; anything else (other scripts, broken UTF-8) is a
    // separator, skipped to the next lead byte.
    if (i + 1 < utf8.size()) {
      const auto b2 = static_cast<unsigned char>(utf8[i + 1]);
      if ((b2 & 0xC0) == 0x80) {
        const unsigned cp = ((b & 0x1Fu) << 6) | (b2 & 0x3Fu);
        if ((b & 0xE0) == 0xC0 && cp >= 0xC0 && cp <= 0xFF) {
          put(k_latin1[cp - 0xC0]);
          i += 2;
          continue;
        }
        if ((b & 0xE0) == 0xC0 && cp >= 0x100 && cp <= 0x17F) {
          put(k_latin_ext_a.substr(cp - 0x100, 1));
          i += 2;
          continue;
        }
      }
    }
    put({});
    ++i;
    while (i < utf8.size() && (static_cast<unsigned char>(utf8[i]) & 0xC0) == 0x80) ++i;
  }
  return out;
}

std::string joined(std::string_view normalized) {
  std::string out;
  out.reserve(normalized.size());
  for (char c : normalized)
    if (c != ' ') out.push_back(c);
  return out;
}

std::string soundex(std::string_view normalized) {
  std::string out;
  char last = 0;
  for (char c : normalized) {
    if (!is_ascii_letter(c)) continue;
    c = to_lower(c);
    const char d = soundex_digit(c);
    if (out.empty()) {
      out.push_back(static_cast<char>(c - 'a' + 'A'));
      last = d;
      continue;
    }
    if (d == 'h') continue;
    if (d != '0' && d != last) out.push_back(d);
    last = d;
    if (out.size() == 4) break;
  }
  if (!out.empty()) out.resize(4, '0');
  return out;
}

double jaro_winkler(std::string_view a, std::string_view b) noexcept {
  if (a.empty() && b.empty()) return 1.0;
  if (a.empty() || b.empty()) return 0.0;
  // Names are short; longer input is compared on its first 64 characters.
  a = a.substr(0, 64);
  b = b.substr(0, 64);
  const std::size_t window =
      std::max(a.size(), b.size()) / 2 == 0 ? 0 : std::max(a.size(), b.size()) / 2 - 1;
  std::array<bool, 64> a_used{}, b_used{};
  std::size_t matches = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::size_t lo = i > window ? i - window : 0;
    const std::size_t hi = std::min(b.size(), i + window + 1);
    for (std::size_t j = lo; j < hi; ++j) {
      if (b_used[j] || a[i] != b[j]) continue;
      a_used[i] = b_used[j] = true;
      ++matches;
      break;
    }
  }
  if (matches == 0) return 0.0;
  std::size_t half_transpositions = 0;
  for (std::size_t i = 0, j = 0; i < a.size(); ++i) {
    if (!a_used[i]) continue;
    while (!b_used[j]) ++j;
    if (a[i] != b[j]) ++half_transpositions;
    ++j;
  }
  const double m = static_cast<double>(matches);
  const double t = static_cast<double>(half_transpositions / 2);
  const double jaro =
      (m / static_cast<double>(a.size()) + m / static_cast<double>(b.size()) + (m - t) / m) / 3.0;
  std::size_t prefix = 0;
  while (prefix < 4 && prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
  return jaro + static_cast<double>(prefix) * 0.1 * (1.0 - jaro);
}

std::size_t damerau_levenshtein(std::string_view a, std::string_view b) noexcept {
  a = a.substr(0, 64);
  b = b.substr(0, 64);
  // Three rows of the optimal-string-alignment table.
  std::array<std::array<std::size_t, 65>, 3> rows{};
  std::size_t* prev2 = rows[0].data();
  std::size_t* prev = rows[1].data();
  std::size_t* cur = rows[2].data();
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);  // rows rotate: prev2 ← prev ← cur ← (old prev2, overwritten)
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

boost::system::result<name_variants, table_error> name_variants::from_csv(std::string_view csv,
                                                                          std::string_view origin) {
  const auto error_at = [&](std::size_t line, std::string what) {
    return table_error{std::string(origin) + ":" + std::to_string(line), std::move(what)};
  };
  if (csv.starts_with("\xEF\xBB\xBF")) csv.remove_prefix(3);  // UTF-8 byte order mark

  name_variants out;
  std::map<std::string, std::uint32_t> group_of;                    // formal name → group id
  std::map<std::pair<std::string, std::string>, std::size_t> seen;  // pair → its line
  bool header = false;
  std::size_t line_no = 0;
  const auto add = [&](const std::string& name, std::uint32_t group) {
    auto& g = out.groups_[name];
    if (std::find(g.begin(), g.end(), group) == g.end()) g.push_back(group);
  };
  while (!csv.empty()) {
    const std::size_t eol = csv.find('\n');
    std::string_view line = csv.substr(0, eol);
    csv.remove_prefix(eol == std::string_view::npos ? csv.size() : eol + 1);
    ++line_no;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (trim(line).empty() || line.starts_with('#')) continue;
    if (!header) {
      if (line != "name,variant") return error_at(line_no, "expected the header name,variant");
      header = true;
      continue;
    }
    const std::size_t comma = line.find(',');
    if (comma == std::string_view::npos || line.find(',', comma + 1) != std::string_view::npos)
      return error_at(line_no, "expected 2 columns (name,variant)");
    const std::string name = normalize_name(line.substr(0, comma));
    const std::string variant = normalize_name(line.substr(comma + 1));
    const auto single = [](const std::string& n) {
      return n.size() >= 2 && n.find(' ') == std::string::npos;
    };
    if (!single(name) || !single(variant) || name == variant)
      return error_at(line_no, "each column must be one different name of at least 2 letters");
    const auto [at, fresh] = seen.emplace(std::pair(name, variant), line_no);
    if (!fresh)
      return error_at(line_no, "duplicate pair '" + name + "," + variant + "' (first at line " +
                                   std::to_string(at->second) + ")");
    auto [g, added] = group_of.emplace(name, static_cast<std::uint32_t>(out.formal_.size()));
    if (added) out.formal_.push_back(name);
    add(name, g->second);
    add(variant, g->second);
    ++out.pairs_;
  }
  if (!header) return error_at(line_no, "expected the header name,variant");
  if (out.pairs_ == 0) return error_at(line_no, "no rows");
  for (auto& [name, g] : out.groups_) std::sort(g.begin(), g.end());
  return out;
}

const name_variants& name_variants::builtin() {
  static const name_variants instance = [] {
    const std::string_view csv = builtin_table_text("given-name-variants");
    if (csv.empty())
      throw std::logic_error(
          "built-in given-name-variants.csv missing from mappings/tables/members/");
    auto table = from_csv(csv, "given-name-variants.csv");
    // Cannot happen for a build whose unit tests pass (MemberNameVariants parses the file).
    if (!table) throw std::logic_error("built-in member table " + table.error().describe());
    return std::move(*table);
  }();
  return instance;
}

std::span<const std::uint32_t> name_variants::groups(std::string_view name) const noexcept {
  const auto it = groups_.find(name);
  if (it == groups_.end()) return {};
  return it->second;
}

bool name_variants::share_group(std::span<const std::uint32_t> a,
                                std::span<const std::uint32_t> b) noexcept {
  // Both sorted: a merge finds a shared group.
  for (std::size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i] == b[j]) return true;
    if (a[i] < b[j])
      ++i;
    else
      ++j;
  }
  return false;
}

bool name_variants::are_variants(std::string_view a, std::string_view b) const noexcept {
  return a != b && share_group(groups(a), groups(b));
}

std::string_view name_variants::canonical(std::string_view name) const noexcept {
  const auto g = groups(name);
  return g.empty() ? name : std::string_view(formal_[g.front()]);
}

std::string_view builtin_table_text(std::string_view name) noexcept {
  for (std::size_t i = 0; i < detail::builtin_table_count; ++i)
    if (detail::builtin_table_names[i] == name) return detail::builtin_table_csv[i];
  return {};
}

}  // namespace carebridge::gateway::members
