// Readmission-risk scores of one discharge: LACE (van Walraven 2010) and HOSPITAL (Donzé 2013),
// as specified in ../shared/spec/risk.md §1–2, plus the length-of-stay helper. Pure functions: the
// caller gathers the inputs (the discharge's clinical event, its labs, the member's encounter
// history) and gets explainable results back; no I/O, no store, no FHIR.
//
// Missing inputs are never silently normal: an input left empty (std::optional) — or unusable (a
// negative count, an unknown lab unit) — scores 0 points, its component says `missing`, the
// result lists it, complete() is false and highest_possible says how high the total could be.
//
// Each component carries its name, the input used, the points and a short basis text without PHI
// ("length of stay 5 days (4-6) → 4"); a result's band, expected probability and outcome are what a
// FHIR RiskAssessment.prediction needs.
#pragma once

#include "gateway/risk/comorbidity.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::gateway::risk {

/// Whole days between two FHIR dateTime (or date) strings: the difference of the calendar dates
/// as written ("2026-11-14T18:42:00-06:00" → "2026-11-19" is 5), i.e. the hospital's local dates,
/// not UTC; offsets are checked but not applied, so a stay across a DST change or with mixed
/// offsets counts the dates on the wall. nullopt when either is not a full date (YYYY-MM-DD, an
/// optional time hh:mm:ss[.f] and an optional Z / ±hh:mm), or the discharge date is earlier.
std::optional<int> length_of_stay_days(std::string_view admitted, std::string_view discharged);

/// How the index admission came about. HL7 v2 table 0007 E / FHIR ActPriority EM / admitted
/// through the ED → emergent; U / UR → urgent; EL, R, C → elective.
enum class admission_acuity : std::uint8_t { elective, urgent, emergent };
std::string_view to_string(admission_acuity a) noexcept;

/// A lab result with its UCUM unit as sent ("g/dL", "g/L", "mmol/L"). Units are compared ignoring
/// ASCII case and surrounding spaces (UCUM's case-insensitive form); an unknown unit or a value
/// that is not a positive finite number makes the lab missing.
struct lab_value {
  double value = 0;
  std::string unit;
};

/// Qualitative risk, also FHIR risk-probability codes (low, moderate, high). HOSPITAL's
/// "intermediate" band is `moderate`.
enum class risk_band : std::uint8_t { low, moderate, high };
/// "low", "moderate", "high": the code in http://terminology.hl7.org/CodeSystem/risk-probability.
std::string_view risk_probability_code(risk_band b) noexcept;

/// One letter of a score.
struct component {
  std::string_view code;  // "L", "A", "C", "E"; "H", "O", "S", "P", "IT", "A", "L"
  std::string_view name;  // "length of stay"
  std::string input;      // the value used: "5 d", "emergent", "11.8 g/dL", "yes"; "missing"
  int points = 0;
  int max_points = 0;
  bool missing = false;  // no usable input: 0 points, the score is incomplete
  std::string basis;     // "length of stay 5 days (4-6) → 4"; no PHI
};

struct score_result {
  std::string_view method;   // "LACE", "HOSPITAL"
  std::string_view outcome;  // what the probability is of ("death or unplanned readmission…")
  int total = 0;             // sum of the points; a lower bound when inputs are missing
  int max_total = 0;         // 19, 13
  int highest_possible = 0;  // total with every missing component at its maximum
  risk_band band = risk_band::low;        // from total
  std::string_view band_label;            // the score's own word: "moderate" (LACE), "intermediate"
  double probability = 0;                 // expected risk of `outcome` in this band, 0–1
  std::string_view probability_source;    // where that figure comes from
  std::vector<component> components;      // in the score's letter order
  std::vector<std::string_view> missing;  // names of the missing inputs

  bool complete() const noexcept { return missing.empty(); }
  /// "LACE 11 high: L 4, A 3, C 2, E 2" plus " (incomplete: …)": PHI-free, for logs and notes.
  std::string describe() const;
};

// --- LACE --------------------------------------------------------------------------------------

struct lace_input {
  std::optional<int> length_of_stay_days;
  std::optional<admission_acuity> acuity;  // emergent (admitted through the ED) → 3
  std::optional<int> comorbidity_sum;      // comorbidity_result::sum (any weight set)
  std::optional<int> ed_visits_6_months;   // before admission, not the one that led to it
};
/// L: <1 d 0, 1 1, 2 2, 3 3, 4–6 4, 7–13 5, ≥14 7. A: emergent 3. C: sum 0–3 as is, ≥4 5.
/// E: visits, capped at 4. Total 0–19; low 0–4, moderate 5–9, high ≥10.
score_result score_lace(const lace_input& in);

// --- HOSPITAL ----------------------------------------------------------------------------------

struct hospital_input {
  std::optional<lab_value> haemoglobin;     // last at discharge: g/dL, g/L or mmol/L (monomer)
  std::optional<bool> oncology_service;     // discharged from an oncology service
  std::optional<lab_value> sodium;          // last at discharge: mmol/L (or meq/L)
  std::optional<bool> any_procedure;        // any coded procedure during the stay
  std::optional<admission_acuity> acuity;   // urgent or emergent (non-elective) → 1
  std::optional<int> admissions_12_months;  // hospital admissions before this one
  std::optional<int> length_of_stay_days;
};
/// H: Hb < 12 g/dL 1. O: 2. S: Na < 135 mmol/L 1. P: 1. IT: non-elective 1. A: previous
/// admissions 0 → 0, 1–5 → 2, > 5 → 5. L: ≥ 5 days 2. Total 0–13; low 0–4, intermediate 5–6,
/// high ≥ 7.
score_result score_hospital(const hospital_input& in);

// --- Everything for one discharge --------------------------------------------------------------

struct discharge_input {
  std::span<const diagnosis_code> diagnoses;  // viewed, not owned
  std::optional<int> length_of_stay_days;     // length_of_stay_days(admitted, discharged)
  std::optional<admission_acuity> acuity;
  std::optional<int> ed_visits_6_months;    // not counting the visit that led to this admission
  std::optional<int> admissions_12_months;  // not counting this admission
  std::optional<lab_value> haemoglobin;
  std::optional<lab_value> sodium;
  std::optional<bool> oncology_service;
  std::optional<bool> any_procedure;
};

struct risk_assessment {
  comorbidity_result comorbidity;  // under the weights LACE's C used
  chronic_conditions chronic;
  score_result lace;
  score_result hospital;
};

/// Comorbidity, chronic flags, LACE and HOSPITAL of one discharge. LACE's C is missing when no
/// diagnosis could be considered (none given, or none ICD-10): an uncoded discharge is not a
/// discharge without comorbidity.
risk_assessment assess_discharge(const discharge_input& in,
                                 weight_set lace_weights = weight_set::lace,
                                 const code_lists& lists = code_lists::builtin());

}  // namespace carebridge::gateway::risk
