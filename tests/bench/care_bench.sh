#!/usr/bin/env bash
# Scoring throughput with a 1,000,000-member roster loaded (issue 5), in one run on this machine:
# the care engine's whole work per discharge (member matching, attribution on the discharge date,
# history lookups, LACE, HOSPITAL, comorbidity, chronic flags, the RiskAssessment JSON), by how the
# member is found, and for the mix with the member database writes. Google Benchmark, Release
# build, pinned to core 0. A report, not a test: it never fails on speed.
#   tests/bench/care_bench.sh [SECONDS] [MEMBERS]     (defaults 2 s per benchmark, 1000000)
#   CARE_BENCH_BUILD=0 tests/bench/care_bench.sh      use the binary that is there
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-2}
members=${2:-1000000}
[[ $secs =~ ^[0-9]+(\.[0-9]+)?$ && $members =~ ^[0-9]+$ ]] ||
  { echo "usage: tests/bench/care_bench.sh [SECONDS] [MEMBERS]" >&2; exit 2; }
bin=build/release/tests/bench/carebridge_care_bench
if [ "${CARE_BENCH_BUILD:-1}" != 0 ]; then
  cmake --preset release -DCAREBRIDGE_BENCHMARKS=ON >/dev/null ||
    { echo "care_bench: configure failed (deploy/install-deps.sh --tests installs Google Benchmark)" >&2; exit 1; }
  cmake --build --preset release --target carebridge_care_bench >/dev/null
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (figures are noisy when it is high)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
pin=()
command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null && pin=(taskset -c 0)
${pin[@]+"${pin[@]}"} "$bin" "$members" --benchmark_min_time="$secs" --benchmark_out="$out" \
  --benchmark_out_format=json | grep -E '^(roster|history)'
python3 - "$out" <<'PY'
import json, sys
rows = {b["name"]: b for b in json.load(open(sys.argv[1]))["benchmarks"]}
print(f"{'benchmark':30} {'events/s':>10} {'us/event':>9} {'attributed':>10}")
for name, b in rows.items():
    ips = b.get("items_per_second", 0)
    print(f"{name:30} {ips:10,.0f} {1e6 / ips if ips else 0:9.2f} {b.get('attributed_share', 0):10.1%}")
mix = rows["BM_Discharge/mix"]["items_per_second"]
db = rows["BM_DischargeWithDb"]["items_per_second"]
print(f"\nscoring, mix of how members are found: {mix:,.0f} discharges/s on one core "
      f"({'meets' if mix >= 20000 else 'SHORT of'} the target of 20,000/s); "
      f"with the member database writes: {db:,.0f}/s")
PY
