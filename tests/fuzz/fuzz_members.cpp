// libFuzzer target of the member-matching core (gateway/members): a small roster and a patient, all
// fields from the input, through every rule.
//
// Input: records separated by '\n', fields by '|': the first line is the patient, the others are
// members: member_id|family|given|birth_date|sex|postal|phone|id_system|id_value|id_type. The
// patient's member_id field is sent as its member id and its identifier as a PID-3 identifier.
// Invariants: a decision is one of the three; auto_link names exactly one linked candidate that is
// in the roster, never two members at once; candidates are ordered by score and bounded by
// max_reported; the name helpers are total functions (Jaro-Winkler within [0, 1], normalize_name
// idempotent). (That describe() holds no PHI is a unit test: a fuzzer learns its fixed words.)
#include "gateway/members/member_matcher.hpp"
#include "gateway/members/name_variants.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace mem = carebridge::gateway::members;

namespace {

std::vector<std::string_view> split(std::string_view text, char sep, std::size_t max) {
  std::vector<std::string_view> out;
  while (out.size() < max) {
    const auto at = text.find(sep);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos) break;
    text.remove_prefix(at + 1);
  }
  return out;
}

std::string field(const std::vector<std::string_view>& f, std::size_t i) {
  return i < f.size() ? std::string(f[i]) : std::string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 8192) return 0;
  const auto lines = split(carebridge::fuzz::as_text(data, size), '\n', 40);
  if (lines.empty()) return 0;

  std::vector<mem::member_record> roster;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto f = split(lines[i], '|', 10);
    mem::member_record m;
    m.member_id = field(f, 0);
    m.family = field(f, 1);
    m.given = field(f, 2);
    m.birth_date = field(f, 3);
    m.sex = field(f, 4);
    m.postal_code = field(f, 5);
    m.phone = field(f, 6);
    if (!field(f, 8).empty()) m.identifiers.push_back({field(f, 7), field(f, 8), field(f, 9)});
    roster.push_back(std::move(m));
  }
  const auto pf = split(lines[0], '|', 10);
  mem::patient_facts p;
  if (!field(pf, 0).empty()) p.member_ids.push_back(field(pf, 0));
  p.family = field(pf, 1);
  p.given = field(pf, 2);
  p.birth_date = field(pf, 3);
  p.sex = field(pf, 4);
  p.postal_code = field(pf, 5);
  p.phone = field(pf, 6);
  if (!field(pf, 8).empty()) p.identifiers.push_back({field(pf, 7), field(pf, 8), field(pf, 9)});

  const std::size_t members = roster.size();
  const mem::roster_index index(std::move(roster));
  CB_FUZZ_REQUIRE(index.size() == members);
  mem::match_options options;
  const mem::match_result r = mem::match(index, p, options);
  CB_FUZZ_REQUIRE(r.decision == mem::match_decision::auto_link ||
                  r.decision == mem::match_decision::review ||
                  r.decision == mem::match_decision::no_match);
  CB_FUZZ_REQUIRE(r.candidates.size() <= options.max_reported);
  for (std::size_t i = 0; i < r.candidates.size(); ++i) {
    CB_FUZZ_REQUIRE(r.candidates[i].position < index.size());
    if (i > 0 && r.rule == mem::match_rule::demographics)
      CB_FUZZ_REQUIRE(r.candidates[i - 1].total >= r.candidates[i].total);
  }
  if (r.decision == mem::match_decision::auto_link) {
    const mem::candidate* c = r.linked();
    CB_FUZZ_REQUIRE(c != nullptr && c->position < index.size());
    CB_FUZZ_REQUIRE(r.rule != mem::match_rule::none);
  }
  if (r.decision == mem::match_decision::no_match) CB_FUZZ_REQUIRE(r.linked() == nullptr);
  (void)r.describe();  // runs on anything (that it holds no PHI is a unit test)

  // The name helpers on the raw fields.
  const double jw = mem::jaro_winkler(p.family, p.given);
  CB_FUZZ_REQUIRE(jw >= 0.0 && jw <= 1.0);
  const std::string once = mem::normalize_name(p.family);
  CB_FUZZ_REQUIRE(mem::normalize_name(once) == once);
  (void)mem::soundex(mem::normalize_name(p.given));
  (void)mem::damerau_levenshtein(p.family, p.given);
  return 0;
}
