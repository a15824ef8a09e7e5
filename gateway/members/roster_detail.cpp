// The roster helpers (dates, codes, check digits) and the batch builder both readers feed.
#include "gateway/members/roster_detail.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <tuple>

namespace carebridge::gateway::members {

namespace {

bool all_digits(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

bool is_valid_date(std::string_view s) noexcept {
  return detail::date_to_days(s).has_value();
}

bool is_valid_npi(std::string_view npi) noexcept {
  if (npi.size() != 10 || !all_digits(npi)) return false;
  // Luhn over the ISO prefix 80840 and the first nine digits: the prefix adds 24 to the sum.
  int sum = 24;
  for (std::size_t i = 0; i < 9; ++i) {
    int d = npi[8 - i] - '0';
    if (i % 2 == 0) {  // every second digit from the right of the payload is doubled
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - sum % 10) % 10 == npi[9] - '0';
}

bool is_valid_tin(std::string_view tin) noexcept {
  return tin.size() == 9 && all_digits(tin);
}

bool is_valid_risk_threshold(std::string_view t) noexcept {
  return t == "low" || t == "moderate" || t == "high";
}

std::optional<std::uint8_t> parse_alert_events(std::string_view list) {
  std::uint8_t bits = 0;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view name = detail::trim(list.substr(0, comma));
    if (name == "discharge")
      bits |= alert_discharge;
    else if (name == "ed_visit")
      bits |= alert_ed_visit;
    else if (name == "admission")
      bits |= alert_admission;
    else
      return std::nullopt;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (bits == 0) return std::nullopt;
  return bits;
}

std::string alert_events_text(std::uint8_t events) {
  std::string out;
  const std::pair<alert_event, const char*> names[] = {
      {alert_discharge, "discharge"}, {alert_ed_visit, "ed_visit"}, {alert_admission, "admission"}};
  for (const auto& [bit, name] : names) {
    if ((events & bit) == 0) continue;
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

namespace detail {

std::optional<std::int64_t> date_to_days(std::string_view s) noexcept {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  const std::string_view ys = s.substr(0, 4), ms = s.substr(5, 2), ds = s.substr(8, 2);
  if (!all_digits(ys) || !all_digits(ms) || !all_digits(ds)) return std::nullopt;
  const int y = (ys[0] - '0') * 1000 + (ys[1] - '0') * 100 + (ys[2] - '0') * 10 + (ys[3] - '0');
  const int m = (ms[0] - '0') * 10 + (ms[1] - '0');
  const int d = (ds[0] - '0') * 10 + (ds[1] - '0');
  if (y < 1800 || y > 2999 || m < 1 || m > 12 || d < 1) return std::nullopt;
  static constexpr int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  const int last = month_days[m - 1] + (m == 2 && leap ? 1 : 0);
  if (d > last) return std::nullopt;
  using namespace std::chrono;
  const sys_days day{year_month_day{year{y}, month{static_cast<unsigned>(m)},
                                    std::chrono::day{static_cast<unsigned>(d)}}};
  return day.time_since_epoch().count();
}

std::string days_to_date(std::int64_t z) {
  using namespace std::chrono;
  const year_month_day ymd{sys_days{days{z}}};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::string day_before(std::string_view date) {
  const auto days = date_to_days(date);
  return days ? days_to_date(*days - 1) : std::string();
}

std::string today_utc() {
  const auto now = std::chrono::system_clock::now();
  const auto days =
      std::chrono::duration_cast<std::chrono::hours>(now.time_since_epoch()).count() / 24;
  return days_to_date(days);
}

std::optional<std::string> normalize_sex(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::string();
  static constexpr std::string_view codes[] = {"male", "female", "other", "unknown"};
  for (const auto code : codes)
    if (iequals(s, code) || (s.size() == 1 && ascii_lower(s[0]) == code[0]))
      return std::string(code);
  return std::nullopt;
}

// --- batch_builder ---------------------------------------------------------------------------

namespace {

// The first demographic field in which two records of one member differ, or nullptr.
const char* first_difference(const member_record& a, const member_record& b) {
  if (a.family != b.family) return "family";
  if (a.given != b.given) return "given";
  if (a.birth_date != b.birth_date) return "birth_date";
  if (a.sex != b.sex) return "sex";
  if (a.postal_code != b.postal_code) return "postal_code";
  if (a.phone != b.phone) return "phone";
  const auto key = [](const identifier& i) { return std::tie(i.system, i.value, i.type); };
  const auto less = [&](const identifier& x, const identifier& y) { return key(x) < key(y); };
  auto ia = a.identifiers, ib = b.identifiers;
  std::sort(ia.begin(), ia.end(), less);
  std::sort(ib.begin(), ib.end(), less);
  if (ia.size() != ib.size() ||
      !std::equal(ia.begin(), ia.end(), ib.begin(),
                  [&](const identifier& x, const identifier& y) { return key(x) == key(y); }))
    return "identifiers";
  return nullptr;
}

}  // namespace

void batch_builder::reserve(std::size_t rows) {
  rows_.reserve(rows);
  members_.reserve(rows);
  by_id_.reserve(rows);
}

std::uint32_t batch_builder::member_index(std::string_view id) {
  if (const auto it = by_id_.find(id); it != by_id_.end()) return it->second;
  const auto index = static_cast<std::uint32_t>(members_.size());
  by_id_.emplace(std::string(id), index);
  members_.emplace_back();
  return index;
}

std::uint32_t batch_builder::file_index(std::string_view file) {
  for (std::uint32_t i = 0; i < files_.size(); ++i)
    if (files_[i] == file) return i;
  files_.emplace_back(file);
  return static_cast<std::uint32_t>(files_.size() - 1);
}

std::string batch_builder::where(std::size_t line, std::uint32_t file,
                                 std::uint32_t from_file) const {
  if (file == from_file || files_[file].empty()) return "line " + std::to_string(line);
  return files_[file] + " line " + std::to_string(line);
}

void batch_builder::add_row(std::size_t line, std::string_view file, member_record member,
                            std::string group_id, std::string period_start,
                            std::string period_end) {
  const std::uint32_t f = file_index(file);
  const std::uint32_t m = member_index(member.member_id);
  member_state& st = members_[m];
  bool good = true;
  if (!st.has_record) {
    st.record = std::move(member);
    st.has_record = true;
    st.first_line = line;
    st.first_file = f;
  } else if (const char* field = first_difference(st.record, member)) {
    problems_.push_back({line, std::string(file),
                         std::string("member's ") + field + " differs from its row on " +
                             where(st.first_line, st.first_file, f) +
                             " (conflicting demographics)"});
    good = false;
    if (st.bad_line == 0) {
      st.bad_line = line;
      st.bad_file = f;
    }
  }
  rows_.push_back(
      {m, f, line, good, std::move(group_id), std::move(period_start), std::move(period_end)});
}

void batch_builder::bad_row(std::size_t line, std::string_view file, std::string_view member_id,
                            std::string message) {
  const std::uint32_t f = file_index(file);
  problems_.push_back({line, std::string(file), std::move(message)});
  if (member_id.empty()) {
    ++rows_without_member_;
    return;
  }
  const std::uint32_t m = member_index(member_id);
  member_state& st = members_[m];
  if (st.bad_line == 0) {
    st.bad_line = line;
    st.bad_file = f;
  }
  rows_.push_back({m, f, line, false, {}, {}, {}});
}

void batch_builder::problem(std::size_t line, std::string_view file, std::string message) {
  problems_.push_back({line, std::string(file), std::move(message)});
}

void batch_builder::add_group(std::string_view id, std::string_view name, std::string_view npi,
                              std::string_view tin) {
  auto it = group_by_id_.find(id);
  if (it == group_by_id_.end()) {
    it = group_by_id_.emplace(std::string(id), groups_.size()).first;
    physician_group g;
    g.id = std::string(id);
    groups_.push_back(std::move(g));
  }
  physician_group& g = groups_[it->second];
  if (!g.name.empty() && (npi.empty() || !g.npi.empty()) && (tin.empty() || !g.tin.empty()))
    return;  // the common case: a group seen before, nothing new
  if (g.name.empty()) g.name = std::string(name);
  if (g.npi.empty()) g.npi = std::string(npi);
  if (g.tin.empty()) g.tin = std::string(tin);
}

roster_batch batch_builder::finish() && {
  roster_batch b;
  b.rows_read = rows_read_;
  b.rows_skipped = rows_without_member_;
  std::vector<std::string> ids(members_.size());
  for (const auto& [id, m] : by_id_) ids[m] = id;
  // Attributions (the good rows of good members), one per (group, period).
  b.attributions.reserve(rows_.size());
  for (auto& r : rows_) {
    const member_state& st = members_[r.member];
    if (st.bad_line != 0) {
      ++b.rows_skipped;
      if (r.good)
        problems_.push_back({r.line, files_[r.file],
                             "skipped: another row of this member (" +
                                 where(st.bad_line, st.bad_file, r.file) + ") failed a check"});
      continue;
    }
    if (r.group_id.empty()) continue;  // a member listed without an attribution (ATR cancelled)
    b.attributions.push_back(
        {ids[r.member], std::move(r.group_id), std::move(r.period_start), std::move(r.period_end)});
  }
  std::sort(b.attributions.begin(), b.attributions.end(),
            [](const attribution& x, const attribution& y) {
              return std::tie(x.member_id, x.group_id, x.period_start, x.period_end) <
                     std::tie(y.member_id, y.group_id, y.period_start, y.period_end);
            });
  b.attributions.erase(std::unique(b.attributions.begin(), b.attributions.end()),
                       b.attributions.end());
  // Members, in member_id order.
  std::vector<std::uint32_t> order(members_.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::uint32_t x, std::uint32_t y) { return ids[x] < ids[y]; });
  b.members.reserve(members_.size());
  for (const std::uint32_t i : order) {
    member_state& st = members_[i];
    if (st.bad_line != 0)
      b.skipped_member_ids.push_back(ids[i]);
    else if (st.has_record)
      b.members.push_back(std::move(st.record));
  }
  // Groups the attributions name but the file did not describe (CSV always does; an ATR member's
  // provider may be a bare reference).
  for (const auto& a : b.attributions)
    if (group_by_id_.find(std::string_view(a.group_id)) == group_by_id_.end())
      add_group(a.group_id, {}, {}, {});
  b.groups = std::move(groups_);
  std::stable_sort(problems_.begin(), problems_.end(),
                   [](const roster_problem& x, const roster_problem& y) {
                     return std::tie(x.file, x.line) < std::tie(y.file, y.line);
                   });
  b.problems = std::move(problems_);
  return b;
}

}  // namespace detail
}  // namespace carebridge::gateway::members
