#include "gateway/risk/code_lists.hpp"

#include "gateway/risk/comorbidity.hpp"

#include <boost/throw_exception.hpp>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <utility>

namespace carebridge::gateway::risk {

namespace detail {
// The text of mappings/tables/risk/*.csv, written into the build tree at configure time by
// mappings/tables/embed_csv.cmake (risk_tables_data.cpp). Names are the file names
// without .csv, sorted.
extern const std::size_t builtin_table_count;
extern const std::string_view builtin_table_names[];
extern const std::string_view builtin_table_csv[];
}  // namespace detail

namespace {

constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}
constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
constexpr bool is_upper(char c) noexcept {
  return c >= 'A' && c <= 'Z';
}
constexpr char to_upper(char c) noexcept {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// The first `n` characters of a compact code, packed: characters in the low 7 bytes, `n` in the
// top.
std::uint64_t pack(std::string_view compact, std::size_t n) noexcept {
  std::uint64_t key = static_cast<std::uint64_t>(n) << 56;
  for (std::size_t i = 0; i < n; ++i)
    key |= static_cast<std::uint64_t>(static_cast<unsigned char>(compact[i])) << (8 * i);
  return key;
}

std::optional<std::uint32_t> charlson_bit(std::string_view key) {
  if (auto c = condition_from_string(key)) return static_cast<std::uint32_t>(*c);
  return std::nullopt;
}
std::optional<std::uint32_t> chronic_bit(std::string_view key) {
  if (auto c = chronic_condition_from_string(key)) return static_cast<std::uint32_t>(*c);
  return std::nullopt;
}

}  // namespace

bool is_icd10_system(std::string_view system) noexcept {
  return system == icd10cm_system || system == icd10_system;
}

std::optional<icd10_code> icd10_code::parse(std::string_view text) noexcept {
  text = trim(text);
  icd10_code out;
  std::size_t n = 0;
  bool dot = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = to_upper(text[i]);
    if (c == '.') {
      // Only the ICD-10 position: after the three-character category, once.
      if (dot || i != 3) return std::nullopt;
      dot = true;
      continue;
    }
    if (n == out.chars_.size()) return std::nullopt;
    const bool ok = n == 0 ? is_upper(c) : n == 1 ? is_digit(c) : (is_digit(c) || is_upper(c));
    if (!ok) return std::nullopt;
    out.chars_[n++] = c;
  }
  if (n < 3 || (dot && n == 3)) return std::nullopt;
  out.size_ = static_cast<std::uint8_t>(n);
  return out;
}

std::string icd10_code::dotted() const {
  std::string s(compact());
  if (s.size() > 3) s.insert(3, 1, '.');
  return s;
}

std::string list_error::describe() const {
  return where + ": " + what;
}

void throw_exception_from_error(const list_error& e, const boost::source_location& loc) {
  boost::throw_exception(std::runtime_error(e.describe()), loc);
}

std::uint32_t prefix_list::match(const icd10_code& code) const noexcept {
  const std::string_view c = code.compact();
  for (std::size_t n = std::min<std::size_t>(c.size(), longest_); n >= shortest_ && n > 0; --n) {
    if (auto it = index_.find(pack(c, n)); it != index_.end()) return it->second;
  }
  return 0;
}

boost::system::result<prefix_list, list_error> prefix_list::from_csv(
    std::string_view csv, std::string_view origin,
    std::optional<std::uint32_t> (*condition_bit)(std::string_view key)) {
  const auto error_at = [&](std::size_t line, std::string what) {
    return list_error{std::string(origin) + ":" + std::to_string(line), std::move(what)};
  };
  if (csv.starts_with("\xEF\xBB\xBF")) csv.remove_prefix(3);  // UTF-8 byte order mark

  prefix_list out;
  bool header = false;
  std::map<std::pair<std::string, std::uint32_t>, std::size_t> seen;  // row → its line
  std::size_t line_no = 0;
  while (!csv.empty()) {
    const std::size_t eol = csv.find('\n');
    std::string_view line = csv.substr(0, eol);
    csv.remove_prefix(eol == std::string_view::npos ? csv.size() : eol + 1);
    ++line_no;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (trim(line).empty() || line.starts_with('#')) continue;
    if (!header) {
      if (line != "prefix,condition,source")
        return error_at(line_no, "expected the header prefix,condition,source");
      header = true;
      continue;
    }
    if (line.find('"') != std::string_view::npos)
      return error_at(line_no, "quoted fields are not used in code lists");
    std::string_view fields[3];
    std::size_t count = 0;
    for (std::string_view rest = line;; ++count) {
      const std::size_t comma = rest.find(',');
      if (count < 3) fields[count] = rest.substr(0, comma);
      if (comma == std::string_view::npos) {
        ++count;
        break;
      }
      rest.remove_prefix(comma + 1);
    }
    if (count != 3)
      return error_at(line_no,
                      "expected 3 columns (prefix,condition,source), got " + std::to_string(count));
    const std::string_view prefix_text = fields[0], key = fields[1], source = fields[2];
    if (prefix_text.empty() || key.empty() || source.empty())
      return error_at(line_no, "empty column");
    const auto prefix = icd10_code::parse(prefix_text);
    if (!prefix || prefix_text.size() != trim(prefix_text).size())
      return error_at(line_no, "prefix '" + std::string(prefix_text) +
                                   "' is not 3 to 7 ICD-10 code characters");
    const auto bit = condition_bit(key);
    if (!bit) return error_at(line_no, "unknown condition '" + std::string(key) + "'");
    const std::string compact(prefix->compact());
    const auto [at, fresh] = seen.emplace(std::pair(compact, *bit), line_no);
    if (!fresh)
      return error_at(line_no, "duplicate row '" + compact + "," + std::string(key) +
                                   "' (first at line " + std::to_string(at->second) + ")");

    out.index_[pack(compact, compact.size())] |= std::uint32_t{1} << *bit;
    out.longest_ = std::max(out.longest_, static_cast<std::uint8_t>(compact.size()));
    out.shortest_ = std::min(out.shortest_, static_cast<std::uint8_t>(compact.size()));
    out.rows_.push_back(row{compact, *bit, std::string(source)});
  }
  if (!header) return error_at(line_no, "expected the header prefix,condition,source");
  if (out.rows_.empty()) return error_at(line_no, "no rows");
  return out;
}

boost::system::result<code_lists, list_error> code_lists::from_csv(std::string_view charlson_csv,
                                                                   std::string_view chronic_csv) {
  auto charlson_list = prefix_list::from_csv(charlson_csv, "charlson-icd10.csv", &charlson_bit);
  if (!charlson_list) return charlson_list.error();
  auto chronic_list =
      prefix_list::from_csv(chronic_csv, "chronic-conditions-icd10.csv", &chronic_bit);
  if (!chronic_list) return chronic_list.error();
  return code_lists{std::move(*charlson_list), std::move(*chronic_list)};
}

const code_lists& code_lists::builtin() {
  static const code_lists instance = [] {
    const std::string_view charlson_csv = builtin_list_text("charlson-icd10");
    const std::string_view chronic_csv = builtin_list_text("chronic-conditions-icd10");
    if (charlson_csv.empty() || chronic_csv.empty())
      throw std::logic_error("built-in risk code lists missing from mappings/tables/risk/");
    auto lists = from_csv(charlson_csv, chronic_csv);
    // Cannot happen for a build whose unit tests pass (ComorbidityTables parses every file).
    if (!lists) throw std::logic_error("built-in risk code list " + lists.error().describe());
    return std::move(*lists);
  }();
  return instance;
}

std::string_view builtin_list_text(std::string_view name) noexcept {
  for (std::size_t i = 0; i < detail::builtin_table_count; ++i)
    if (detail::builtin_table_names[i] == name) return detail::builtin_table_csv[i];
  return {};
}

std::vector<std::string_view> builtin_list_names() {
  return {detail::builtin_table_names, detail::builtin_table_names + detail::builtin_table_count};
}

}  // namespace carebridge::gateway::risk
