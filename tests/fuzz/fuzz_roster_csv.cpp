// libFuzzer target of the roster CSV reader (gateway/members/roster_csv.cpp): any bytes as a
// roster file.
//
// Invariants: members come out once each, in member-id order, every one with a valid birth date
// (or none) and a normalised sex; every attribution belongs to a member that came out, has a valid
// start and an end that is empty or not before it; a member whose row was skipped never comes out
// and is listed once in skipped_member_ids (sorted); every problem names a line of the input; no
// more rows are skipped than read, and every row read is either kept or skipped; the same bytes
// read twice give the same batch.
#include "gateway/members/roster.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <algorithm>
#include <set>
#include <sstream>
#include <string>

namespace mem = carebridge::gateway::members;

namespace {

mem::roster_batch read(std::string_view text) {
  std::istringstream in{std::string(text)};
  return mem::read_roster_csv(in);
}

bool is_sex(const std::string& s) {
  return s.empty() || s == "male" || s == "female" || s == "other" || s == "unknown";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = carebridge::fuzz::as_text(data, size);
  const mem::roster_batch b = read(text);
  const std::size_t lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) +
                            static_cast<std::size_t>(std::count(text.begin(), text.end(), '\r')) +
                            1;

  std::set<std::string> ids;
  for (std::size_t i = 0; i < b.members.size(); ++i) {
    const auto& m = b.members[i];
    CB_FUZZ_REQUIRE(!m.member_id.empty());
    CB_FUZZ_REQUIRE(i == 0 || b.members[i - 1].member_id < m.member_id);
    CB_FUZZ_REQUIRE(m.birth_date.empty() || mem::is_valid_date(m.birth_date));
    CB_FUZZ_REQUIRE(is_sex(m.sex));
    ids.insert(m.member_id);
  }
  for (const auto& a : b.attributions) {
    CB_FUZZ_REQUIRE(ids.contains(a.member_id));
    CB_FUZZ_REQUIRE(!a.group_id.empty());
    CB_FUZZ_REQUIRE(mem::is_valid_date(a.period_start));
    CB_FUZZ_REQUIRE(a.period_end.empty() ||
                    (mem::is_valid_date(a.period_end) && a.period_end >= a.period_start));
    CB_FUZZ_REQUIRE(std::any_of(b.groups.begin(), b.groups.end(),
                                [&](const mem::physician_group& g) { return g.id == a.group_id; }));
  }
  CB_FUZZ_REQUIRE(std::is_sorted(b.skipped_member_ids.begin(), b.skipped_member_ids.end()));
  CB_FUZZ_REQUIRE(std::adjacent_find(b.skipped_member_ids.begin(), b.skipped_member_ids.end()) ==
                  b.skipped_member_ids.end());
  for (const auto& id : b.skipped_member_ids) CB_FUZZ_REQUIRE(!ids.contains(id));
  for (const auto& p : b.problems) {
    CB_FUZZ_REQUIRE(p.line >= 1 && p.line <= lines);
    CB_FUZZ_REQUIRE(!p.message.empty());
  }
  CB_FUZZ_REQUIRE(b.rows_skipped <= b.rows_read);
  // Each member that came out has at least one row kept (an attribution or more).
  CB_FUZZ_REQUIRE(b.members.size() + b.rows_skipped <= b.rows_read);
  CB_FUZZ_REQUIRE(b.rows_skipped == 0 || !b.problems.empty());

  const mem::roster_batch again = read(text);
  CB_FUZZ_REQUIRE(again.members.size() == b.members.size());
  CB_FUZZ_REQUIRE(again.attributions == b.attributions);
  CB_FUZZ_REQUIRE(again.problems.size() == b.problems.size());
  CB_FUZZ_REQUIRE(again.skipped_member_ids == b.skipped_member_ids);
  return 0;
}
