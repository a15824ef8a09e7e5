// libFuzzer target of the readmission-risk core (gateway/risk): diagnosis codes from any system in
// any shape, dates for the length of stay, and the numeric inputs of LACE and HOSPITAL.
//
// Input, line by line: line 1 "ADMITTED|DISCHARGED" (FHIR dateTime text); line 2 eight bytes that
// choose acuity, ED visits, admissions, Hb and Na values and units, oncology and procedure; every
// further line "SYSTEM|CODE" (system "10cm", "10" or anything, used as the FHIR system URI's tail).
// Invariants: the length of stay is never negative; comorbidity sums stay within each weight
// set's maximum and findings name codes that were given; every score's points are within its
// letters' and total maximum, the band follows the total, a missing input makes the score
// incomplete and highest_possible bounds it.
#include "gateway/risk/comorbidity.hpp"
#include "gateway/risk/risk_scores.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace risk = carebridge::gateway::risk;

namespace {

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty() && out.size() < 64) {
    const auto nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

void check_score(const risk::score_result& s) {
  CB_FUZZ_REQUIRE(s.total >= 0 && s.total <= s.max_total);
  CB_FUZZ_REQUIRE(s.highest_possible >= s.total && s.highest_possible <= s.max_total);
  CB_FUZZ_REQUIRE(s.probability >= 0 && s.probability <= 1);
  int sum = 0;
  bool any_missing = false;
  for (const auto& c : s.components) {
    CB_FUZZ_REQUIRE(c.points >= 0 && c.points <= c.max_points);
    CB_FUZZ_REQUIRE(!c.missing || c.points == 0);
    sum += c.points;
    any_missing = any_missing || c.missing;
  }
  CB_FUZZ_REQUIRE(sum == s.total);
  CB_FUZZ_REQUIRE(any_missing == !s.complete());
  CB_FUZZ_REQUIRE(!s.complete() || s.highest_possible == s.total);
  (void)s.describe();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 16384) return 0;
  const auto all = lines(carebridge::fuzz::as_text(data, size));
  if (all.empty()) return 0;

  const auto bar = all[0].find('|');
  std::optional<int> los;
  if (bar != std::string_view::npos) {
    los = risk::length_of_stay_days(all[0].substr(0, bar), all[0].substr(bar + 1));
    CB_FUZZ_REQUIRE(!los || *los >= 0);
  }

  std::array<std::uint8_t, 8> knobs{};
  if (all.size() > 1)
    for (std::size_t i = 0; i < knobs.size() && i < all[1].size(); ++i)
      knobs[i] = static_cast<std::uint8_t>(all[1][i]);

  std::vector<std::string> systems;
  std::vector<risk::diagnosis_code> codes;
  systems.reserve(all.size());
  for (std::size_t i = 2; i < all.size(); ++i) {
    const std::string_view line = all[i];
    const auto sep = line.find('|');
    const std::string_view sys = sep == std::string_view::npos ? std::string_view() : line.substr(0, sep);
    const std::string_view code = sep == std::string_view::npos ? line : line.substr(sep + 1);
    systems.push_back(sys == "10cm" ? "http://hl7.org/fhir/sid/icd-10-cm"
                      : sys == "10" ? "http://hl7.org/fhir/sid/icd-10"
                                    : std::string(sys));
    codes.push_back({systems.back(), code});
  }

  for (const auto w : {risk::weight_set::lace, risk::weight_set::charlson_1987,
                       risk::weight_set::quan_2011}) {
    const auto c = risk::assess_comorbidity(codes, w);
    // Every condition at once, after the hierarchy: 33 (LACE worksheet), 29 (1987), 24 (Quan 2011).
    CB_FUZZ_REQUIRE(c.sum >= 0 && c.sum <= (w == risk::weight_set::quan_2011 ? 24 : 33));
    CB_FUZZ_REQUIRE(c.considered + c.not_considered.size() == codes.size());
    for (const auto& f : c.conditions) CB_FUZZ_REQUIRE(!f.codes.empty());
    (void)c.describe();
  }
  const auto chronic = risk::find_chronic_conditions(codes);
  CB_FUZZ_REQUIRE(chronic.considered + chronic.not_considered.size() == codes.size());

  const char* units[] = {"g/dL", "g/L", "mmol/L", "mg/dL", ""};
  risk::discharge_input in;
  in.diagnoses = codes;
  in.length_of_stay_days = los;
  if (knobs[0] % 4 != 3) in.acuity = static_cast<risk::admission_acuity>(knobs[0] % 4);
  if (knobs[1] != 0) in.ed_visits_6_months = static_cast<int>(knobs[1]) - 20;
  if (knobs[2] != 0) in.admissions_12_months = static_cast<int>(knobs[2]) - 20;
  if (knobs[3] != 0) in.haemoglobin = risk::lab_value{(knobs[3] - 40) / 4.0, units[knobs[5] % 5]};
  if (knobs[4] != 0) in.sodium = risk::lab_value{100.0 + knobs[4] / 4.0, units[(knobs[5] / 5) % 5]};
  if (knobs[6] % 3 != 2) in.oncology_service = knobs[6] % 3 == 1;
  if (knobs[7] % 3 != 2) in.any_procedure = knobs[7] % 3 == 1;
  const auto r = risk::assess_discharge(in);
  check_score(r.lace);
  check_score(r.hospital);
  CB_FUZZ_REQUIRE(r.lace.max_total == 19 && r.hospital.max_total == 13);
  return 0;
}
