// Scoring throughput with a 1,000,000-member roster loaded (issue 5): the care engine's whole work
// for one discharge — member matching, attribution on the discharge date, the history lookups
// (ED visits in 6 months, admissions in 12, a discharge in the last 30 days), LACE, HOSPITAL,
// comorbidity and chronic flags, and the RiskAssessment JSON. Before the benchmarks run it prints
// how long building the roster snapshot and the history took and the peak resident memory.
//
// BM_Discharge/member_id      the discharge carries the member id (IN1-49)
// BM_Discharge/patient_link   the hospital patient was linked before (its MRN)
// BM_Discharge/demographics   no identifier the roster knows: the demographic matcher decides
// BM_Discharge/mix            60 % / 25 % / 15 % of the three
// BM_DischargeWithDb          the mix, plus writing what changed to the member database (one
//                             transaction per 128 events, as the care stage groups them)
//
// Run: build/<dir>/tests/bench/carebridge_care_bench [members] (Release for figures worth quoting;
// default 1000000 members). Script: tests/bench/care_bench.sh.
#include "gateway/care/care_db.hpp"
#include "gateway/care/care_engine.hpp"
#include "tests/bench/bench_util.hpp"
#include "tests/unit/member_roster_generator.hpp"

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace gm = carebridge::gateway::members;
namespace gc = carebridge::gateway::care;
namespace ev = carebridge::mappings::event;
namespace gen = carebridge::test::members;
namespace bench = carebridge::test::bench;

namespace {

std::unique_ptr<gc::care_engine> g_engine;
std::vector<ev::clinical_event> g_by_id, g_by_link, g_by_demographics, g_mix;

std::string date_of(int day_offset) {
  // Days after 2026-01-01 (within 2026 for offsets 0..364).
  static constexpr int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int m = 0, d = day_offset;
  while (m < 11 && d >= month_days[m]) d -= month_days[m++];
  std::string out = "2026-00-00";
  out[5] = static_cast<char>('0' + (m + 1) / 10);
  out[6] = static_cast<char>('0' + (m + 1) % 10);
  out[8] = static_cast<char>('0' + (d + 1) / 10);
  out[9] = static_cast<char>('0' + (d + 1) % 10);
  return out;
}

// A discharge of the kind the mapper makes of an ADT^A03: eight ICD-10-CM diagnoses, a procedure,
// an emergency admission of 3–9 days.
ev::clinical_event discharge(const gm::patient_facts& p, std::size_t n) {
  ev::clinical_event e;
  e.kind = ev::event_kind::discharge;
  e.trigger = "A03";
  e.source = "hl7v2";
  e.facility = "GENHOSP";
  e.control_id = "C" + std::to_string(n);
  for (const auto& id : p.identifiers) e.patient_ids.push_back({id.system, id.value, id.type, ""});
  if (e.patient_ids.empty())
    e.patient_ids.push_back({std::string(gen::k_mrn_system), "H" + std::to_string(n), "MR", ""});
  e.family = p.family;
  e.given = p.given;
  e.birth_date = p.birth_date;
  e.sex = p.sex;
  e.postal_code = p.postal_code;
  e.phone = p.phone;
  if (!p.member_ids.empty()) e.member_id = p.member_ids.front();
  e.patient_resource_id = "pat-" + e.patient_ids.front().value;
  e.visit_id = "V" + std::to_string(n);
  e.encounter_resource_id = "enc-" + e.visit_id;
  e.patient_class = "IMP";
  const int day = 200 + static_cast<int>(n % 120);
  e.admit_time = date_of(day) + "T08:30:00-05:00";
  e.discharge_time = date_of(day + 3 + static_cast<int>(n % 7)) + "T14:10:00-05:00";
  e.recorded = e.discharge_time;
  e.admission_type = "E";
  e.service = n % 10 == 0 ? "ONC" : "MED";
  static const char* codes[] = {"I50.9", "E11.65", "N18.3", "J44.1", "I25.10", "E78.5", "I10",
                                "Z79.4"};
  for (std::size_t i = 0; i < 8; ++i)
    e.diagnoses.push_back({{"http://hl7.org/fhir/sid/icd-10-cm", codes[(n + i) % 8], "", "I10"},
                           "DD",
                           static_cast<int>(i + 1)});
  e.procedures.push_back({{"http://www.cms.gov/Medicare/Coding/ICD10", "0JH60DZ", "", "I10P"},
                          e.admit_time});
  return e;
}

void run(benchmark::State& state, const std::vector<ev::clinical_event>& events, gc::care_db* db) {
  std::size_t i = 0, scored = 0, attributed = 0;
  std::int64_t message_id = 1;
  carebridge::gateway::store::processing_result out;
  gc::care_changes changes;
  for (auto _ : state) {
    out.resources.clear();
    const gc::care_outcome o = g_engine->process(events[i], message_id, out, changes);
    if (db) {
      gc::care_db::event_write w{0, &o, &changes};
      db->write(message_id, std::span(&w, 1));
      if (db->uncommitted() >= 128) db->commit();  // the care stage's grouping
    }
    ++message_id;
    scored += o.risk_assessment_id.empty() ? 0u : 1u;
    attributed += o.attribution == "attributed" ? 1u : 0u;
    benchmark::DoNotOptimize(out);
    if (++i == events.size()) i = 0;
  }
  if (db) db->commit();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  const double n = static_cast<double>(state.iterations());
  state.counters["scored_share"] = static_cast<double>(scored) / n;
  state.counters["attributed_share"] = static_cast<double>(attributed) / n;
}

void BM_Discharge(benchmark::State& state, const std::vector<ev::clinical_event>* events) {
  run(state, *events, nullptr);
}
BENCHMARK_CAPTURE(BM_Discharge, member_id, &g_by_id);
BENCHMARK_CAPTURE(BM_Discharge, patient_link, &g_by_link);
BENCHMARK_CAPTURE(BM_Discharge, demographics, &g_by_demographics);
BENCHMARK_CAPTURE(BM_Discharge, mix, &g_mix);

void BM_DischargeWithDb(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("carebridge-care-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    auto db = gc::care_db::open(dir / "members.db");
    run(state, g_mix, db.get());
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_DischargeWithDb);

}  // namespace

int main(int argc, char** argv) {
  const std::size_t members = bench::members_argument(argc, argv, 1000000);
  using clock = std::chrono::steady_clock;
  const auto seconds = [](clock::duration d) { return std::chrono::duration<double>(d).count(); };

  gen::roster_generator g(20261201);
  std::vector<std::size_t> given_of;
  auto t0 = clock::now();
  std::vector<gm::member_record> roster = g.roster(members, given_of);

  auto snapshot = std::make_shared<gm::roster_snapshot>();
  snapshot->version = 1;
  for (int k = 0; k < 50; ++k) {
    gm::physician_group grp;
    grp.id = "G" + std::to_string(k);
    grp.name = "Group " + std::to_string(k);
    grp.alert_events = gm::alert_discharge | gm::alert_ed_visit;
    snapshot->groups.emplace(grp.id, grp);
  }
  for (std::size_t i = 0; i < roster.size(); ++i) {
    const std::string& id = roster[i].member_id;
    snapshot->attributions[id] = {{id, "G" + std::to_string(i % 50), "2025-01-01", ""}};
  }
  // Patients drawn before the roster moves into the index.
  std::vector<std::pair<gm::patient_facts, std::string>> linked;  // facts, member id
  std::size_t n = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::size_t pos = g.uniform(roster.size());
    gm::patient_facts with_id = g.observe(roster[pos], given_of[pos]);
    with_id.member_ids.push_back(roster[pos].member_id);
    g_by_id.push_back(discharge(with_id, n++));
    gm::patient_facts plain = g.observe(roster[pos], given_of[pos]);
    plain.identifiers.clear();  // no identifier the roster knows
    g_by_demographics.push_back(discharge(plain, n++));
    gm::patient_facts mrn_only;
    mrn_only.identifiers.push_back({std::string(gen::k_other_mrn), "L" + std::to_string(i), "MR"});
    linked.emplace_back(mrn_only, roster[pos].member_id);
    g_by_link.push_back(discharge(mrn_only, n++));
  }
  snapshot->index = std::make_unique<gm::roster_index>(std::move(roster));
  auto t1 = clock::now();
  std::printf("roster snapshot: %zu members, 50 groups, built in %.2f s; peak RSS%s\n",
              snapshot->index->size(), seconds(t1 - t0), bench::peak_rss().c_str());

  g_engine = std::make_unique<gc::care_engine>();
  g_engine->set_roster(snapshot);
  // Learned links for the MRN-only patients, and history: for every fifth member an ED visit and
  // an inpatient stay earlier in the year (2 per member → 400,000 visits at 1M members).
  t0 = clock::now();
  for (const auto& [facts, member_id] : linked)
    g_engine->load_link({"pat-" + facts.identifiers.front().value, member_id, "demographics", 25, 0});
  for (std::size_t i = 0; i < snapshot->index->size(); i += 5) {
    const auto& m = snapshot->index->member(static_cast<std::uint32_t>(i));
    gc::encounter_entry ed;
    ed.encounter_id = "hist-ed-" + std::to_string(i);
    ed.patient_id = "hist-pat-" + std::to_string(i);
    ed.member_id = m.member_id;
    ed.kind = gc::visit_class::emergency;
    ed.was_emergency = true;
    ed.start_text = date_of(static_cast<int>(i % 150)) + "T03:00:00Z";
    ed.start = gc::instant_seconds(ed.start_text).value_or(0);
    g_engine->history().load(ed);
    gc::encounter_entry stay = ed;
    stay.encounter_id = "hist-ip-" + std::to_string(i);
    stay.kind = gc::visit_class::inpatient;
    stay.was_emergency = false;
    stay.start_text = date_of(static_cast<int>(40 + i % 150)) + "T10:00:00Z";
    stay.end_text = date_of(static_cast<int>(45 + i % 150)) + "T10:00:00Z";
    stay.start = gc::instant_seconds(stay.start_text).value_or(0);
    stay.end = gc::instant_seconds(stay.end_text).value_or(0);
    g_engine->history().load(stay);
  }
  t1 = clock::now();
  std::printf("history: %zu visits of %zu members, %zu learned links, loaded in %.2f s; peak RSS%s\n",
              g_engine->history().size(), g_engine->history().members(), linked.size(),
              seconds(t1 - t0), bench::peak_rss().c_str());
  for (std::size_t i = 0; i < g_by_id.size(); ++i) {
    const std::size_t k = i % 20;
    g_mix.push_back(k < 12 ? g_by_id[i] : k < 17 ? g_by_link[i] : g_by_demographics[i]);
  }
  std::fflush(stdout);

  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
