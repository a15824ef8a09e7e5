#!/usr/bin/env bash
# HL7 v2 -> FHIR R4 conversion throughput on one core (issue 4), in one run on this machine:
#   parse only      hl7v2::parse() of each ADT^A03 sample
#   parse+convert   parse() + fhir::convert() to the transaction Bundle JSON, with the sending
#                   facility's profile from tests/data/hl7/adt/hospitals.json
# Google Benchmark, Release build, pinned to core 0. Prints messages/s, MB/s and the ratio to
# parse-only, and the target (>= 50,000 ADT^A03 per second). A report, not a test: it never fails
# on speed, only when something does not build or run.
#   tests/bench/convert_bench.sh [SECONDS]       (default 3 per benchmark)
#   CONVERT_BENCH_BUILD=0 tests/bench/convert_bench.sh    use the binary that is there
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-3}
[[ $secs =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "usage: tests/bench/convert_bench.sh [SECONDS]" >&2; exit 2; }
bin=build/release/tests/bench/carebridge_convert_bench

if [ "${CONVERT_BENCH_BUILD:-1}" != 0 ]; then
  cmake --preset release -DCAREBRIDGE_BENCHMARKS=ON >/dev/null ||
    { echo "convert_bench: configure failed (deploy/install-deps.sh --tests installs Google Benchmark)" >&2; exit 1; }
  cmake --build --preset release --target carebridge_convert_bench >/dev/null
fi

files=()
for f in tests/data/hl7/adt/*.hl7; do
  tr '\r' '\n' <"$f" | head -n 1 | cut -d'|' -f9 | grep -q '^ADT^A03' && files+=("$f")
done
[ "${#files[@]}" -gt 0 ] || { echo "convert_bench: no ADT^A03 samples" >&2; exit 1; }
bytes=$(cat "${files[@]}" | wc -c)
echo "samples: ${#files[@]} ADT^A03 messages, $bytes bytes ($((bytes / ${#files[@]})) bytes average)"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (figures are noisy when it is high)"
out=$(mktemp)
log=$(mktemp)
trap 'rm -f "$out" "$log"' EXIT
run=("$bin" --benchmark_min_time="$secs" --benchmark_out="$out" --benchmark_out_format=json)
pin=()
command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null && pin=(taskset -c 0)
if ! ${pin[@]+"${pin[@]}"} "${run[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  echo "convert_bench: the benchmark failed" >&2
  exit 1
fi

python3 - "$out" <<'PY'
import json, sys
bench = json.load(open(sys.argv[1]))
rows = {b["name"]: b for b in bench["benchmarks"]}
print(f"{'benchmark':26} {'msgs/s':>12} {'MB/s':>9} {'us/msg':>8}")
for name, b in rows.items():
    ips = b.get("items_per_second", 0)
    mbps = b.get("bytes_per_second", 0) / 1e6
    us = 1e6 / ips if ips else 0
    print(f"{name:26} {ips:12,.0f} {mbps:9.1f} {us:8.2f}")
parse = rows["BM_ParseOnly"]["items_per_second"]
conv = rows["BM_ConvertA03"]["items_per_second"]
out_bytes = rows["BM_ConvertA03"].get("bundle_bytes_per_msg", 0)
allocs = rows["BM_ConvertA03"].get("allocations_per_msg", 0)
print(f"\nparse + convert: {conv:,.0f} ADT^A03/s on one core "
      f"({'meets' if conv >= 50000 else 'SHORT of'} the target of 50,000/s); "
      f"{conv / parse * 100:.1f} % of parse-only ({parse / conv:.1f} x slower); "
      f"Bundle {out_bytes:,.0f} bytes per message; {allocs:,.0f} heap allocations per message")
PY
