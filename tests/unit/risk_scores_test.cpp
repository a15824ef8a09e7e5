// Unit tests of the readmission-risk scores (gateway/risk/risk_scores.hpp): LACE and HOSPITAL point
// by point at every boundary of the published tables (../shared/spec/risk.md §1.1 and §2), the
// bands and their probabilities, missing inputs, and the length-of-stay helper.

#include "gateway/risk/risk_scores.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace r = carebridge::gateway::risk;
using r::admission_acuity;
using r::risk_band;

// --- Length of stay --------------------------------------------------------------------------

TEST(RiskLengthOfStay, WholeDaysBetweenTheDatesAsWritten) {
  EXPECT_EQ(r::length_of_stay_days("2026-11-14T18:42:00-06:00", "2026-11-19"), 5);
  EXPECT_EQ(r::length_of_stay_days("2026-11-14", "2026-11-19T11:05:00-06:00"), 5);
  EXPECT_EQ(r::length_of_stay_days("2026-11-14T08:00:00-06:00", "2026-11-14T18:00:00-06:00"), 0);
  EXPECT_EQ(r::length_of_stay_days("2026-11-14T23:59:59-06:00", "2026-11-15T00:00:00-06:00"), 1);
  EXPECT_EQ(r::length_of_stay_days("2026-11-14", "2026-11-14"), 0);
}

TEST(RiskLengthOfStay, LocalDatesNotUtc) {
  // 19:00 CST is 01:00Z the next day; 17:00 CST the next day is still that UTC date. The hospital
  // recorded two calendar dates: one day.
  EXPECT_EQ(r::length_of_stay_days("2026-11-14T19:00:00-06:00", "2026-11-15T17:00:00-06:00"), 1);
  // And the other way: 01:00 and 23:00 of one day in Kolkata fall on two UTC dates.
  EXPECT_EQ(r::length_of_stay_days("2026-11-14T01:00:00+05:30", "2026-11-14T23:00:00+05:30"), 0);
}

TEST(RiskLengthOfStay, AcrossDaylightSavingChanges) {
  // US spring forward, 2026-03-08 02:00 CST → 03:00 CDT.
  EXPECT_EQ(r::length_of_stay_days("2026-03-07T22:00:00-06:00", "2026-03-08T10:00:00-05:00"), 1);
  EXPECT_EQ(r::length_of_stay_days("2026-03-08T01:30:00-06:00", "2026-03-08T03:30:00-05:00"), 0);
  EXPECT_EQ(r::length_of_stay_days("2026-03-05T12:00:00-06:00", "2026-03-12T09:00:00-05:00"), 7);
  // US fall back, 2026-11-01 02:00 CDT → 01:00 CST: both UTC times fall on Nov 1.
  EXPECT_EQ(r::length_of_stay_days("2026-10-31T23:30:00-05:00", "2026-11-01T01:30:00-06:00"), 1);
  EXPECT_EQ(r::length_of_stay_days("2026-11-01T01:30:00-05:00", "2026-11-01T01:10:00-06:00"), 0);
}

TEST(RiskLengthOfStay, AcrossMonthAndYearEnds) {
  EXPECT_EQ(r::length_of_stay_days("2026-01-31", "2026-02-01"), 1);
  EXPECT_EQ(r::length_of_stay_days("2026-02-28", "2026-03-01"), 1);
  EXPECT_EQ(r::length_of_stay_days("2024-02-28", "2024-03-01"), 2);  // leap year
  EXPECT_EQ(r::length_of_stay_days("2024-02-29T10:00:00Z", "2024-03-01T09:00:00Z"), 1);
  EXPECT_EQ(r::length_of_stay_days("2026-04-30", "2026-05-31"), 31);
  EXPECT_EQ(r::length_of_stay_days("2026-12-31T23:59:59Z", "2027-01-01T00:00:01Z"), 1);
  EXPECT_EQ(r::length_of_stay_days("2025-11-19", "2026-11-19"), 365);
  EXPECT_EQ(r::length_of_stay_days("2023-11-19", "2024-11-19"), 366);
  EXPECT_EQ(r::length_of_stay_days("2100-02-28", "2100-03-01"), 1);  // not a leap year
}

TEST(RiskLengthOfStay, AcceptedForms) {
  const std::string_view a = "2026-11-14";
  for (std::string_view d :
       {"2026-11-19", "2026-11-19T11:05:00Z", "2026-11-19T11:05:00-06:00",
        "2026-11-19T11:05:00+14:00", "2026-11-19T11:05:00.5-06:00",
        "2026-11-19T11:05:00.123456789+05:30", "2026-11-19T11:05:00", "2026-11-19T23:59:60Z"}) {
    SCOPED_TRACE(std::string(d));
    EXPECT_EQ(r::length_of_stay_days(a, d), 5);
  }
}

TEST(RiskLengthOfStay, InvalidInputGivesNothing) {
  const std::string_view ok = "2026-11-14";
  for (std::string_view bad : {"",
                               "2026",
                               "2026-11",
                               "2026-11-31",
                               "2026-02-29",
                               "2026-13-01",
                               "2026-00-10",
                               "2026-11-00",
                               "0000-01-01",
                               "2026-1-14",
                               "20261114",
                               " 2026-11-14",
                               "2026-11-14 ",
                               "2026/11/14",
                               "2026-11-14T",
                               "2026-11-14T25:00:00Z",
                               "2026-11-14T18:60:00Z",
                               "2026-11-14T18:42Z",
                               "2026-11-14T18:42:61Z",
                               "2026-11-14 18:42:00",
                               "2026-11-14T18:42:00+15:00",
                               "2026-11-14T18:42:00+14:30",
                               "2026-11-14T18:42:00-06",
                               "2026-11-14T18:42:00-0600",
                               "2026-11-14T18:42:00.Z",
                               "2026-11-14T18:42:00.1234567890Z",
                               "2026-11-14T18:42:00-06:00x",
                               "2026-11-14T18:42:00ZZ"}) {
    SCOPED_TRACE(std::string(bad));
    EXPECT_FALSE(r::length_of_stay_days(bad, "2026-11-19"));
    EXPECT_FALSE(r::length_of_stay_days(ok, bad));
  }
}

TEST(RiskLengthOfStay, DischargeBeforeAdmissionGivesNothing) {
  EXPECT_FALSE(r::length_of_stay_days("2026-11-19", "2026-11-18T23:00:00-06:00"));
  EXPECT_FALSE(r::length_of_stay_days("2027-01-01", "2026-12-31"));
}

// --- LACE ------------------------------------------------------------------------------------

r::lace_input lace(std::optional<int> los, std::optional<admission_acuity> acuity,
                   std::optional<int> comorbidity, std::optional<int> ed) {
  return {los, acuity, comorbidity, ed};
}

const r::component& part(const r::score_result& s, std::size_t i) {
  return s.components.at(i);
}

TEST(RiskLace, LengthOfStayPointsAtEveryBoundary) {
  const std::vector<std::pair<int, int>> table = {{0, 0},  {1, 1},  {2, 2},  {3, 3},
                                                  {4, 4},  {5, 4},  {6, 4},  {7, 5},
                                                  {13, 5}, {14, 7}, {30, 7}, {400, 7}};
  for (const auto& [days, points] : table) {
    SCOPED_TRACE(days);
    const auto s = r::score_lace(lace(days, admission_acuity::elective, 0, 0));
    EXPECT_EQ(part(s, 0).points, points);
    EXPECT_EQ(s.total, points);
    EXPECT_TRUE(s.complete());
  }
}

TEST(RiskLace, AcuityPoints) {
  EXPECT_EQ(r::score_lace(lace(0, admission_acuity::emergent, 0, 0)).total, 3);
  EXPECT_EQ(r::score_lace(lace(0, admission_acuity::urgent, 0, 0)).total, 0);
  EXPECT_EQ(r::score_lace(lace(0, admission_acuity::elective, 0, 0)).total, 0);
}

TEST(RiskLace, ComorbidityPointsAtEveryBoundary) {
  const std::vector<std::pair<int, int>> table = {{0, 0}, {1, 1}, {2, 2}, {3, 3},
                                                  {4, 5}, {5, 5}, {6, 5}, {33, 5}};
  for (const auto& [sum, points] : table) {
    SCOPED_TRACE(sum);
    const auto s = r::score_lace(lace(0, admission_acuity::elective, sum, 0));
    EXPECT_EQ(part(s, 2).points, points);
    EXPECT_EQ(s.total, points);
  }
}

TEST(RiskLace, EdVisitPointsCappedAtFour) {
  const std::vector<std::pair<int, int>> table = {{0, 0}, {1, 1}, {2, 2}, {3, 3},
                                                  {4, 4}, {5, 4}, {20, 4}};
  for (const auto& [visits, points] : table) {
    SCOPED_TRACE(visits);
    const auto s = r::score_lace(lace(0, admission_acuity::elective, 0, visits));
    EXPECT_EQ(part(s, 3).points, points);
    EXPECT_EQ(s.total, points);
  }
}

TEST(RiskLace, BandsAndProbabilities) {
  struct row {
    r::lace_input in;
    int total;
    risk_band band;
    std::string_view label;
    double probability;
  };
  const std::vector<row> rows = {
      {lace(0, admission_acuity::elective, 0, 0), 0, risk_band::low, "low", 0.093},
      {lace(4, admission_acuity::elective, 0, 0), 4, risk_band::low, "low", 0.093},
      {lace(7, admission_acuity::elective, 0, 0), 5, risk_band::moderate, "moderate", 0.093},
      {lace(7, admission_acuity::elective, 0, 4), 9, risk_band::moderate, "moderate", 0.093},
      {lace(7, admission_acuity::emergent, 2, 0), 10, risk_band::high, "high", 0.255},
      {lace(14, admission_acuity::emergent, 4, 4), 19, risk_band::high, "high", 0.255},
  };
  for (const row& w : rows) {
    SCOPED_TRACE(w.total);
    const auto s = r::score_lace(w.in);
    EXPECT_EQ(s.total, w.total);
    EXPECT_EQ(s.highest_possible, w.total);
    EXPECT_EQ(s.band, w.band);
    EXPECT_EQ(s.band_label, w.label);
    EXPECT_DOUBLE_EQ(s.probability, w.probability);
    EXPECT_EQ(s.max_total, 19);
    EXPECT_EQ(s.method, "LACE");
    EXPECT_FALSE(s.probability_source.empty());
    EXPECT_EQ(s.outcome, "death or unplanned readmission within 30 days");
  }
  EXPECT_EQ(r::risk_probability_code(risk_band::low), "low");
  EXPECT_EQ(r::risk_probability_code(risk_band::moderate), "moderate");
  EXPECT_EQ(r::risk_probability_code(risk_band::high), "high");
}

TEST(RiskLace, PublishedWorkedExamples) {
  // cliot::lace_readmission_index documentation: 5-day stay (+4), acute (+3), Charlson 5 (+5),
  // 2 ED visits (+2) = 14, high; 2-day elective stay, Charlson 0, no ED visit = 2, low.
  const auto high = r::score_lace(lace(5, admission_acuity::emergent, 5, 2));
  EXPECT_EQ(high.total, 14);
  EXPECT_EQ(high.band, risk_band::high);
  EXPECT_EQ(high.describe(), "LACE 14 high: L 4, A 3, C 5, E 2");
  const auto low = r::score_lace(lace(2, admission_acuity::elective, 0, 0));
  EXPECT_EQ(low.total, 2);
  EXPECT_EQ(low.band, risk_band::low);
}

TEST(RiskLace, ComponentsExplainThemselves) {
  const auto s = r::score_lace(lace(5, admission_acuity::emergent, 4, 6));
  ASSERT_EQ(s.components.size(), 4u);
  EXPECT_EQ(part(s, 0).code, "L");
  EXPECT_EQ(part(s, 0).name, "length of stay");
  EXPECT_EQ(part(s, 0).input, "5 d");
  EXPECT_EQ(part(s, 0).max_points, 7);
  EXPECT_EQ(part(s, 0).basis, "length of stay 5 days (4-6) \u2192 4");
  EXPECT_EQ(part(s, 1).basis, "emergent admission \u2192 3");
  EXPECT_EQ(part(s, 1).input, "emergent");
  EXPECT_EQ(part(s, 2).basis, "comorbidity sum 4 (\u22654) \u2192 5");
  EXPECT_EQ(part(s, 3).basis, "6 ED visits in 6 months (capped at 4) \u2192 4");
  EXPECT_EQ(part(s, 3).input, "6");
  EXPECT_EQ(r::score_lace(lace(1, admission_acuity::urgent, 0, 1)).components[0].basis,
            "length of stay 1 day \u2192 1");
  EXPECT_EQ(r::score_lace(lace(0, admission_acuity::urgent, 0, 1)).components[1].basis,
            "urgent admission (not emergent) \u2192 0");
  EXPECT_EQ(r::score_lace(lace(0, admission_acuity::urgent, 0, 1)).components[0].basis,
            "length of stay 0 days (<1) \u2192 0");
  EXPECT_EQ(r::score_lace(lace(14, admission_acuity::urgent, 0, 1)).components[0].basis,
            "length of stay 14 days (\u226514) \u2192 7");
}

TEST(RiskLace, EachMissingInputIsSaidAndScoresNothing) {
  const std::vector<std::string_view> names = {"length of stay", "acuity of admission",
                                               "comorbidity", "ED visits in 6 months"};
  const std::vector<int> max_points = {7, 3, 5, 4};
  for (std::size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(names[i]);
    r::lace_input in = lace(5, admission_acuity::emergent, 2, 1);  // 4 + 3 + 2 + 1 = 10
    const std::vector<int> points = {4, 3, 2, 1};
    if (i == 0) in.length_of_stay_days.reset();
    if (i == 1) in.acuity.reset();
    if (i == 2) in.comorbidity_sum.reset();
    if (i == 3) in.ed_visits_6_months.reset();
    const auto s = r::score_lace(in);
    EXPECT_FALSE(s.complete());
    EXPECT_EQ(s.missing, std::vector<std::string_view>{names[i]});
    EXPECT_TRUE(part(s, i).missing);
    EXPECT_EQ(part(s, i).points, 0);
    EXPECT_EQ(part(s, i).input, "missing");
    EXPECT_EQ(part(s, i).basis, std::string(names[i]) + " missing \u2192 0 (score incomplete)");
    EXPECT_EQ(s.total, 10 - points[i]);
    EXPECT_EQ(s.highest_possible, 10 - points[i] + max_points[i]);
    for (std::size_t j = 0; j < 4; ++j) {
      if (j != i) {
        EXPECT_FALSE(part(s, j).missing) << j;
      }
    }
  }
  const auto e = r::score_lace(lace(5, admission_acuity::emergent, 2, std::nullopt));
  EXPECT_EQ(e.describe(),
            "LACE 9 moderate: L 4, A 3, C 2, E ? (incomplete: ED visits in 6 months missing; up "
            "to 13)");
  EXPECT_EQ(e.band, risk_band::moderate);  // from what is known; highest_possible says 13
}

TEST(RiskLace, NothingKnownIsIncompleteNotLowRisk) {
  const auto s = r::score_lace({});
  EXPECT_EQ(s.total, 0);
  EXPECT_EQ(s.highest_possible, 19);
  EXPECT_FALSE(s.complete());
  EXPECT_EQ(s.missing.size(), 4u);
}

TEST(RiskLace, NegativeCountsAreMissing) {
  const auto s = r::score_lace(lace(-1, admission_acuity::elective, -2, -3));
  EXPECT_EQ(s.missing.size(), 3u);
  EXPECT_EQ(part(s, 0).basis, "length of stay negative \u2192 0 (score incomplete)");
  EXPECT_TRUE(part(s, 2).missing);
  EXPECT_TRUE(part(s, 3).missing);
  EXPECT_EQ(s.highest_possible, 7 + 5 + 4);
}

// --- HOSPITAL --------------------------------------------------------------------------------

// Everything at 0 points; tests change one input.
r::hospital_input hospital_zero() {
  r::hospital_input in;
  in.haemoglobin = r::lab_value{13.5, "g/dL"};
  in.oncology_service = false;
  in.sodium = r::lab_value{140, "mmol/L"};
  in.any_procedure = false;
  in.acuity = admission_acuity::elective;
  in.admissions_12_months = 0;
  in.length_of_stay_days = 2;
  return in;
}

int hb_points(double value, std::string unit) {
  auto in = hospital_zero();
  in.haemoglobin = r::lab_value{value, std::move(unit)};
  const auto s = r::score_hospital(in);
  EXPECT_TRUE(s.complete()) << value;
  return s.components.at(0).points;
}

TEST(RiskHospital, AllZeroIsZero) {
  const auto s = r::score_hospital(hospital_zero());
  EXPECT_EQ(s.total, 0);
  EXPECT_TRUE(s.complete());
  EXPECT_EQ(s.components.size(), 7u);
  EXPECT_EQ(s.method, "HOSPITAL");
  EXPECT_EQ(s.max_total, 13);
}

TEST(RiskHospital, HaemoglobinBelow12GramsPerDecilitreInEachUnit) {
  EXPECT_EQ(hb_points(11.9, "g/dL"), 1);
  EXPECT_EQ(hb_points(12.0, "g/dL"), 0);
  EXPECT_EQ(hb_points(119, "g/L"), 1);
  EXPECT_EQ(hb_points(120, "g/L"), 0);
  EXPECT_EQ(hb_points(119.9, "g/L"), 1);
  // mmol/L (monomer): 11.9 g/dL = 7.385 mmol/L, 12.0 g/dL = 7.447 mmol/L.
  EXPECT_EQ(hb_points(7.38, "mmol/L"), 1);
  EXPECT_EQ(hb_points(7.44, "mmol/L"), 1);
  EXPECT_EQ(hb_points(7.45, "mmol/L"), 0);
  // UCUM case-insensitive forms and surrounding spaces.
  EXPECT_EQ(hb_points(11.9, "G/DL"), 1);
  EXPECT_EQ(hb_points(11.9, "g/dl"), 1);
  EXPECT_EQ(hb_points(120, " g/l "), 0);
  EXPECT_EQ(hb_points(7.38, "MMOL/L"), 1);
}

TEST(RiskHospital, HaemoglobinBasisShowsTheConversion) {
  auto in = hospital_zero();
  in.haemoglobin = r::lab_value{118, "g/L"};
  EXPECT_EQ(r::score_hospital(in).components[0].basis,
            "haemoglobin 118 g/L = 11.80 g/dL (<12 g/dL) \u2192 1");
  EXPECT_EQ(r::score_hospital(in).components[0].input, "118 g/L");
  in.haemoglobin = r::lab_value{12, "g/dL"};
  EXPECT_EQ(r::score_hospital(in).components[0].basis,
            "haemoglobin 12 g/dL (\u226512 g/dL) \u2192 0");
  in.haemoglobin = r::lab_value{7.4, "mmol/l"};
  EXPECT_EQ(r::score_hospital(in).components[0].basis,
            "haemoglobin 7.4 mmol/L = 11.92 g/dL (<12 g/dL) \u2192 1");
}

TEST(RiskHospital, HaemoglobinInAnUnknownUnitOrNoValueIsMissing) {
  for (std::string_view unit : {"mg/dL", "g%", "", "g/dL/", "mmol", "umol/L", "10*12/L"}) {
    SCOPED_TRACE(std::string(unit));
    auto in = hospital_zero();
    in.haemoglobin = r::lab_value{9.0, std::string(unit)};  // would score if it were g/dL
    const auto s = r::score_hospital(in);
    EXPECT_TRUE(s.components[0].missing);
    EXPECT_EQ(s.components[0].points, 0);
    EXPECT_EQ(s.components[0].basis,
              "haemoglobin at discharge unit not recognised \u2192 0 (score incomplete)");
    EXPECT_EQ(s.missing, std::vector<std::string_view>{"haemoglobin at discharge"});
    EXPECT_EQ(s.highest_possible, 1);
  }
  for (double v : {0.0, -11.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    auto in = hospital_zero();
    in.haemoglobin = r::lab_value{v, "g/dL"};
    EXPECT_TRUE(r::score_hospital(in).components[0].missing) << v;
  }
}

TEST(RiskHospital, SodiumBelow135) {
  const auto na = [](double v, std::string unit) {
    auto in = hospital_zero();
    in.sodium = r::lab_value{v, std::move(unit)};
    return r::score_hospital(in).components.at(2);
  };
  EXPECT_EQ(na(134.9, "mmol/L").points, 1);
  EXPECT_EQ(na(135, "mmol/L").points, 0);
  EXPECT_EQ(na(134.9, "meq/L").points, 1);
  EXPECT_EQ(na(134, "mEq/L").points, 1);
  EXPECT_EQ(na(135, "MMOL/L").points, 0);
  EXPECT_EQ(na(134.9, "mmol/L").basis, "sodium 134.9 mmol/L (<135) \u2192 1");
  EXPECT_EQ(na(135, "mmol/L").basis, "sodium 135 mmol/L (\u2265135) \u2192 0");
  EXPECT_TRUE(na(120, "mg/dL").missing);
  EXPECT_TRUE(na(120, "g/L").missing);
  EXPECT_TRUE(na(-1, "mmol/L").missing);
}

TEST(RiskHospital, OncologyProcedureAndAdmissionType) {
  auto in = hospital_zero();
  in.oncology_service = true;
  EXPECT_EQ(r::score_hospital(in).total, 2);
  EXPECT_EQ(r::score_hospital(in).components[1].basis,
            "discharged from an oncology service \u2192 2");
  in = hospital_zero();
  in.any_procedure = true;
  EXPECT_EQ(r::score_hospital(in).total, 1);
  EXPECT_EQ(r::score_hospital(in).components[3].basis, "procedure during the stay \u2192 1");
  in = hospital_zero();
  in.acuity = admission_acuity::urgent;
  EXPECT_EQ(r::score_hospital(in).total, 1);
  EXPECT_EQ(r::score_hospital(in).components[4].basis, "non-elective (urgent) admission \u2192 1");
  in.acuity = admission_acuity::emergent;
  EXPECT_EQ(r::score_hospital(in).total, 1);
  in.acuity = admission_acuity::elective;
  EXPECT_EQ(r::score_hospital(in).total, 0);
  EXPECT_EQ(r::score_hospital(in).components[4].basis, "elective admission \u2192 0");
}

TEST(RiskHospital, PreviousAdmissionsAtEveryBoundary) {
  const std::vector<std::pair<int, int>> table = {{0, 0}, {1, 2}, {2, 2}, {5, 2},
                                                  {6, 5}, {7, 5}, {40, 5}};
  for (const auto& [n, points] : table) {
    SCOPED_TRACE(n);
    auto in = hospital_zero();
    in.admissions_12_months = n;
    const auto s = r::score_hospital(in);
    EXPECT_EQ(s.components[5].points, points);
    EXPECT_EQ(s.total, points);
  }
  auto in = hospital_zero();
  in.admissions_12_months = 6;
  EXPECT_EQ(r::score_hospital(in).components[5].basis, "6 admissions in 12 months (>5) \u2192 5");
  in.admissions_12_months = 1;
  EXPECT_EQ(r::score_hospital(in).components[5].basis, "1 admission in 12 months (1-5) \u2192 2");
  in.admissions_12_months = -1;
  EXPECT_TRUE(r::score_hospital(in).components[5].missing);
}

TEST(RiskHospital, LengthOfStayFiveDaysOrMore) {
  const std::vector<std::pair<int, int>> table = {{0, 0}, {4, 0}, {5, 2}, {6, 2}, {30, 2}};
  for (const auto& [days, points] : table) {
    SCOPED_TRACE(days);
    auto in = hospital_zero();
    in.length_of_stay_days = days;
    EXPECT_EQ(r::score_hospital(in).total, points);
  }
  auto in = hospital_zero();
  in.length_of_stay_days = 5;
  EXPECT_EQ(r::score_hospital(in).components[6].basis, "length of stay 5 days (\u22655) \u2192 2");
}

TEST(RiskHospital, BandsAndProbabilities) {
  // total → band: 4 low, 5 and 6 intermediate, 7 high (Donzé: low 0–4, intermediate 5–6, high ≥7).
  const auto score_with = [](int admissions, bool oncology, bool procedure, int los) {
    auto in = hospital_zero();
    in.admissions_12_months = admissions;
    in.oncology_service = oncology;
    in.any_procedure = procedure;
    in.length_of_stay_days = los;
    return r::score_hospital(in);
  };
  const auto four = score_with(1, true, false, 2);    // A 2 + O 2
  const auto five = score_with(1, true, true, 2);     // A 2 + O 2 + P 1
  const auto six = score_with(1, true, false, 5);     // A 2 + O 2 + L 2
  const auto seven = score_with(6, false, false, 5);  // A 5 + L 2
  EXPECT_EQ(four.total, 4);
  EXPECT_EQ(four.band, risk_band::low);
  EXPECT_DOUBLE_EQ(four.probability, 0.058);
  EXPECT_EQ(five.total, 5);
  EXPECT_EQ(five.band, risk_band::moderate);
  EXPECT_EQ(five.band_label, "intermediate");
  EXPECT_DOUBLE_EQ(five.probability, 0.119);
  EXPECT_EQ(six.total, 6);
  EXPECT_EQ(six.band, risk_band::moderate);
  EXPECT_DOUBLE_EQ(six.probability, 0.119);
  EXPECT_EQ(seven.total, 7);
  EXPECT_EQ(seven.band, risk_band::high);
  EXPECT_EQ(seven.band_label, "high");
  EXPECT_DOUBLE_EQ(seven.probability, 0.228);
  EXPECT_EQ(seven.outcome, "potentially avoidable readmission within 30 days");
}

TEST(RiskHospital, EverythingScoresThirteen) {
  r::hospital_input in;
  in.haemoglobin = r::lab_value{9.8, "g/dL"};
  in.oncology_service = true;
  in.sodium = r::lab_value{128, "mmol/L"};
  in.any_procedure = true;
  in.acuity = admission_acuity::emergent;
  in.admissions_12_months = 8;
  in.length_of_stay_days = 12;
  const auto s = r::score_hospital(in);
  EXPECT_EQ(s.total, 13);
  EXPECT_EQ(s.describe(), "HOSPITAL 13 high: H 1, O 2, S 1, P 1, IT 1, A 5, L 2");
}

TEST(RiskHospital, MissingInputsAreSaidAndBoundTheTotal) {
  r::hospital_input in;  // nothing known
  const auto none = r::score_hospital(in);
  EXPECT_EQ(none.total, 0);
  EXPECT_EQ(none.highest_possible, 13);
  EXPECT_EQ(none.missing.size(), 7u);
  EXPECT_EQ(none.band, risk_band::low);
  EXPECT_FALSE(none.complete());

  // Labs not back yet (the usual case at A03): H and S missing, the rest known.
  in = hospital_zero();
  in.haemoglobin.reset();
  in.sodium.reset();
  in.acuity = admission_acuity::emergent;
  in.length_of_stay_days = 6;
  const auto s = r::score_hospital(in);
  EXPECT_EQ(s.total, 3);
  EXPECT_EQ(s.highest_possible, 5);
  EXPECT_EQ(s.missing,
            (std::vector<std::string_view>{"haemoglobin at discharge", "sodium at discharge"}));
  EXPECT_TRUE(s.components[0].missing);
  EXPECT_TRUE(s.components[2].missing);
  EXPECT_EQ(s.components[2].basis, "sodium at discharge missing \u2192 0 (score incomplete)");
  EXPECT_EQ(s.describe(),
            "HOSPITAL 3 low: H ?, O 0, S ?, P 0, IT 1, A 0, L 2 (incomplete: haemoglobin at "
            "discharge, sodium at discharge missing; up to 5)");
}

// --- One discharge ---------------------------------------------------------------------------

const std::vector<r::diagnosis_code>& eight_diagnoses() {
  static const std::vector<r::diagnosis_code> dx = {
      {r::icd10cm_system, "I50.23"},  // acute on chronic systolic heart failure: chf; hf
      {r::icd10cm_system, "J44.1"},   // COPD with exacerbation: cpd; copd
      {r::icd10cm_system, "E11.22"},  // type 2 diabetes with diabetic CKD: diabwc; diabetes
      {r::icd10cm_system, "N18.4"},   // CKD stage 4: rend
      {r::icd10cm_system, "I25.10"},  // coronary atherosclerosis: ihd
      {r::icd10cm_system, "E11.65"},  // with hyperglycaemia: diab (dropped); diabetes
      {r::icd10cm_system, "Z79.4"},   // long-term insulin: nothing
      {r::icd10cm_system, "I10"},     // hypertension: nothing
  };
  return dx;
}

r::discharge_input full_discharge() {
  r::discharge_input in;
  in.diagnoses = eight_diagnoses();
  in.length_of_stay_days =
      r::length_of_stay_days("2026-11-14T18:42:00-06:00", "2026-11-19T11:05:00-06:00");
  in.acuity = admission_acuity::emergent;
  in.ed_visits_6_months = 2;
  in.admissions_12_months = 2;
  in.haemoglobin = r::lab_value{10.9, "g/dL"};
  in.sodium = r::lab_value{133, "mmol/L"};
  in.oncology_service = false;
  in.any_procedure = true;
  return in;
}

TEST(RiskAssess, AWholeDischargeByHand) {
  const auto a = r::assess_discharge(full_discharge());
  // Comorbidity (LACE worksheet): chf 2 + cpd 2 + diabwc 2 + rend 4 = 10; diab dropped.
  EXPECT_EQ(a.comorbidity.sum, 10);
  EXPECT_EQ(a.comorbidity.considered, 8u);
  EXPECT_EQ(a.comorbidity.describe(),
            "chf 2, cpd 2, diab 0 (dropped for diabwc), diabwc 2, rend 4; sum 10 (lace weights)");
  // LACE: L 5 days → 4, A emergent 3, C 10 → 5, E 2 → 2 = 14, high.
  EXPECT_EQ(a.lace.describe(), "LACE 14 high: L 4, A 3, C 5, E 2");
  EXPECT_TRUE(a.lace.complete());
  // HOSPITAL: H 10.9 → 1, O 0, S 133 → 1, P 1, IT 1, A 2 → 2, L 5 → 2 = 8, high.
  EXPECT_EQ(a.hospital.describe(), "HOSPITAL 8 high: H 1, O 0, S 1, P 1, IT 1, A 2, L 2");
  EXPECT_DOUBLE_EQ(a.hospital.probability, 0.228);
  // Chronic conditions.
  using cc = r::chronic_condition;
  EXPECT_TRUE(a.chronic.has(cc::diabetes));
  EXPECT_TRUE(a.chronic.has(cc::ischemic_heart_disease));
  EXPECT_TRUE(a.chronic.has(cc::heart_failure));
  EXPECT_TRUE(a.chronic.has(cc::copd));
  EXPECT_FALSE(a.chronic.has(cc::asthma));
  EXPECT_EQ(a.chronic.flags[0].codes, (std::vector<std::string>{"E11.22", "E11.65"}));
}

TEST(RiskAssess, TheWeightSetChangesC) {
  r::discharge_input in = full_discharge();
  const std::vector<r::diagnosis_code> dx = {{r::icd10cm_system, "I50.9"},
                                             {r::icd10cm_system, "E11.9"}};
  in.diagnoses = dx;
  // chf + diab: LACE 2 + 1 = 3; Charlson 1987 1 + 1 = 2; Quan 2011 2 + 0 = 2.
  EXPECT_EQ(r::assess_discharge(in, r::weight_set::lace).lace.components[2].points, 3);
  EXPECT_EQ(r::assess_discharge(in, r::weight_set::charlson_1987).lace.components[2].points, 2);
  const auto quan = r::assess_discharge(in, r::weight_set::quan_2011);
  EXPECT_EQ(quan.lace.components[2].points, 2);
  EXPECT_EQ(quan.comorbidity.weights, r::weight_set::quan_2011);
  EXPECT_EQ(quan.lace.total, 4 + 3 + 2 + 2);
}

TEST(RiskAssess, NoReadableDiagnosisLeavesComorbidityMissing) {
  r::discharge_input in = full_discharge();
  in.diagnoses = {};
  auto a = r::assess_discharge(in);
  EXPECT_TRUE(a.lace.components[2].missing);
  EXPECT_EQ(a.lace.missing, std::vector<std::string_view>{"comorbidity"});
  EXPECT_EQ(a.lace.components[2].basis,
            "comorbidity missing: no ICD-10 diagnosis code to read \u2192 0 (score incomplete)");
  EXPECT_EQ(a.lace.total, 4 + 3 + 2);
  EXPECT_EQ(a.lace.highest_possible, 4 + 3 + 5 + 2);
  EXPECT_FALSE(a.chronic.known());

  // ICD-9 codes only: not read, so still missing (not "no comorbidity").
  const std::vector<r::diagnosis_code> icd9 = {{"http://hl7.org/fhir/sid/icd-9-cm", "428.0"}};
  in.diagnoses = icd9;
  a = r::assess_discharge(in);
  EXPECT_TRUE(a.lace.components[2].missing);
  EXPECT_EQ(a.comorbidity.not_considered.size(), 1u);

  // A readable code that is in no list: known, no comorbidity.
  const std::vector<r::diagnosis_code> none = {{r::icd10cm_system, "S72.001A"}};
  in.diagnoses = none;
  a = r::assess_discharge(in);
  EXPECT_FALSE(a.lace.components[2].missing);
  EXPECT_EQ(a.lace.components[2].points, 0);
  EXPECT_TRUE(a.lace.complete());
  EXPECT_TRUE(a.chronic.known());
}

TEST(RiskAssess, AnInvalidStayLengthIsMissingInBothScores) {
  r::discharge_input in = full_discharge();
  in.length_of_stay_days = r::length_of_stay_days("2026-11-19", "2026-11-14");  // reversed
  const auto a = r::assess_discharge(in);
  EXPECT_TRUE(a.lace.components[0].missing);
  EXPECT_TRUE(a.hospital.components[6].missing);
  EXPECT_EQ(a.lace.highest_possible, a.lace.total + 7);
  EXPECT_EQ(a.hospital.highest_possible, a.hospital.total + 2);
}

}  // namespace
