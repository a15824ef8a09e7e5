// Member matching with a 1,000,000-member roster (gateway/members, issue 5). Before the
// benchmarks run, prints how long generating the roster and building the roster_index took and the
// peak resident memory (VmHWM of /proc/self/status) after each step.
//
// BM_MatchDemographics   match() of a noisy hospital patient without identifiers (blocking,
//                        scoring, decision); items_per_second = matches per second, plus the mean
//                        number of candidates scored per match
// BM_MatchMemberId       match() of a patient that carries its member id (hash lookup, the
//                        contradiction check's scoring)
//
// Run: build/<dir>/tests/bench/carebridge_member_match_bench [members] (Release for figures worth
// quoting; default 1000000 members).
#include "gateway/members/member_matcher.hpp"
#include "tests/bench/bench_util.hpp"
#include "tests/unit/member_roster_generator.hpp"

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace gm = carebridge::gateway::members;
namespace gen = carebridge::test::members;
namespace bench = carebridge::test::bench;

namespace {

std::unique_ptr<gm::roster_index> g_index;
std::vector<gm::patient_facts> g_demographic;
std::vector<gm::patient_facts> g_with_id;

void BM_MatchDemographics(benchmark::State& state) {
  std::size_t i = 0, candidates = 0, links = 0;
  for (auto _ : state) {
    const gm::match_result r = gm::match(*g_index, g_demographic[i]);
    candidates += r.candidates_considered;
    links += r.decision == gm::match_decision::auto_link ? 1 : 0;
    benchmark::DoNotOptimize(r);
    if (++i == g_demographic.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  const double n = static_cast<double>(state.iterations());
  state.counters["candidates_per_match"] = static_cast<double>(candidates) / n;
  state.counters["auto_link_share"] = static_cast<double>(links) / n;
}
BENCHMARK(BM_MatchDemographics);

void BM_MatchMemberId(benchmark::State& state) {
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(gm::match(*g_index, g_with_id[i]));
    if (++i == g_with_id.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_MatchMemberId);

}  // namespace

int main(int argc, char** argv) {
  const std::size_t members = bench::members_argument(argc, argv, 1000000);
  using clock = std::chrono::steady_clock;
  const auto seconds = [](clock::duration d) { return std::chrono::duration<double>(d).count(); };

  gen::roster_generator g(20261120);
  std::vector<std::size_t> given_of;
  auto t0 = clock::now();
  std::vector<gm::member_record> roster = g.roster(members, given_of);
  auto t1 = clock::now();
  std::printf("generated %zu members in %.2f s; peak RSS%s\n", roster.size(), seconds(t1 - t0),
              bench::peak_rss().c_str());
  // Patients drawn before the roster moves into the index.
  for (int i = 0; i < 20000; ++i) {
    const std::size_t pos = g.uniform(roster.size());
    g_demographic.push_back(g.observe(roster[pos], given_of[pos]));
    gm::patient_facts p = g.observe(roster[pos], given_of[pos]);
    p.member_ids.push_back(roster[pos].member_id);
    g_with_id.push_back(std::move(p));
  }
  t0 = clock::now();
  const double cpu0 = bench::cpu_seconds();
  g_index = std::make_unique<gm::roster_index>(std::move(roster));
  const double cpu1 = bench::cpu_seconds();
  t1 = clock::now();
  std::printf(
      "built the roster_index (%zu postings, %zu family and %zu given names) in %.2f s (%.2f s "
      "CPU); peak RSS%s\n",
      g_index->posting_count(), g_index->family_name_count(), g_index->given_name_count(),
      seconds(t1 - t0), cpu1 - cpu0, bench::peak_rss().c_str());
  std::fflush(stdout);

  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
