// Readmission-risk scoring throughput (gateway/risk, issue 5): one realistic discharge — eight
// ICD-10-CM diagnoses, labs, history counts — scored per iteration. Reports scores per second
// (items_per_second) and heap allocations per score (a figure that does not drift with load).
//
// BM_AssessDischarge   assess_discharge(): comorbidity (LACE weights), chronic flags, LACE,
// HOSPITAL BM_Comorbidity       assess_comorbidity() of the eight codes alone BM_ChronicFlags
// find_chronic_conditions() of the eight codes alone BM_LengthOfStay      length_of_stay_days() of
// two FHIR dateTimes
//
// Run: build/<dir>/tests/bench/carebridge_risk_bench (build Release for figures worth quoting).
#include "gateway/risk/risk_scores.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

// Every heap allocation of the process is counted (allocations per score).
namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // operator new above is malloc
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
#pragma GCC diagnostic pop

namespace risk = carebridge::gateway::risk;

namespace {

// A heart-failure discharge as a US hospital codes it.
const std::vector<risk::diagnosis_code> k_diagnoses = {
    {risk::icd10cm_system, "I50.23"},  // acute on chronic systolic heart failure
    {risk::icd10cm_system, "J44.1"},   // COPD with acute exacerbation
    {risk::icd10cm_system, "E11.22"},  // type 2 diabetes with diabetic CKD
    {risk::icd10cm_system, "N18.4"},   // CKD stage 4
    {risk::icd10cm_system, "I25.10"},  // coronary atherosclerosis
    {risk::icd10cm_system, "E11.65"},  // type 2 diabetes with hyperglycaemia
    {risk::icd10cm_system, "Z79.4"},   // long-term insulin use
    {risk::icd10cm_system, "I13.0"},   // hypertensive heart and CKD with heart failure
};

risk::discharge_input discharge() {
  risk::discharge_input in;
  in.diagnoses = k_diagnoses;
  in.length_of_stay_days = 5;
  in.acuity = risk::admission_acuity::emergent;
  in.ed_visits_6_months = 2;
  in.admissions_12_months = 2;
  in.haemoglobin = risk::lab_value{10.9, "g/dL"};
  in.sodium = risk::lab_value{133, "mmol/L"};
  in.oncology_service = false;
  in.any_procedure = true;
  return in;
}

void report_allocations(benchmark::State& state, std::uint64_t before) {
  const auto n = static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations());
  state.counters["allocs/score"] =
      n > 0 ? static_cast<double>(g_allocations.load() - before) / n : 0.0;
}

void BM_AssessDischarge(benchmark::State& state) {
  const risk::discharge_input in = discharge();
  (void)risk::code_lists::builtin();  // parsed once, outside the loop
  const std::uint64_t before = g_allocations.load();
  for (auto _ : state) {
    risk::risk_assessment a = risk::assess_discharge(in);
    benchmark::DoNotOptimize(a);
  }
  report_allocations(state, before);
}
BENCHMARK(BM_AssessDischarge);

void BM_Comorbidity(benchmark::State& state) {
  (void)risk::code_lists::builtin();
  const std::uint64_t before = g_allocations.load();
  for (auto _ : state) {
    risk::comorbidity_result c = risk::assess_comorbidity(k_diagnoses, risk::weight_set::lace);
    benchmark::DoNotOptimize(c);
  }
  report_allocations(state, before);
}
BENCHMARK(BM_Comorbidity);

void BM_ChronicFlags(benchmark::State& state) {
  (void)risk::code_lists::builtin();
  const std::uint64_t before = g_allocations.load();
  for (auto _ : state) {
    risk::chronic_conditions c = risk::find_chronic_conditions(k_diagnoses);
    benchmark::DoNotOptimize(c);
  }
  report_allocations(state, before);
}
BENCHMARK(BM_ChronicFlags);

void BM_LengthOfStay(benchmark::State& state) {
  const std::uint64_t before = g_allocations.load();
  for (auto _ : state) {
    auto days = risk::length_of_stay_days("2026-11-14T18:42:00-06:00", "2026-11-19T11:05:00-06:00");
    benchmark::DoNotOptimize(days);
  }
  report_allocations(state, before);
}
BENCHMARK(BM_LengthOfStay);

}  // namespace

BENCHMARK_MAIN();
