#include "mappings/fhir/code_tables.hpp"

#include <cstring>

#include <boost/throw_exception.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace carebridge::mappings::fhir {

namespace detail {
// The text of mappings/tables/*.csv, written into the build tree at configure time by
// mappings/tables/embed_csv.cmake (code_tables_data.cpp). Names are the file names without .csv.
extern const std::size_t builtin_table_count;
extern const std::string_view builtin_table_names[];
extern const std::string_view builtin_table_csv[];
}  // namespace detail

namespace {

constexpr std::string_view k_header[] = {"code", "system", "target", "display"};
constexpr std::size_t k_columns = std::size(k_header);

// A code as it may appear in an error: printable ASCII only, at most 32 characters.
std::string printable(std::string_view code) {
  constexpr std::size_t max = 32;
  std::string out;
  for (std::size_t i = 0; i < code.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(code[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (code.size() > max) out += "...";
  return out;
}

// RFC 4180 records: fields separated by commas, records by CRLF or LF (a lone CR counts as a line
// end too); a field in double quotes may hold commas, line breaks and "" for a quote. Blank lines
// are skipped. Line numbers are 1-based and count physical lines, so a record whose quoted field
// spans lines is reported at the line it starts on.
class csv_reader {
 public:
  enum class status { record, end, error };

  explicit csv_reader(std::string_view text) : text_(text) {
    if (text_.starts_with("\xEF\xBB\xBF")) pos_ = 3;  // a UTF-8 BOM from spreadsheet exports
  }

  /// Skips lines that start with '#' (comments), and blank lines; stops at the first other line.
  void skip_comments() {
    while (pos_ < text_.size()) {
      if (text_[pos_] == '#') {
        while (pos_ < text_.size() && !at_line_end()) ++pos_;
        skip_line_end();
      } else if (at_line_end()) {
        skip_line_end();
      } else {
        return;
      }
    }
  }

  status next(std::vector<std::string>& fields) {
    fields.clear();
    while (pos_ < text_.size() && at_line_end()) skip_line_end();  // blank lines
    if (pos_ >= text_.size()) {
      record_line_ = line_;
      return status::end;
    }
    record_line_ = line_;
    for (;;) {
      std::string& field = fields.emplace_back();
      if (pos_ < text_.size() && text_[pos_] == '"') {
        ++pos_;
        for (;;) {
          if (pos_ >= text_.size()) return fail("unterminated quoted field");
          const char c = text_[pos_];
          if (c == '"') {
            if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
              field += '"';
              pos_ += 2;
              continue;
            }
            ++pos_;
            break;
          }
          if (at_line_end()) {
            const std::size_t from = pos_;
            skip_line_end();
            field.append(text_.substr(from, pos_ - from));
            continue;
          }
          field += c;
          ++pos_;
        }
        if (pos_ < text_.size() && text_[pos_] != ',' && !at_line_end()) {
          return fail("text after a closing quote");
        }
      } else {
        const std::size_t from = pos_;
        while (pos_ < text_.size() && text_[pos_] != ',' && !at_line_end()) {
          if (text_[pos_] == '"') return fail("a quote inside an unquoted field");
          ++pos_;
        }
        field.assign(text_.substr(from, pos_ - from));
      }
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      skip_line_end();  // end of record (or of input)
      return status::record;
    }
  }

  /// The line the last record (or error) started on.
  std::size_t record_line() const noexcept { return record_line_; }
  std::string_view error() const noexcept { return error_; }

 private:
  bool at_line_end() const noexcept { return text_[pos_] == '\n' || text_[pos_] == '\r'; }

  void skip_line_end() noexcept {
    if (pos_ >= text_.size()) return;
    if (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;
    ++pos_;
    ++line_;
  }

  status fail(std::string_view what) {
    error_ = what;
    return status::error;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
  std::size_t record_line_ = 1;
  std::string_view error_;
};

// One coding per HL7 table number, made on first use and kept for the life of the process (at most
// 10000, bounded whatever a peer sends), so find() can hand out a stable pointer without a lock.
constinit std::array<std::atomic<const coding*>, 10000> hl7_table_codings{};

const coding* hl7_table_coding(std::string_view name) {
  // "HL7" + 4 digits, e.g. HL70004 → http://terminology.hl7.org/CodeSystem/v2-0004.
  if (name.size() != 7) return nullptr;
  if (std::toupper(static_cast<unsigned char>(name[0])) != 'H' ||
      std::toupper(static_cast<unsigned char>(name[1])) != 'L' || name[2] != '7') {
    return nullptr;
  }
  std::size_t number = 0;
  for (std::size_t i = 3; i < 7; ++i) {
    if (name[i] < '0' || name[i] > '9') return nullptr;
    number = number * 10 + static_cast<std::size_t>(name[i] - '0');
  }
  std::atomic<const coding*>& slot = hl7_table_codings[number];
  if (const coding* known = slot.load(std::memory_order_acquire)) return known;

  const std::string digits(name.substr(3));
  auto made = std::make_unique<const coding>(
      coding{"", "http://terminology.hl7.org/CodeSystem/v2-" + digits, "HL7 table " + digits});
  const coding* expected = nullptr;
  if (slot.compare_exchange_strong(expected, made.get(), std::memory_order_acq_rel)) {
    return made.release();  // owned by hl7_table_codings from now on
  }
  return expected;  // another thread was first
}

}  // namespace

std::string table_error::describe() const {
  return where + ": " + what;
}

void throw_exception_from_error(const table_error& e, const boost::source_location& loc) {
  boost::throw_exception(std::runtime_error(e.describe()), loc);
}

const code_tables& code_tables::builtin() {
  static const code_tables instance = [] {
    code_tables all;
    for (std::size_t i = 0; i < detail::builtin_table_count; ++i) {
      const std::string_view name = detail::builtin_table_names[i];
      auto one = from_csv(name, detail::builtin_table_csv[i], std::string(name) + ".csv");
      // Cannot happen for a build whose unit tests pass (CodeTablesBuiltin parses every file).
      if (!one) throw std::logic_error("built-in code table " + one.error().describe());
      all.merge(*one);
    }
    return all;
  }();
  return instance;
}

boost::system::result<code_tables, table_error> code_tables::from_csv(std::string_view table,
                                                                      std::string_view csv,
                                                                      std::string_view origin) {
  const auto error_at = [&](std::size_t line, std::string what) {
    return table_error{std::string(origin) + ":" + std::to_string(line), std::move(what)};
  };
  const std::string header_text = "expected the header code,system,target,display";

  csv_reader reader(csv);
  reader.skip_comments();
  std::vector<std::string> fields;
  switch (reader.next(fields)) {
    case csv_reader::status::end:
      return error_at(reader.record_line(), "no header line (" + header_text + ")");
    case csv_reader::status::error:
      return error_at(reader.record_line(), std::string(reader.error()));
    case csv_reader::status::record:
      if (!std::equal(fields.begin(), fields.end(), std::begin(k_header), std::end(k_header))) {
        return error_at(reader.record_line(), "bad header: " + header_text);
      }
      break;
  }

  const bool system_optional = table == table::coding_system;
  code_tables out;
  table_rows& rows = out.tables_[std::string(table)];
  std::map<std::string, std::size_t, std::less<>> first_line;  // code → line, for duplicates
  for (;;) {
    const auto status = reader.next(fields);
    const std::size_t line = reader.record_line();
    if (status == csv_reader::status::end) break;
    if (status == csv_reader::status::error) return error_at(line, std::string(reader.error()));

    if (fields.size() != k_columns) {
      return error_at(line, "expected 4 columns (code,system,target,display), found " +
                                std::to_string(fields.size()));
    }
    std::string& code = fields[0];
    if (code.empty()) return error_at(line, "empty code");
    if (fields[2].empty()) return error_at(line, "empty target for code '" + printable(code) + "'");
    if (fields[1].empty() && !system_optional) {
      return error_at(line, "empty system for code '" + printable(code) +
                                "' (only the coding-system table leaves it empty)");
    }
    if (auto [at, inserted] = first_line.try_emplace(code, line); !inserted) {
      return error_at(line, "duplicate code '" + printable(code) + "' (first at line " +
                                std::to_string(at->second) + ")");
    }
    rows.emplace(std::move(code),
                 coding{std::move(fields[1]), std::move(fields[2]), std::move(fields[3])});
  }
  for (const auto& [code, target] : rows) out.index(table, code, target);
  return out;
}

namespace {
// Loads of 8, 4 or 1 bytes (memcpy of a constant size is a plain load).
inline std::uint64_t load8(const char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}
inline std::uint64_t load4(const char* p) noexcept {
  std::uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}
// A multiply-xorshift step per word: the keys are short, and spreading them over the slots is all
// that is asked of the hash.
inline std::uint64_t mix(std::uint64_t h, std::uint64_t w) noexcept {
  h = (h ^ w) * 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}
// Eight bytes at a time; the last (or only) piece is read as overlapping loads, never byte by byte
// and never past the end.
inline std::uint64_t hash_text(std::uint64_t h, std::string_view s) noexcept {
  const char* p = s.data();
  const std::size_t n = s.size();
  if (n >= 8) {
    std::size_t i = 0;
    for (; i + 8 < n; i += 8) h = mix(h, load8(p + i));
    h = mix(h, load8(p + n - 8));
  } else if (n >= 4) {
    h = mix(h, load4(p) << 32 | load4(p + n - 4));
  } else if (n > 0) {
    const auto b = [&](std::size_t i) { return static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])); };
    h = mix(h, b(0) << 16 | b(n / 2) << 8 | b(n - 1));
  }
  return mix(h, n);
}
}  // namespace

std::uint64_t code_tables::exact_hash(std::string_view table, std::string_view code) noexcept {
  const std::uint64_t h = hash_text(hash_text(0x243F6A8885A308D3ull, table), code);
  return h == 0 ? 1 : h;  // 0 marks a free slot
}

namespace {
// a == b for n bytes, in words as hash_text reads them (names and codes are too short for a call
// to memcmp to pay).
bool same_bytes(const char* a, const char* b, std::size_t n) noexcept {
  if (n >= 8) {
    for (std::size_t i = 0; i + 8 < n; i += 8)
      if (load8(a + i) != load8(b + i)) return false;
    return load8(a + n - 8) == load8(b + n - 8);
  }
  if (n >= 4) return load4(a) == load4(b) && load4(a + n - 4) == load4(b + n - 4);
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}
bool same_key(std::string_view key, std::uint32_t table_size, std::string_view table,
              std::string_view code) noexcept {
  return table_size == table.size() && key.size() == table.size() + code.size() &&
         same_bytes(key.data(), table.data(), table.size()) &&
         same_bytes(key.data() + table.size(), code.data(), code.size());
}
}  // namespace

const coding* code_tables::find_exact(std::string_view table,
                                      std::string_view code) const noexcept {
  if (exact_hashes_.empty()) return nullptr;
  const std::uint64_t h = exact_hash(table, code);
  const std::size_t mask = exact_hashes_.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(h) & mask;; i = (i + 1) & mask) {
    const std::uint64_t slot = exact_hashes_[i];
    if (slot == 0) return nullptr;
    if (slot == h) {
      const exact_row& r = exact_rows_[i];
      if (same_key(r.key, r.table_size, table, code)) return &r.value;
    }
  }
}

void code_tables::index(std::string_view table, std::string_view code, const coding& target) {
  if (2 * (exact_count_ + 1) > exact_hashes_.size()) {
    std::vector<std::uint64_t> old_hashes = std::move(exact_hashes_);
    std::vector<exact_row> old_rows = std::move(exact_rows_);
    const std::size_t size = old_hashes.empty() ? 256 : 2 * old_hashes.size();
    exact_hashes_.assign(size, 0);
    exact_rows_.assign(size, exact_row{});
    for (std::size_t j = 0; j < old_hashes.size(); ++j) {
      if (old_hashes[j] == 0) continue;
      std::size_t i = static_cast<std::size_t>(old_hashes[j]) & (size - 1);
      while (exact_hashes_[i] != 0) i = (i + 1) & (size - 1);
      exact_hashes_[i] = old_hashes[j];
      exact_rows_[i] = std::move(old_rows[j]);
    }
  }
  const std::uint64_t h = exact_hash(table, code);
  const std::size_t mask = exact_hashes_.size() - 1;
  std::size_t i = static_cast<std::size_t>(h) & mask;
  for (; exact_hashes_[i] != 0; i = (i + 1) & mask) {
    exact_row& r = exact_rows_[i];
    if (exact_hashes_[i] == h && same_key(r.key, r.table_size, table, code)) {
      r.value = target;  // a row replaced (a sender's override of a built-in one)
      return;
    }
  }
  exact_row& r = exact_rows_[i];
  exact_hashes_[i] = h;
  r.table_size = static_cast<std::uint32_t>(table.size());
  r.key.reserve(table.size() + code.size());
  r.key.append(table).append(code);
  r.value = target;
  ++exact_count_;
}

const coding* code_tables::find(std::string_view table, std::string_view code) const {
  if (const coding* hit = find_exact(table, code)) return hit;
  if (auto t = tables_.find(table); t != tables_.end()) {
    // (An exact match would have been found above: the hash table holds every row.)
    const table_rows& rows = t->second;
    if (auto near = rows.lower_bound(ci_less::folded{code});
        near != rows.end() && ci_less::compare_folded(near->first, code) == 0) {
      return &near->second;
    }
  }
  if (table == table::coding_system) return hl7_table_coding(code);
  return nullptr;
}

void code_tables::set(std::string_view table, std::string_view code, coding target) {
  auto t = tables_.find(table);
  if (t == tables_.end()) t = tables_.emplace(std::string(table), table_rows{}).first;
  index(table, code, target);
  t->second.insert_or_assign(std::string(code), std::move(target));
}

void code_tables::merge(const code_tables& other) {
  if (&other == this) return;
  for (const auto& [name, other_rows] : other.tables_) {
    auto t = tables_.find(name);
    if (t == tables_.end()) t = tables_.emplace(name, table_rows{}).first;
    for (const auto& [code, target] : other_rows) {
      t->second.insert_or_assign(code, target);
      index(name, code, target);
    }
  }
}

std::vector<std::string> code_tables::tables() const {
  std::vector<std::string> names;
  names.reserve(tables_.size());
  for (const auto& entry : tables_) names.push_back(entry.first);
  return names;
}

std::size_t code_tables::size(std::string_view table) const {
  auto t = tables_.find(table);
  return t == tables_.end() ? 0 : t->second.size();
}

}  // namespace carebridge::mappings::fhir
