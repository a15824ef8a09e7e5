// Codec micro-benchmarks over the realistic ADT^A03 samples in tests/data/hl7/adt/.
//
// BM_ParseAndRead is the figure issue 2 names: parse plus a handful of field reads (the ones the
// pipeline needs to route and score a discharge), bytes per second on one core. The peer figure
// (@medplum/core Hl7Message.parse on the same files) comes from conformance/peers/, run by
// tests/bench/codec_bench.sh in the same session.
#include "mappings/hl7v2/ack.hpp"
#include "mappings/hl7v2/batch.hpp"
#include "mappings/hl7v2/datetime.hpp"
#include "mappings/hl7v2/message.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace hl7 = carebridge::mappings::hl7v2;

namespace {

// The A03 samples (MSH-9.2 == "A03"), loaded once. CAREBRIDGE_BENCH_DATA overrides the folder.
const std::vector<std::string>& samples() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> out;
    const char* env = std::getenv("CAREBRIDGE_BENCH_DATA");
    const std::filesystem::path dir = env ? env : CAREBRIDGE_TEST_DATA "/hl7/adt";
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().extension() == ".hl7") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::ostringstream s;
      s << in.rdbuf();
      std::string text = std::move(s).str();
      auto m = hl7::parse(text);
      if (m && m->trigger_event() == "A03") out.push_back(std::move(text));
    }
    if (out.empty()) {
      std::cerr << "no ADT^A03 samples in " << dir << '\n';
      std::exit(1);
    }
    return out;
  }();
  return all;
}

std::size_t total_bytes() {
  std::size_t n = 0;
  for (const auto& s : samples()) n += s.size();
  return n;
}

const std::vector<hl7::path>& read_paths() {
  static const std::vector<hl7::path> paths = [] {
    std::vector<hl7::path> p;
    for (const char* text : {"MSH.10", "PID.3[1].1", "PID.5.1", "PID.7", "PV1.19", "PV1.45",
                             "DG1.3.1"})
      p.push_back(hl7::parse_path(text).value());
    return p;
  }();
  return paths;
}

void BM_ParseOnly(benchmark::State& state) {
  const auto& msgs = samples();
  for (auto _ : state) {
    for (const auto& text : msgs) {
      auto m = hl7::parse(text);
      benchmark::DoNotOptimize(m);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(static_cast<std::size_t>(state.iterations()) * total_bytes()));
  state.SetItemsProcessed(static_cast<std::int64_t>(static_cast<std::size_t>(state.iterations()) * msgs.size()));
}
BENCHMARK(BM_ParseOnly);

void BM_ParseAndRead(benchmark::State& state) {
  const auto& msgs = samples();
  const auto& paths = read_paths();
  std::size_t sum = 0;
  std::string scratch;
  for (auto _ : state) {
    for (const auto& text : msgs) {
      auto m = hl7::parse(text);
      if (!m) state.SkipWithError("parse failed");
      for (const auto& p : paths) sum += m->at(p).decoded(scratch).size();
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetBytesProcessed(static_cast<std::int64_t>(static_cast<std::size_t>(state.iterations()) * total_bytes()));
  state.SetItemsProcessed(static_cast<std::int64_t>(static_cast<std::size_t>(state.iterations()) * msgs.size()));
}
BENCHMARK(BM_ParseAndRead);

// Parse + reads + the discharge time as a date/time: closer to what the mapping stage does.
void BM_ParseReadAndDatetime(benchmark::State& state) {
  const auto& msgs = samples();
  const auto& paths = read_paths();
  const hl7::path discharge = hl7::parse_path("PV1.45").value();
  std::size_t sum = 0;
  std::string scratch;
  for (auto _ : state) {
    for (const auto& text : msgs) {
      auto m = hl7::parse(text);
      for (const auto& p : paths) sum += m->at(p).decoded(scratch).size();
      if (auto t = hl7::parse_datetime(m->at(discharge).component(1).raw())) sum += static_cast<std::size_t>(t->day);
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetBytesProcessed(static_cast<std::int64_t>(static_cast<std::size_t>(state.iterations()) * total_bytes()));
  state.SetItemsProcessed(static_cast<std::int64_t>(static_cast<std::size_t>(state.iterations()) * msgs.size()));
}
BENCHMARK(BM_ParseReadAndDatetime);

// A batch file of all samples, split and parsed.
void BM_BatchSplitAndParse(benchmark::State& state) {
  std::string file = "FHS|^~\\&|BENCH\rBHS|^~\\&|BENCH\r";
  for (const auto& s : samples()) file += s;
  file += "BTS|" + std::to_string(samples().size()) + "\rFTS|1\r";
  for (auto _ : state) {
    auto b = hl7::split_batch(file);
    for (auto v : b->messages()) {
      auto m = hl7::parse(v);
      benchmark::DoNotOptimize(m);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(static_cast<std::size_t>(state.iterations()) * file.size()));
}
BENCHMARK(BM_BatchSplitAndParse);

void BM_BuildAck(benchmark::State& state) {
  const auto m = hl7::parse(samples().front()).value();
  const hl7::ack_context ctx{"CB000000000001", "20261122143005.123+0000"};
  for (auto _ : state) {
    auto ack = hl7::build_ack(m, hl7::disposition::accepted, ctx);
    benchmark::DoNotOptimize(ack);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_BuildAck);

// A non-UTF-8 message: 8859/1 declared, transcoded to UTF-8 on parse.
void BM_ParseLatin1(benchmark::State& state) {
  std::string text = samples().front();
  // Declare 8859/1 in MSH-18 and put Latin-1 bytes in the patient name.
  const auto m = hl7::parse(text).value();
  std::string msh(m.segment(0).raw());
  while (hl7::piece_count(msh, '|') < 18) msh += '|';
  msh += "8859/1";
  text = msh + "\rPID|1||X||M\xFCller^Ren\xE9\r" + text.substr(m.segment(0).raw().size() + 1);
  for (auto _ : state) {
    auto p = hl7::parse(text);
    benchmark::DoNotOptimize(p);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(static_cast<std::size_t>(state.iterations()) * text.size()));
}
BENCHMARK(BM_ParseLatin1);

}  // namespace

BENCHMARK_MAIN();
