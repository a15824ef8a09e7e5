// Private to the roster import (roster_csv, roster_atr, roster_db): small text and date helpers,
// and the batch builder both readers feed.
#pragma once

#include "gateway/members/roster.hpp"

#include <unordered_map>
#include <vector>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace carebridge::gateway::members::detail {

inline constexpr std::string_view whitespace = " \t\r\n";

inline std::string_view trim(std::string_view s) noexcept {
  const auto b = s.find_first_not_of(whitespace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(whitespace) - b + 1);
}

inline char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

/// Days since 1970-01-01 of a valid YYYY-MM-DD (see is_valid_date), else nullopt.
std::optional<std::int64_t> date_to_days(std::string_view date) noexcept;
/// YYYY-MM-DD of a day number.
std::string days_to_date(std::int64_t days);
/// The day before a valid date ("2025-03-01" → "2025-02-28").
std::string day_before(std::string_view date);
/// Today's date in UTC.
std::string today_utc();

/// "male", "female", "other", "unknown" for those words or M/F/O/U (any case); "" for "";
/// nullopt for anything else.
std::optional<std::string> normalize_sex(std::string_view s);

/// 64-bit FNV-1a, fed field by field (each field ends with a separator byte so that "ab","c" and
/// "a","bc" differ). Stable across runs and builds: it is stored.
class content_hash {
 public:
  content_hash& add(std::string_view s) noexcept {
    for (const char c : s) mix(static_cast<unsigned char>(c));
    mix(0x1f);
    return *this;
  }
  std::int64_t value() const noexcept { return static_cast<std::int64_t>(h_); }

 private:
  void mix(unsigned char c) noexcept {
    h_ ^= c;
    h_ *= 0x100000001b3ULL;
  }
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

/// Collects the rows of a roster file (a CSV line, an ATR Group.member) into a roster_batch and
/// enforces the rules that span rows: one member's rows must carry the same demographics, and a
/// member with any bad row is left out whole (all its rows skipped, its id kept in
/// skipped_member_ids so that apply() leaves it alone). One builder per file read; not shared.
class batch_builder {
  // Lookups by string_view without building a key string (C++20 heterogeneous lookup).
  struct text_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  template <class T>
  using text_map = std::unordered_map<std::string, T, text_hash, std::equal_to<>>;

 public:
  /// A good row: the member as this row describes it, and the attribution it carries (none when
  /// `group_id` is empty). `file` is empty for single files.
  void add_row(std::size_t line, std::string_view file, member_record member, std::string group_id,
               std::string period_start, std::string period_end);
  /// A row that failed a check. `member_id` may be empty (then nobody is protected).
  void bad_row(std::size_t line, std::string_view file, std::string_view member_id,
               std::string message);
  /// A problem that skips no member row (a header, a resource that is not a member row).
  void problem(std::size_t line, std::string_view file, std::string message);
  /// A group the file names: created when new, its non-empty name/NPI/TIN taken (first wins).
  void add_group(std::string_view id, std::string_view name, std::string_view npi,
                 std::string_view tin);
  void count_row() noexcept { ++rows_read_; }
  /// Room for about `rows` rows (an estimate: a big file then grows no table while read).
  void reserve(std::size_t rows);

  roster_batch finish() &&;

 private:
  struct row {
    std::uint32_t member;  // index in members_
    std::uint32_t file;    // index in files_
    std::size_t line;
    bool good;
    std::string group_id, period_start, period_end;
  };
  struct member_state {
    member_record record;  // from its first good row
    bool has_record = false;
    std::size_t first_line = 0;  // of that row
    std::uint32_t first_file = 0;
    std::size_t bad_line = 0;  // first bad row, 0 if none
    std::uint32_t bad_file = 0;
  };
  std::uint32_t member_index(std::string_view id);
  std::uint32_t file_index(std::string_view file);
  std::string where(std::size_t line, std::uint32_t file, std::uint32_t from_file) const;

  std::vector<member_state> members_;
  text_map<std::uint32_t> by_id_;
  std::vector<row> rows_;
  std::vector<std::string> files_{std::string()};
  std::vector<physician_group> groups_;
  text_map<std::size_t> group_by_id_;
  std::vector<roster_problem> problems_;
  std::size_t rows_read_ = 0;
  std::size_t rows_without_member_ = 0;  // bad rows whose member id could not be read
};

}  // namespace carebridge::gateway::members::detail
