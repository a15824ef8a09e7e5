#include "gateway/risk/comorbidity.hpp"

#include <algorithm>

namespace carebridge::gateway::risk {

namespace {

struct condition_info {
  std::string_view key;
  std::string_view display;
  // Points under weight_set::lace, charlson_1987, quan_2011 (in that order).
  std::array<int, 3> weights;
  std::optional<condition> superseded_by;
};

// Weights: ../shared/spec/risk.md §1.1 (a) (LACE worksheet, as reproduced in BMC Cardiovasc Disord
// 2014;14:97 Table 1) and §3.2 (Charlson 1987; Quan 2011 with AIDS/HIV = 4). The LACE worksheet
// has no row for peptic ulcer disease or hemiplegia (0); its "mild liver or renal disease" +2 is
// mld and mrend, its "moderate or severe liver or renal disease" +4 is msld and rend, its "any
// tumour" +2 is canc. mrend is CareBridge's (CKD stage 1–2, see comorbidity.hpp): Charlson 1987 and
// Quan 2011 do not score it, as neither counts mild renal disease.
constexpr std::array<condition_info, condition_count> k_conditions = {{
    {"mi", "myocardial infarction", {1, 1, 0}, std::nullopt},
    {"chf", "congestive heart failure", {2, 1, 2}, std::nullopt},
    {"pvd", "peripheral vascular disease", {1, 1, 0}, std::nullopt},
    {"cevd", "cerebrovascular disease", {1, 1, 0}, std::nullopt},
    {"dementia", "dementia", {3, 1, 2}, std::nullopt},
    {"cpd", "chronic pulmonary disease", {2, 1, 1}, std::nullopt},
    {"rheumd", "rheumatic disease", {3, 1, 1}, std::nullopt},
    {"pud", "peptic ulcer disease", {0, 1, 0}, std::nullopt},
    {"mld", "mild liver disease", {2, 1, 2}, condition::msld},
    {"diab", "diabetes without chronic complication", {1, 1, 0}, condition::diabwc},
    {"diabwc", "diabetes with chronic complication", {2, 2, 1}, std::nullopt},
    {"hp", "hemiplegia or paraplegia", {0, 2, 2}, std::nullopt},
    {"rend", "moderate or severe renal disease", {4, 2, 1}, std::nullopt},
    {"canc", "any malignancy", {2, 2, 2}, condition::metacanc},
    {"msld", "moderate or severe liver disease", {4, 3, 4}, std::nullopt},
    {"metacanc", "metastatic solid tumour", {6, 6, 6}, std::nullopt},
    {"aids", "AIDS/HIV", {4, 6, 4}, std::nullopt},
    {"mrend", "mild renal disease", {2, 0, 0}, condition::rend},
}};

constexpr std::array<std::string_view, chronic_condition_count> k_chronic_keys = {
    "diabetes", "ihd", "hf", "asthma", "copd"};
constexpr std::array<std::string_view, chronic_condition_count> k_chronic_displays = {
    "diabetes mellitus", "ischaemic heart disease", "heart failure", "asthma",
    "chronic obstructive pulmonary disease"};

const condition_info& info(condition c) noexcept {
  return k_conditions[static_cast<std::size_t>(c)];
}

void add_once(std::vector<std::string>& codes, std::string code) {
  if (std::find(codes.begin(), codes.end(), code) == codes.end()) codes.push_back(std::move(code));
}

// Calls on_match(code, mask) for every considered diagnosis whose mask in `list` is not 0; counts
// the considered ones and records the others.
template <class OnMatch>
void scan(std::span<const diagnosis_code> diagnoses, const prefix_list& list,
          std::size_t& considered, std::vector<ignored_code>& not_considered, OnMatch on_match) {
  for (std::size_t i = 0; i < diagnoses.size(); ++i) {
    if (!is_icd10_system(diagnoses[i].system)) {
      not_considered.push_back({i, ignore_reason::other_system});
      continue;
    }
    const auto code = icd10_code::parse(diagnoses[i].code);
    if (!code) {
      not_considered.push_back({i, ignore_reason::malformed});
      continue;
    }
    ++considered;
    if (const std::uint32_t mask = list.match(*code); mask != 0) on_match(*code, mask);
  }
}

}  // namespace

std::string_view to_string(condition c) noexcept {
  return info(c).key;
}

std::string_view display(condition c) noexcept {
  return info(c).display;
}

std::optional<condition> condition_from_string(std::string_view key) noexcept {
  for (std::size_t i = 0; i < k_conditions.size(); ++i)
    if (k_conditions[i].key == key) return static_cast<condition>(i);
  return std::nullopt;
}

std::optional<condition> superseded_by(condition c) noexcept {
  return info(c).superseded_by;
}

std::string_view to_string(weight_set w) noexcept {
  switch (w) {
    case weight_set::lace:
      return "lace";
    case weight_set::charlson_1987:
      return "charlson-1987";
    case weight_set::quan_2011:
      return "quan-2011";
  }
  return "?";
}

int weight(condition c, weight_set w) noexcept {
  return info(c).weights[static_cast<std::size_t>(w)];
}

std::string_view to_string(ignore_reason r) noexcept {
  switch (r) {
    case ignore_reason::other_system:
      return "other-system";
    case ignore_reason::malformed:
      return "malformed";
  }
  return "?";
}

const condition_finding* comorbidity_result::find(condition c) const noexcept {
  for (const auto& f : conditions)
    if (f.which == c) return &f;
  return nullptr;
}

bool comorbidity_result::counts(condition c) const noexcept {
  const condition_finding* f = find(c);
  return f != nullptr && !f->superseded_by;
}

std::string comorbidity_result::describe() const {
  std::string s;
  for (const auto& f : conditions) {
    if (!s.empty()) s += ", ";
    s += to_string(f.which);
    s += ' ';
    s += std::to_string(f.points);
    if (f.superseded_by) {
      s += " (dropped for ";
      s += to_string(*f.superseded_by);
      s += ')';
    }
  }
  if (s.empty()) s = "no Charlson condition";
  s += "; sum ";
  s += std::to_string(sum);
  s += " (";
  s += to_string(weights);
  s += " weights)";
  return s;
}

comorbidity_result assess_comorbidity(std::span<const diagnosis_code> diagnoses, weight_set weights,
                                      const code_lists& lists) {
  comorbidity_result r;
  r.weights = weights;
  scan(diagnoses, lists.charlson, r.considered, r.not_considered,
       [&](const icd10_code& code, std::uint32_t mask) {
         for (std::size_t bit = 0; bit < condition_count; ++bit) {
           if ((mask & (std::uint32_t{1} << bit)) == 0) continue;
           const auto c = static_cast<condition>(bit);
           auto it = std::find_if(r.conditions.begin(), r.conditions.end(),
                                  [c](const condition_finding& f) { return f.which == c; });
           if (it == r.conditions.end()) {
             r.conditions.push_back(condition_finding{c, {}, std::nullopt, 0});
             it = r.conditions.end() - 1;
           }
           add_once(it->codes, code.dotted());
         }
       });
  std::sort(
      r.conditions.begin(), r.conditions.end(),
      [](const condition_finding& a, const condition_finding& b) { return a.which < b.which; });

  // The hierarchy (spec §3.1: msld drops mld, diabwc drops diab, metacanc drops canc; and rend
  // drops mrend): the milder form of a condition found in both forms scores nothing.
  for (auto& f : r.conditions) {
    if (const auto over = superseded_by(f.which); over && r.find(*over) != nullptr)
      f.superseded_by = over;
    f.points = f.superseded_by ? 0 : weight(f.which, weights);
    r.sum += f.points;
  }
  return r;
}

std::string_view to_string(chronic_condition c) noexcept {
  return k_chronic_keys[static_cast<std::size_t>(c)];
}

std::string_view display(chronic_condition c) noexcept {
  return k_chronic_displays[static_cast<std::size_t>(c)];
}

std::optional<chronic_condition> chronic_condition_from_string(std::string_view key) noexcept {
  for (std::size_t i = 0; i < k_chronic_keys.size(); ++i)
    if (k_chronic_keys[i] == key) return static_cast<chronic_condition>(i);
  return std::nullopt;
}

chronic_conditions find_chronic_conditions(std::span<const diagnosis_code> diagnoses,
                                           const code_lists& lists) {
  chronic_conditions r;
  for (std::size_t i = 0; i < chronic_condition_count; ++i)
    r.flags[i].which = static_cast<chronic_condition>(i);
  scan(diagnoses, lists.chronic, r.considered, r.not_considered,
       [&](const icd10_code& code, std::uint32_t mask) {
         for (std::size_t bit = 0; bit < chronic_condition_count; ++bit) {
           if ((mask & (std::uint32_t{1} << bit)) == 0) continue;
           r.flags[bit].present = true;
           add_once(r.flags[bit].codes, code.dotted());
         }
       });
  return r;
}

}  // namespace carebridge::gateway::risk
