// Comorbidity from a discharge's ICD-10 / ICD-10-CM diagnosis codes: the Charlson conditions
// (Quan 2005 code lists, ../shared/spec/risk.md §3), their hierarchy, the sum under a selectable
// weight set, and the chronic-condition flags. Pure functions over code_lists; no I/O.
//
// Decisions on ICD-10-CM (the spec asks for them; the rows are in mappings/tables/risk/):
// - E08, E09 (diabetes due to an underlying condition / drug-induced) count as diabetes with the
//   E10–E14 fourth-character split: .2 .3 .4 .5 complicated (diabwc), .0 .1 .6 .8 .9 not (diab).
//   E13 is in Quan already.
// - E11.6x (and E08–E13 .6x: arthropathy, skin and foot ulcer, oral, hypo- and hyperglycaemia,
//   other) stay "without chronic complication", as Quan maps E1x6. A coded chronic complication
//   (E11.2x–E11.5x) gives diabwc and, by the hierarchy, drops diab.
// - F02.8x (and every F02 code, incl. the FY2023 severity codes F02.A–F02.C) is dementia by the
//   F02 prefix; the underlying disease (G30, G20…) is coded separately.
// - Z21 (asymptomatic HIV infection status) is not AIDS/HIV; B20 (HIV disease, the only
//   ICD-10-CM code of Quan's B20–B22, B24) is.
// - N18.1, N18.2 (CKD stage 1–2) are not Charlson renal disease, which is moderate or severe; they
//   are `mrend` (mild renal disease), which scores +2 under the LACE worksheet weights and 0 under
//   Charlson 1987 and Quan 2011. Every other N18 code (stage 3–5, ESRD, unspecified) and the other
//   Quan renal codes are `rend` = LACE's "moderate or severe renal disease" (+4).
// - Quan codes that no ICD-10-CM code has (F00, F05.1, I64, J46, E12, E14, B21, B22, B24…) are kept
//   for WHO ICD-10 feeds; they cannot match a US code.
//
// LACE worksheet weights (spec §1.1 (a)): peptic ulcer disease and hemiplegia are not on the
// worksheet and score 0 there. The +1 for peptic ulcer of the 2017 "modified LACE" (BMJ Open) is
// not used: that table also changes LOS points (≥14 → 6) and caps the comorbidity points at 6, so
// it is a different score, not a variant of the weights.
#pragma once

#include "gateway/risk/code_lists.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace carebridge::gateway::risk {

/// The Charlson conditions: Quan 2005's 17, in the spec's order, then CareBridge's mild renal.
enum class condition : std::uint8_t {
  mi,        // myocardial infarction
  chf,       // congestive heart failure
  pvd,       // peripheral vascular disease
  cevd,      // cerebrovascular disease
  dementia,  // dementia
  cpd,       // chronic pulmonary disease
  rheumd,    // rheumatic (connective tissue) disease
  pud,       // peptic ulcer disease
  mld,       // mild liver disease
  diab,      // diabetes without chronic complication
  diabwc,    // diabetes with chronic complication
  hp,        // hemiplegia or paraplegia
  rend,      // renal disease (moderate or severe)
  canc,      // any malignancy, incl. lymphoma and leukaemia, except non-melanoma skin
  msld,      // moderate or severe liver disease
  metacanc,  // metastatic solid tumour
  aids,      // AIDS/HIV
  mrend,     // mild renal disease: CKD stage 1–2 (CareBridge; LACE worksheet only)
};
inline constexpr std::size_t condition_count = 18;
/// The key used in the code list ("chf").
std::string_view to_string(condition c) noexcept;
/// "congestive heart failure"
std::string_view display(condition c) noexcept;
std::optional<condition> condition_from_string(std::string_view key) noexcept;
/// The condition that drops `c` when both are found (msld drops mld, diabwc drops diab, metacanc
/// drops canc, rend drops mrend); nullopt for the others.
std::optional<condition> superseded_by(condition c) noexcept;

/// Weight sets for the comorbidity sum.
enum class weight_set : std::uint8_t {
  lace,           // the LACE worksheet's Charlson-style weights (spec §1.1 (a))
  charlson_1987,  // Charlson et al. 1987
  quan_2011,      // Quan et al., Am J Epidemiol 2011 (AIDS/HIV = 4)
};
/// "lace", "charlson-1987", "quan-2011"
std::string_view to_string(weight_set w) noexcept;
/// Points for `c` under `w` (0 for conditions the set does not score).
int weight(condition c, weight_set w) noexcept;

/// One diagnosis as the caller has it: a FHIR system URI and the code as sent. Views: the caller
/// keeps the text alive for the call.
struct diagnosis_code {
  std::string_view system;
  std::string_view code;
};

/// Why a diagnosis was not considered.
enum class ignore_reason : std::uint8_t {
  other_system,  // not ICD-10 / ICD-10-CM (see is_icd10_system)
  malformed,     // ICD-10 system, but the text is not an ICD-10 code
};
std::string_view to_string(ignore_reason r) noexcept;

struct ignored_code {
  std::size_t index = 0;  // position in the caller's diagnoses
  ignore_reason reason = ignore_reason::other_system;
  bool operator==(const ignored_code&) const = default;
};

/// A condition found, with the codes that set it.
struct condition_finding {
  condition which = condition::mi;
  std::vector<std::string> codes;          // dotted ("E11.22"), in input order, each once
  std::optional<condition> superseded_by;  // set when the hierarchy dropped it (points 0)
  int points = 0;                          // under comorbidity_result::weights
};

struct comorbidity_result {
  weight_set weights = weight_set::lace;
  std::vector<condition_finding> conditions;  // every condition found, in enum order
  int sum = 0;                                // points of the conditions not superseded
  std::size_t considered = 0;                 // well-formed ICD-10(-CM) codes looked up
  std::vector<ignored_code> not_considered;   // other systems and malformed codes

  /// The finding for `c`, or nullptr when `c` was not found.
  const condition_finding* find(condition c) const noexcept;
  /// Found and not superseded: counts in the sum.
  bool counts(condition c) const noexcept;
  /// "chf 2, cpd 2, diabwc 2 (diab dropped)": conditions and points, no codes (PHI-free).
  std::string describe() const;
};

/// The Charlson conditions of `diagnoses`, the hierarchy applied, summed under `weights`.
comorbidity_result assess_comorbidity(std::span<const diagnosis_code> diagnoses, weight_set weights,
                                      const code_lists& lists = code_lists::builtin());

// --- Chronic-condition flags -------------------------------------------------------------------

enum class chronic_condition : std::uint8_t {
  diabetes,                // E08–E14
  ischemic_heart_disease,  // I20–I25
  heart_failure,           // I50, I11.0, I13.0, I13.2, I09.81
  asthma,                  // J45, J46
  copd,                    // J41–J44
};
inline constexpr std::size_t chronic_condition_count = 5;
/// The key used in the code list ("ihd").
std::string_view to_string(chronic_condition c) noexcept;
/// "ischaemic heart disease"
std::string_view display(chronic_condition c) noexcept;
std::optional<chronic_condition> chronic_condition_from_string(std::string_view key) noexcept;

struct chronic_flag {
  chronic_condition which = chronic_condition::diabetes;
  bool present = false;
  std::vector<std::string> codes;  // dotted, input order, each once; empty when not present
};

struct chronic_conditions {
  std::array<chronic_flag, chronic_condition_count> flags;  // every condition, in enum order
  std::size_t considered = 0;  // well-formed ICD-10(-CM) codes looked up
  std::vector<ignored_code> not_considered;

  bool has(chronic_condition c) const noexcept {
    return flags[static_cast<std::size_t>(c)].present;
  }
  /// False when no code could be considered: the flags say nothing then (not "absent").
  bool known() const noexcept { return considered > 0; }
};

chronic_conditions find_chronic_conditions(std::span<const diagnosis_code> diagnoses,
                                           const code_lists& lists = code_lists::builtin());

}  // namespace carebridge::gateway::risk
