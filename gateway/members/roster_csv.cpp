// read_roster_csv: the roster as CSV (RFC 4180), read in 64 KiB chunks (a 1,000,000-row file is
// never held whole) and checked row by row.
#include "gateway/members/roster.hpp"
#include "gateway/members/roster_detail.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <istream>

namespace carebridge::gateway::members {

namespace {

using detail::trim;

// One CSV record at a time from a stream, through a buffer refilled in 64 KiB chunks. Fields are
// copied (unquoted, "" unescaped) into one arena per record.
class csv_cursor {
 public:
  explicit csv_cursor(std::istream& in) : in_(in) {}

  enum class status { record, end, unterminated_quote };

  // The next record; `line()` is the physical line it started on. On unterminated_quote the
  // record is abandoned and reading resumes on the line after the one it started on.
  status next() {
    for (;;) {
      const std::size_t start = pos_, start_line = line_;
      const auto r = parse();
      if (r == parse_result::need_more && !eof_) {
        pos_ = start;
        line_ = start_line;
        refill();
        continue;
      }
      record_line_ = start_line;
      if (r == parse_result::need_more) {  // at the end of the input inside a quoted field
        if (in_quotes_) {
          bad_line_ = std::string_view(buf_).substr(start);
          bad_line_ = bad_line_.substr(0, bad_line_.find_first_of("\r\n"));
          const auto nl = buf_.find('\n', start);
          pos_ = nl == std::string::npos ? buf_.size() : nl + 1;
          line_ = start_line + 1;
          return status::unterminated_quote;
        }
        if (spans_.empty() && pos_ == start) return status::end;
      }
      return status::record;
    }
  }

  std::size_t line() const noexcept { return record_line_; }
  std::size_t size() const noexcept { return spans_.size(); }
  std::string_view operator[](std::size_t i) const noexcept {
    return {arena_.data() + spans_[i].first, spans_[i].second};
  }
  bool malformed_quote() const noexcept { return malformed_; }
  // The physical line of an abandoned record (to find its member id).
  std::string_view bad_line() const noexcept { return bad_line_; }

 private:
  enum class parse_result { done, need_more };

  void refill() {
    buf_.erase(0, pos_);
    pos_ = 0;
    const std::size_t old = buf_.size();
    constexpr std::size_t chunk = 64 << 10;
    buf_.resize(old + chunk);
    in_.read(buf_.data() + old, static_cast<std::streamsize>(chunk));
    const auto got = static_cast<std::size_t>(in_.gcount());
    buf_.resize(old + got);
    if (got == 0 || !in_) eof_ = true;
    if (first_) {
      first_ = false;
      if (buf_.compare(0, 3, "\xEF\xBB\xBF") == 0) buf_.erase(0, 3);
    }
  }

  void begin_field() { spans_.push_back({arena_.size(), 0}); }
  void end_field() { spans_.back().second = arena_.size() - spans_.back().first; }

  parse_result parse() {
    arena_.clear();
    spans_.clear();
    malformed_ = false;
    in_quotes_ = false;
    const char* const data = buf_.data();
    const std::size_t n = buf_.size();
    std::size_t i = pos_;
    if (i >= n) return parse_result::need_more;
    for (;;) {  // one field per turn
      begin_field();
      if (i < n && data[i] == '"') {
        in_quotes_ = true;
        ++i;
        for (;;) {
          const void* q = i < n ? std::memchr(data + i, '"', n - i) : nullptr;
          if (q == nullptr) return parse_result::need_more;
          const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(q) - data);
          for (std::size_t k = i; k < at; ++k) line_ += data[k] == '\n' ? 1 : 0;
          arena_.append(data + i, at - i);
          if (at + 1 >= n && !eof_) return parse_result::need_more;
          if (at + 1 < n && data[at + 1] == '"') {
            arena_.push_back('"');
            i = at + 2;
            continue;
          }
          i = at + 1;
          break;
        }
        in_quotes_ = false;
        // Anything between the closing quote and the delimiter is kept but marks the row bad.
        while (i < n && data[i] != ',' && data[i] != '\n' && data[i] != '\r') {
          malformed_ = true;
          arena_.push_back(data[i++]);
        }
      } else {
        const std::size_t from = i;
        while (i < n && data[i] != ',' && data[i] != '\n' && data[i] != '\r') ++i;
        arena_.append(data + from, i - from);
      }
      end_field();
      if (i >= n) {
        if (!eof_) return parse_result::need_more;
        pos_ = i;
        return parse_result::done;
      }
      if (data[i] == ',') {
        ++i;
        continue;
      }
      // End of record: LF, CRLF or a lone CR.
      if (data[i] == '\r') {
        if (i + 1 >= n && !eof_) return parse_result::need_more;
        if (i + 1 < n && data[i + 1] == '\n') ++i;
      }
      ++i;
      ++line_;
      pos_ = i;
      return parse_result::done;
    }
  }

  std::istream& in_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
  std::size_t record_line_ = 0;
  bool eof_ = false;
  bool first_ = true;
  bool in_quotes_ = false;
  bool malformed_ = false;
  std::string arena_;
  std::vector<std::pair<std::size_t, std::size_t>> spans_;
  std::string_view bad_line_;
};

enum column : std::uint8_t {
  col_member_id,
  col_family,
  col_given,
  col_birth_date,
  col_sex,
  col_postal_code,
  col_group_id,
  col_group_name,
  col_period_start,
  col_period_end,
  col_phone,
  col_group_npi,
  col_group_tin,
  col_mbi,
  col_medicaid_id,
  known_columns
};
constexpr std::array<std::string_view, known_columns> column_names = {
    "member_id",   "family",    "given",      "birth_date",   "sex",
    "postal_code", "group_id",  "group_name", "period_start", "period_end",
    "phone",       "group_npi", "group_tin",  "mbi",          "medicaid_id"};
constexpr std::size_t required_columns = col_period_end + 1;
constexpr std::size_t absent = static_cast<std::size_t>(-1);

struct id_column {
  std::size_t index;
  std::string system, type;
  std::string name;  // for problems
};

struct layout {
  std::array<std::size_t, known_columns> at;
  std::vector<id_column> ids;  // mbi, medicaid_id[:SYSTEM], mrn:SYSTEM
  std::size_t width = 0;
};

// The header: which column is where. Problems go to `b` (line 1); false when rows cannot be read.
bool read_header(const csv_cursor& c, layout& l, detail::batch_builder& b) {
  l.at.fill(absent);
  l.width = c.size();
  bool ok = true;
  for (std::size_t i = 0; i < c.size(); ++i) {
    const std::string_view raw = trim(c[i]);
    const std::string name = detail::lower(raw);
    if (name.rfind("mrn:", 0) == 0 || name.rfind("medicaid_id:", 0) == 0) {
      const bool mrn = name[0] == 'm' && name[1] == 'r';
      const std::string_view system = trim(raw.substr(mrn ? 4 : 12));
      if (system.empty()) {
        b.problem(c.line(), {}, "header: column " + std::to_string(i + 1) + " names no system");
        ok = false;
        continue;
      }
      for (const auto& other : l.ids)
        if (other.system == system && other.type == (mrn ? "MR" : "MA")) {
          b.problem(c.line(), {},
                    "header: column " + std::to_string(i + 1) + " repeats column " +
                        std::to_string(other.index + 1));
          ok = false;
        }
      l.ids.push_back({i, std::string(system), mrn ? "MR" : "MA",
                       std::string(mrn ? "mrn:" : "medicaid_id:") + std::string(system)});
      continue;
    }
    for (std::size_t k = 0; k < known_columns; ++k) {
      if (name != column_names[k]) continue;
      if (l.at[k] != absent) {
        b.problem(c.line(), {},
                  "header: column " + std::string(column_names[k]) + " appears twice");
        ok = false;
      }
      l.at[k] = i;
    }
    // Anything else (address lines, city, plan, …) is allowed and ignored.
  }
  for (std::size_t k = 0; k < required_columns; ++k)
    if (l.at[k] == absent) {
      b.problem(c.line(), {},
                "header: required column " + std::string(column_names[k]) + " missing");
      ok = false;
    }
  if (l.at[col_mbi] != absent)
    l.ids.push_back({l.at[col_mbi], std::string(mbi_system), "MC", "mbi"});
  if (l.at[col_medicaid_id] != absent)
    l.ids.push_back(
        {l.at[col_medicaid_id], std::string(default_medicaid_system), "MA", "medicaid_id"});
  return ok;
}

// The member id of a row abandoned for its quoting: the naive field before any quote, if any.
std::string_view naive_member_id(std::string_view line, std::size_t index) {
  for (std::size_t i = 0; i < index; ++i) {
    const auto comma = line.find(',');
    if (comma == std::string_view::npos) return {};
    if (line.substr(0, comma).find('"') != std::string_view::npos) return {};
    line.remove_prefix(comma + 1);
  }
  const std::string_view f = line.substr(0, line.find(','));
  return f.find('"') == std::string_view::npos ? trim(f) : std::string_view();
}

}  // namespace

roster_batch read_roster_csv(std::istream& in) {
  detail::batch_builder b;
  // A seekable stream (a file) tells its size: room for its rows up front (~100 bytes a row).
  if (const auto here = in.tellg();
      here != std::istream::pos_type(-1) && in.seekg(0, std::ios::end)) {
    const auto end = in.tellg();
    in.seekg(here);
    if (end != std::istream::pos_type(-1) && end > here)
      b.reserve(std::min<std::size_t>(static_cast<std::size_t>(end - here) / 100, 50'000'000));
  }
  in.clear();
  csv_cursor c(in);
  layout l;
  // The header: the first record that is not an empty line.
  for (;;) {
    const auto s = c.next();
    if (s == csv_cursor::status::end) {
      b.problem(1, {}, "no header row (empty file)");
      return std::move(b).finish();
    }
    if (s == csv_cursor::status::unterminated_quote) {
      b.problem(c.line(), {}, "header: unterminated quoted field");
      return std::move(b).finish();
    }
    if (c.size() == 1 && trim(c[0]).empty()) continue;
    break;
  }
  if (!read_header(c, l, b)) return std::move(b).finish();

  const auto field = [&](column k) {
    return l.at[k] == absent ? std::string_view() : trim(c[l.at[k]]);
  };
  for (;;) {
    const auto s = c.next();
    if (s == csv_cursor::status::end) break;
    if (s == csv_cursor::status::unterminated_quote) {
      b.count_row();
      b.bad_row(c.line(), {}, naive_member_id(c.bad_line(), l.at[col_member_id]),
                "unterminated quoted field (the row was read up to the end of its line)");
      continue;
    }
    if (c.size() == 1 && trim(c[0]).empty()) continue;  // an empty line
    b.count_row();
    const std::size_t line = c.line();
    if (c.size() != l.width) {
      const std::string_view id =
          l.at[col_member_id] < c.size() ? trim(c[l.at[col_member_id]]) : std::string_view();
      b.bad_row(
          line, {}, id,
          "row has " + std::to_string(c.size()) + " fields, the header " + std::to_string(l.width));
      continue;
    }
    const std::string_view member_id = field(col_member_id);
    const auto bad = [&](std::string message) {
      b.bad_row(line, {}, member_id, std::move(message));
    };
    if (c.malformed_quote()) {
      bad("text after a closing quote");
      continue;
    }
    if (member_id.empty()) {
      bad("member_id: empty (required)");
      continue;
    }
    const std::string_view group_id = field(col_group_id);
    if (group_id.empty()) {
      bad("group_id: empty (required)");
      continue;
    }
    const std::string_view start = field(col_period_start), end = field(col_period_end);
    if (start.empty()) {
      bad("period_start: empty (required)");
      continue;
    }
    if (!is_valid_date(start)) {
      bad("period_start: not a YYYY-MM-DD date");
      continue;
    }
    if (!end.empty() && !is_valid_date(end)) {
      bad("period_end: not a YYYY-MM-DD date");
      continue;
    }
    if (!end.empty() && end < start) {
      bad("period_end: before period_start");
      continue;
    }
    const std::string_view dob = field(col_birth_date);
    if (!dob.empty() && !is_valid_date(dob)) {
      bad("birth_date: not a real YYYY-MM-DD date");
      continue;
    }
    auto sex = detail::normalize_sex(field(col_sex));
    if (!sex) {
      bad("sex: not one of male, female, other, unknown, M, F, O, U");
      continue;
    }
    const std::string_view npi = field(col_group_npi), tin = field(col_group_tin);
    if (!npi.empty() && !is_valid_npi(npi)) {
      bad("group_npi: not a valid NPI (10 digits, check digit)");
      continue;
    }
    if (!tin.empty() && !is_valid_tin(tin)) {
      bad("group_tin: not 9 digits");
      continue;
    }
    member_record m;
    m.member_id = std::string(member_id);
    m.family = std::string(field(col_family));
    m.given = std::string(field(col_given));
    m.birth_date = std::string(dob);
    m.sex = std::move(*sex);
    m.postal_code = std::string(field(col_postal_code));
    m.phone = std::string(field(col_phone));
    for (const auto& idc : l.ids) {
      const std::string_view v = trim(c[idc.index]);
      if (!v.empty()) m.identifiers.push_back({idc.system, std::string(v), idc.type});
    }
    b.add_group(group_id, field(col_group_name), npi, tin);
    b.add_row(line, {}, std::move(m), std::string(group_id), std::string(start), std::string(end));
  }
  auto batch = std::move(b).finish();
  batch.format = "csv";
  return batch;
}

}  // namespace carebridge::gateway::members
