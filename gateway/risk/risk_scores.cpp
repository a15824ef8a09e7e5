#include "gateway/risk/risk_scores.hpp"

#include "mappings/fhir/datetime_text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <utility>

namespace carebridge::gateway::risk {

namespace {

// --- Expected risk per band --------------------------------------------------------------------

// HOSPITAL: estimated risk of a potentially avoidable 30-day readmission for the low /
// intermediate / high bands, ../shared/spec/risk.md §2 ([V] cliniborg calculator, matching the 2016
// international validation, Donzé et al. JAMA Intern Med 2016;176:496).
constexpr std::array<double, 3> k_hospital_probability = {0.058, 0.119, 0.228};
constexpr std::string_view k_hospital_source =
    "Donze et al., JAMA Intern Med 2016;176:496 (HOSPITAL bands 5.8% / 11.9% / 22.8%)";
constexpr std::string_view k_hospital_outcome = "potentially avoidable readmission within 30 days";

// LACE: the spec (§1.1) has no figure per band. The only observed rates split by band it gives [V]
// are F1000Research 2017;6:1798 (patients aged 65 and over, 30-day death or readmission): 25.5%
// with LACE ≥ 10 (the high band) and 9.3% below 10 (low and moderate together, so both get it).
// The derivation cohort's 8.0% overall and "2.0% at a score of 0" are not per band, and the 43.7%
// at 19 is marked [M] (unchecked). To be recalibrated on CareBridge's own data (spec §6).
constexpr std::array<double, 3> k_lace_probability = {0.093, 0.093, 0.255};
constexpr std::string_view k_lace_source =
    "F1000Research 2017;6:1798, age >= 65 (LACE >= 10: 25.5%; below 10, low and moderate "
    "together: 9.3%)";
constexpr std::string_view k_lace_outcome = "death or unplanned readmission within 30 days";

// Haemoglobin in mmol/L is per monomer (as reported in the Netherlands and Scandinavia):
// 1 mmol/L = 1.61145 g/dL (monomer molar mass 16 114.5 g/mol).
constexpr double k_hb_gdl_per_mmol = 1.61145;
constexpr double k_hb_threshold_gdl = 12.0;
constexpr double k_na_threshold = 135.0;

// --- Text --------------------------------------------------------------------------------------

std::string number(double v) {
  std::array<char, 32> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return std::string(buf.data(), r.ptr);
}

std::string fixed2(double v) {
  std::array<char, 32> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::fixed, 2);
  return std::string(buf.data(), r.ptr);
}

std::string arrow(int points) {
  return " \u2192 " + std::to_string(points);
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto fold = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    if (fold(a[i]) != fold(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// --- Components --------------------------------------------------------------------------------

component make(std::string_view code, std::string_view name, int max_points) {
  component c;
  c.code = code;
  c.name = name;
  c.max_points = max_points;
  return c;
}

// A component without a usable input: 0 points, flagged. `why` is "missing", "negative"…
component missing(component c, std::string_view why) {
  c.missing = true;
  c.points = 0;
  c.input = "missing";
  c.basis = std::string(c.name) + " " + std::string(why) + arrow(0) + " (score incomplete)";
  return c;
}

score_result finish(std::string_view method, std::string_view outcome, int max_total,
                    std::vector<component> components, int moderate_from, int high_from,
                    std::string_view moderate_label, const std::array<double, 3>& probability,
                    std::string_view source) {
  score_result r;
  r.method = method;
  r.outcome = outcome;
  r.max_total = max_total;
  r.components = std::move(components);
  for (const component& c : r.components) {
    r.total += c.points;
    r.highest_possible += c.missing ? c.max_points : c.points;
    if (c.missing) r.missing.push_back(c.name);
  }
  r.band = r.total >= high_from       ? risk_band::high
           : r.total >= moderate_from ? risk_band::moderate
                                      : risk_band::low;
  r.band_label = r.band == risk_band::high       ? std::string_view("high")
                 : r.band == risk_band::moderate ? moderate_label
                                                 : std::string_view("low");
  r.probability = probability[static_cast<std::size_t>(r.band)];
  r.probability_source = source;
  return r;
}

component length_of_stay_lace(std::optional<int> days) {
  component c = make("L", "length of stay", 7);
  if (!days) return missing(std::move(c), "missing");
  if (*days < 0) return missing(std::move(c), "negative");
  const int d = *days;
  c.points = d < 1 ? 0 : d <= 3 ? d : d <= 6 ? 4 : d <= 13 ? 5 : 7;
  c.input = std::to_string(d) + " d";
  const std::string_view range = d < 1     ? " (<1)"
                                 : d <= 3  ? ""
                                 : d <= 6  ? " (4-6)"
                                 : d <= 13 ? " (7-13)"
                                           : " (\u226514)";
  c.basis = "length of stay " + std::to_string(d) + (d == 1 ? " day" : " days") +
            std::string(range) + arrow(c.points);
  return c;
}

component acuity_lace(std::optional<admission_acuity> acuity) {
  component c = make("A", "acuity of admission", 3);
  if (!acuity) return missing(std::move(c), "missing");
  c.input = to_string(*acuity);
  c.points = *acuity == admission_acuity::emergent ? 3 : 0;
  c.basis = std::string(to_string(*acuity)) + " admission" +
            (*acuity == admission_acuity::urgent ? " (not emergent)" : "") + arrow(c.points);
  return c;
}

component comorbidity_lace(std::optional<int> sum) {
  component c = make("C", "comorbidity", 5);
  if (!sum) return missing(std::move(c), "missing");
  if (*sum < 0) return missing(std::move(c), "negative");
  c.points = *sum >= 4 ? 5 : *sum;
  c.input = std::to_string(*sum);
  c.basis =
      "comorbidity sum " + std::to_string(*sum) + (*sum >= 4 ? " (\u22654)" : "") + arrow(c.points);
  return c;
}

component ed_visits_lace(std::optional<int> visits) {
  component c = make("E", "ED visits in 6 months", 4);
  if (!visits) return missing(std::move(c), "missing");
  if (*visits < 0) return missing(std::move(c), "negative");
  c.points = std::min(*visits, 4);
  c.input = std::to_string(*visits);
  c.basis = std::to_string(*visits) + (*visits == 1 ? " ED visit" : " ED visits") + " in 6 months" +
            (*visits > 4 ? " (capped at 4)" : "") + arrow(c.points);
  return c;
}

component haemoglobin_hospital(const std::optional<lab_value>& hb) {
  component c = make("H", "haemoglobin at discharge", 1);
  if (!hb) return missing(std::move(c), "missing");
  if (!std::isfinite(hb->value) || hb->value <= 0) return missing(std::move(c), "not a value");
  const std::string_view unit = trim(hb->unit);
  // The threshold in the unit sent, so that 12 g/dL and 120 g/L compare exactly.
  double threshold = 0;
  double gdl = 0;
  std::string_view shown;
  if (iequals(unit, "g/dL")) {
    threshold = k_hb_threshold_gdl;
    gdl = hb->value;
    shown = "g/dL";
  } else if (iequals(unit, "g/L")) {
    threshold = k_hb_threshold_gdl * 10;
    gdl = hb->value / 10;
    shown = "g/L";
  } else if (iequals(unit, "mmol/L")) {
    threshold = k_hb_threshold_gdl / k_hb_gdl_per_mmol;
    gdl = hb->value * k_hb_gdl_per_mmol;
    shown = "mmol/L";
  } else {
    return missing(std::move(c), "unit not recognised");
  }
  const bool low = hb->value < threshold;
  c.points = low ? 1 : 0;
  c.input = number(hb->value) + " " + std::string(shown);
  c.basis = "haemoglobin " + c.input;
  if (shown != "g/dL") c.basis += " = " + fixed2(gdl) + " g/dL";
  c.basis += low ? " (<12 g/dL)" : " (\u226512 g/dL)";
  c.basis += arrow(c.points);
  return c;
}

component oncology_hospital(std::optional<bool> oncology) {
  component c = make("O", "oncology service", 2);
  if (!oncology) return missing(std::move(c), "missing");
  c.points = *oncology ? 2 : 0;
  c.input = *oncology ? "yes" : "no";
  c.basis = std::string(*oncology ? "discharged from an oncology service"
                                  : "not discharged from an oncology service") +
            arrow(c.points);
  return c;
}

component sodium_hospital(const std::optional<lab_value>& na) {
  component c = make("S", "sodium at discharge", 1);
  if (!na) return missing(std::move(c), "missing");
  if (!std::isfinite(na->value) || na->value <= 0) return missing(std::move(c), "not a value");
  const std::string_view unit = trim(na->unit);
  // Sodium is monovalent: 1 meq/L = 1 mmol/L.
  if (!iequals(unit, "mmol/L") && !iequals(unit, "meq/L"))
    return missing(std::move(c), "unit not recognised");
  const bool low = na->value < k_na_threshold;
  c.points = low ? 1 : 0;
  c.input = number(na->value) + " mmol/L";
  c.basis = "sodium " + c.input + (low ? " (<135)" : " (\u2265135)") + arrow(c.points);
  return c;
}

component procedure_hospital(std::optional<bool> procedure) {
  component c = make("P", "procedure during stay", 1);
  if (!procedure) return missing(std::move(c), "missing");
  c.points = *procedure ? 1 : 0;
  c.input = *procedure ? "yes" : "no";
  c.basis = std::string(*procedure ? "procedure during the stay" : "no procedure during the stay") +
            arrow(c.points);
  return c;
}

component admission_type_hospital(std::optional<admission_acuity> acuity) {
  component c = make("IT", "index admission type", 1);
  if (!acuity) return missing(std::move(c), "missing");
  const bool urgent = *acuity != admission_acuity::elective;
  c.points = urgent ? 1 : 0;
  c.input = to_string(*acuity);
  c.basis = urgent ? "non-elective (" + std::string(to_string(*acuity)) + ") admission"
                   : std::string("elective admission");
  c.basis += arrow(c.points);
  return c;
}

component admissions_hospital(std::optional<int> admissions) {
  component c = make("A", "admissions in 12 months", 5);
  if (!admissions) return missing(std::move(c), "missing");
  if (*admissions < 0) return missing(std::move(c), "negative");
  const int n = *admissions;
  c.points = n == 0 ? 0 : n <= 5 ? 2 : 5;
  c.input = std::to_string(n);
  c.basis = std::to_string(n) + (n == 1 ? " admission" : " admissions") + " in 12 months" +
            (n == 0   ? ""
             : n <= 5 ? " (1-5)"
                      : " (>5)") +
            arrow(c.points);
  return c;
}

component length_of_stay_hospital(std::optional<int> days) {
  component c = make("L", "length of stay", 2);
  if (!days) return missing(std::move(c), "missing");
  if (*days < 0) return missing(std::move(c), "negative");
  c.points = *days >= 5 ? 2 : 0;
  c.input = std::to_string(*days) + " d";
  c.basis = "length of stay " + std::to_string(*days) + (*days == 1 ? " day" : " days") +
            (*days >= 5 ? " (\u22655)" : " (<5)") + arrow(c.points);
  return c;
}

// --- Dates -------------------------------------------------------------------------------------

// The calendar date of a FHIR dateTime with at least a full date (year 0000 and more than nine
// fraction digits refused; a time may come without a zone, as senders send it); nullopt otherwise.
std::optional<std::chrono::sys_days> local_date(std::string_view s) noexcept {
  const auto t = mappings::fhir::read_datetime_text(s);
  if (!t || t->day == 0 || t->year == 0 || t->fraction_digits > 9) return std::nullopt;
  return std::chrono::sys_days{std::chrono::year_month_day{
      std::chrono::year{t->year}, std::chrono::month{static_cast<unsigned>(t->month)},
      std::chrono::day{static_cast<unsigned>(t->day)}}};
}

}  // namespace

std::optional<int> length_of_stay_days(std::string_view admitted, std::string_view discharged) {
  const auto from = local_date(admitted);
  const auto to = local_date(discharged);
  if (!from || !to || *to < *from) return std::nullopt;
  return static_cast<int>((*to - *from).count());
}

std::string_view to_string(admission_acuity a) noexcept {
  switch (a) {
    case admission_acuity::elective:
      return "elective";
    case admission_acuity::urgent:
      return "urgent";
    case admission_acuity::emergent:
      return "emergent";
  }
  return "?";
}

std::string_view risk_probability_code(risk_band b) noexcept {
  switch (b) {
    case risk_band::low:
      return "low";
    case risk_band::moderate:
      return "moderate";
    case risk_band::high:
      return "high";
  }
  return "?";
}

std::string score_result::describe() const {
  std::string s(method);
  s += ' ';
  s += std::to_string(total);
  s += ' ';
  s += band_label;
  s += ':';
  for (std::size_t i = 0; i < components.size(); ++i) {
    s += i == 0 ? " " : ", ";
    s += components[i].code;
    s += ' ';
    s += components[i].missing ? std::string("?") : std::to_string(components[i].points);
  }
  if (!missing.empty()) {
    s += " (incomplete: ";
    for (std::size_t i = 0; i < missing.size(); ++i) {
      if (i != 0) s += ", ";
      s += missing[i];
    }
    s += " missing; up to ";
    s += std::to_string(highest_possible);
    s += ')';
  }
  return s;
}

score_result score_lace(const lace_input& in) {
  std::vector<component> parts;
  parts.reserve(4);
  parts.push_back(length_of_stay_lace(in.length_of_stay_days));
  parts.push_back(acuity_lace(in.acuity));
  parts.push_back(comorbidity_lace(in.comorbidity_sum));
  parts.push_back(ed_visits_lace(in.ed_visits_6_months));
  // Bands: low 0–4, moderate 5–9, high ≥ 10 (spec §1.1).
  return finish("LACE", k_lace_outcome, 19, std::move(parts), 5, 10, "moderate", k_lace_probability,
                k_lace_source);
}

score_result score_hospital(const hospital_input& in) {
  std::vector<component> parts;
  parts.reserve(7);
  parts.push_back(haemoglobin_hospital(in.haemoglobin));
  parts.push_back(oncology_hospital(in.oncology_service));
  parts.push_back(sodium_hospital(in.sodium));
  parts.push_back(procedure_hospital(in.any_procedure));
  parts.push_back(admission_type_hospital(in.acuity));
  parts.push_back(admissions_hospital(in.admissions_12_months));
  parts.push_back(length_of_stay_hospital(in.length_of_stay_days));
  // Bands: low 0–4, intermediate 5–6, high ≥ 7 (spec §2).
  return finish("HOSPITAL", k_hospital_outcome, 13, std::move(parts), 5, 7, "intermediate",
                k_hospital_probability, k_hospital_source);
}

risk_assessment assess_discharge(const discharge_input& in, weight_set lace_weights,
                                 const code_lists& lists) {
  risk_assessment r;
  r.comorbidity = assess_comorbidity(in.diagnoses, lace_weights, lists);
  r.chronic = find_chronic_conditions(in.diagnoses, lists);

  lace_input lace;
  lace.length_of_stay_days = in.length_of_stay_days;
  lace.acuity = in.acuity;
  if (r.comorbidity.considered > 0) lace.comorbidity_sum = r.comorbidity.sum;
  lace.ed_visits_6_months = in.ed_visits_6_months;
  r.lace = score_lace(lace);
  if (!lace.comorbidity_sum) {
    component& c = r.lace.components[2];
    c.basis =
        "comorbidity missing: no ICD-10 diagnosis code to read" + arrow(0) + " (score incomplete)";
  }

  hospital_input hospital;
  hospital.haemoglobin = in.haemoglobin;
  hospital.oncology_service = in.oncology_service;
  hospital.sodium = in.sodium;
  hospital.any_procedure = in.any_procedure;
  hospital.acuity = in.acuity;
  hospital.admissions_12_months = in.admissions_12_months;
  hospital.length_of_stay_days = in.length_of_stay_days;
  r.hospital = score_hospital(hospital);
  return r;
}

}  // namespace carebridge::gateway::risk
