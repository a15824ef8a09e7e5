// HL7 v2 → FHIR R4 conversion throughput over the realistic ADT^A03 samples in tests/data/hl7/adt/
// (issue 4: at least 50,000 ADT^A03 per second on one core, reported relative to parse-only in the
// same run). tests/bench/convert_bench.sh builds Release and prints the figures.
//
// BM_ParseOnly     parse() of each message (the baseline)
// BM_ConvertA03    parse() + convert() to the transaction Bundle JSON with the sending facility's
//                  profile (time zone, identifier systems, local codes) from hospitals.json, loaded
//                  the way the gateway loads its `facilities` config
// BM_ConvertA03NoProfile, BM_ConvertOnly, BM_ConvertAndEventJson, BM_DerivedId: where the time goes
#include "gateway/config/config.hpp"
#include "mappings/event/clinical_event.hpp"
#include "mappings/fhir/ids.hpp"
#include "mappings/fhir/v2_to_fhir.hpp"
#include "mappings/hl7v2/message.hpp"

#include <benchmark/benchmark.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

// Every heap allocation of the process is counted, so that BM_ConvertA03 can report allocations per
// message next to the time (a figure that does not drift with the machine's load).
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
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace hl7 = carebridge::mappings::hl7v2;
namespace fhir = carebridge::mappings::fhir;
namespace ev = carebridge::mappings::event;
namespace cfg = carebridge::gateway::config;

namespace {

std::filesystem::path data_dir() {
  const char* env = std::getenv("CAREBRIDGE_BENCH_DATA");
  return env ? env : CAREBRIDGE_TEST_DATA "/hl7/adt";
}

std::string slurp(const std::filesystem::path& f) {
  std::ifstream in(f, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return std::move(s).str();
}

// The A03 samples (MSH-9.2 == "A03"), loaded once. CAREBRIDGE_BENCH_DATA overrides the folder.
const std::vector<std::string>& samples() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> out;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(data_dir()))
      if (e.path().extension() == ".hl7") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string text = slurp(f);
      auto m = hl7::parse(text);
      if (m && m->trigger_event() == "A03") out.push_back(std::move(text));
    }
    if (out.empty()) {
      std::cerr << "no ADT^A03 samples in " << data_dir() << '\n';
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

// hospitals.json → the gateway's `facilities` config (local_codes become code_overrides), loaded
// with gateway::config::load_text like `carebridge serve` and `carebridge convert --config`.
const cfg::config& facilities() {
  static const cfg::config c = [] {
    const std::string text = slurp(data_dir() / "hospitals.json");
    rapidjson::Document h;
    h.Parse(text.data(), text.size());
    if (h.HasParseError() || !h.IsObject()) {
      std::cerr << "hospitals.json is not a JSON object\n";
      std::exit(1);
    }
    rapidjson::Document out(rapidjson::kObjectType);
    auto& a = out.GetAllocator();
    using rapidjson::Value;
    Value fac(rapidjson::kObjectType);
    const std::tuple<const char*, const char*, const char*> local_tables[] = {
        {"patient_class", "patient-class", "http://terminology.hl7.org/CodeSystem/v3-ActCode"},
        {"discharge_disposition", "discharge-disposition",
         "https://www.nubc.org/CodeSystem/PatDischargeStatus"},
        {"admission_type", "admission-type", "http://terminology.hl7.org/CodeSystem/v2-0007"}};
    for (const auto& m : h.GetObject()) {
      const Value& src = m.value;
      Value f(rapidjson::kObjectType);
      for (const char* key : {"time_zone", "identifier_systems", "identifier_systems_by_type", "code_systems"})
        if (src.HasMember(key)) f.AddMember(Value(key, a), Value(src[key], a), a);
      if (src.HasMember("practitioner_system_default") && src["practitioner_system_default"].IsString())
        f.AddMember("practitioner_system", Value(src["practitioner_system_default"], a), a);
      Value overrides(rapidjson::kObjectType);
      if (src.HasMember("local_codes")) {
        for (const auto& [local, table, system] : local_tables) {
          if (!src["local_codes"].HasMember(local)) continue;
          Value rows(rapidjson::kObjectType);
          for (const auto& row : src["local_codes"][local].GetObject()) {
            Value target(rapidjson::kObjectType);
            target.AddMember("system", Value(system, a), a);
            target.AddMember("code", Value(row.value, a), a);
            rows.AddMember(Value(row.name, a), target, a);
          }
          if (!rows.ObjectEmpty()) overrides.AddMember(Value(table, a), rows, a);
        }
      }
      if (!overrides.ObjectEmpty()) f.AddMember("code_overrides", overrides, a);
      fac.AddMember(Value(m.name, a), f, a);
    }
    out.AddMember("facilities", fac, a);
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    out.Accept(w);
    return cfg::load_text(std::string(buf.GetString(), buf.GetSize()), "hospitals.json");
  }();
  return c;
}

const fhir::sender_profile* profile_of(const hl7::message& m) {
  const auto& f = facilities().facilities;
  auto it = f.find(m.sending_facility());
  return it == f.end() ? nullptr : &it->second;
}

void count(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(n * total_bytes()));
  state.SetItemsProcessed(static_cast<std::int64_t>(n * samples().size()));
}

void BM_ParseOnly(benchmark::State& state) {
  const auto& msgs = samples();
  for (auto _ : state) {
    for (const auto& text : msgs) {
      auto m = hl7::parse(text);
      benchmark::DoNotOptimize(m);
    }
  }
  count(state);
}
BENCHMARK(BM_ParseOnly);

// The figure: message bytes in, Bundle JSON out, with the facility's profile.
void BM_ConvertA03(benchmark::State& state) {
  const auto& msgs = samples();
  (void)facilities();
  std::size_t out_bytes = 0;
  const std::uint64_t allocations_before = g_allocations.load();
  for (auto _ : state) {
    for (const auto& text : msgs) {
      auto m = hl7::parse(text);
      if (!m) {
        state.SkipWithError("parse failed");
        return;
      }
      fhir::convert_options options;
      options.sender = profile_of(*m);
      auto c = fhir::convert(*m, options);
      if (!c) {
        state.SkipWithError("convert failed");
        return;
      }
      out_bytes += c->bundle.size();
      benchmark::DoNotOptimize(c);
    }
  }
  count(state);
  state.counters["allocations_per_msg"] = benchmark::Counter(
      static_cast<double>(g_allocations.load() - allocations_before) /
      static_cast<double>(std::max<std::size_t>(1, static_cast<std::size_t>(state.iterations()) * msgs.size())));
  state.counters["bundle_bytes_per_msg"] = benchmark::Counter(
      static_cast<double>(out_bytes) / static_cast<double>(std::max<std::size_t>(1, static_cast<std::size_t>(state.iterations()) * msgs.size())));
}
BENCHMARK(BM_ConvertA03);

// Without a profile: no zone (times degrade to dates), no overrides.
void BM_ConvertA03NoProfile(benchmark::State& state) {
  const auto& msgs = samples();
  for (auto _ : state) {
    for (const auto& text : msgs) {
      auto m = hl7::parse(text);
      auto c = fhir::convert(*m, {});
      benchmark::DoNotOptimize(c);
    }
  }
  count(state);
}
BENCHMARK(BM_ConvertA03NoProfile);

// convert() alone, on messages parsed once.
void BM_ConvertOnly(benchmark::State& state) {
  std::vector<hl7::message> parsed;
  for (const auto& text : samples()) parsed.push_back(hl7::parse(text).value());
  for (auto _ : state) {
    for (const auto& m : parsed) {
      fhir::convert_options options;
      options.sender = profile_of(m);
      auto c = fhir::convert(m, options);
      benchmark::DoNotOptimize(c);
    }
  }
  count(state);
}
BENCHMARK(BM_ConvertOnly);

// What the pipeline stores per message: the Bundle and the event's JSON.
void BM_ConvertAndEventJson(benchmark::State& state) {
  const auto& msgs = samples();
  for (auto _ : state) {
    for (const auto& text : msgs) {
      auto m = hl7::parse(text);
      fhir::convert_options options;
      options.sender = profile_of(*m);
      auto c = fhir::convert(*m, options);
      auto e = ev::to_json(c->event);
      benchmark::DoNotOptimize(e);
    }
  }
  count(state);
}
BENCHMARK(BM_ConvertAndEventJson);

// One deterministic id (SHA-256 through OpenSSL's EVP): a Bundle of an A03 has 15–25 of them.
void BM_DerivedId(benchmark::State& state) {
  for (auto _ : state) {
    auto id = fhir::derived_id("Encounter", {"STBRIGID", "urn:oid:2.16.840.1.113883.19.2.2", "STBRIGID", "4471782215"});
    benchmark::DoNotOptimize(id);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_DerivedId);

}  // namespace

BENCHMARK_MAIN();
