#!/usr/bin/env bash
# Codec throughput against a peer, in one run on this machine (issue 2):
#   CareBridge: parse + a handful of field reads (Google Benchmark, Release build, one core)
#   peer:       @medplum/core Hl7Message.parse + the same reads (Node), on the same files
# Prints both figures and the ratio. A report, not a test: it never fails on speed.
#   tests/bench/codec_bench.sh [SECONDS]   (default 5 per side)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-5}

deploy/install-deps.sh --tests >/dev/null
cmake --preset release -DCAREBRIDGE_BENCHMARKS=ON >/dev/null
cmake --build --preset release --target carebridge_codec_bench >/dev/null

files=()
for f in tests/data/hl7/adt/*.hl7; do
  [ "$(build/release/gateway/carebridge inspect --get MSH.9.2 "$f" 2>/dev/null || true)" = A03 ] &&
    files+=("$f")
done
[ "${#files[@]}" -gt 0 ] || { echo "codec_bench: no ADT^A03 samples" >&2; exit 1; }
bytes=$(cat "${files[@]}" | wc -c)
echo "samples: ${#files[@]} ADT^A03 messages, $bytes bytes ($((bytes / ${#files[@]})) bytes average)"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
taskset -c 0 build/release/tests/bench/carebridge_codec_bench \
  --benchmark_min_time="$secs" --benchmark_format=json --benchmark_out="$out" \
  --benchmark_out_format=json >/dev/null 2>&1 ||
  build/release/tests/bench/carebridge_codec_bench --benchmark_min_time="$secs" \
    --benchmark_out="$out" --benchmark_out_format=json >/dev/null
peer=$(taskset -c 0 node conformance/peers/medplum_hl7_bench.mjs --seconds "$secs" "${files[@]}")

python3 - "$out" "$peer" <<'PY'
import json, sys
bench = json.load(open(sys.argv[1]))
peer = json.loads(sys.argv[2])
rows = {b["name"]: b for b in bench["benchmarks"]}
print(f"{'benchmark':28} {'MB/s':>10} {'msgs/s':>12}")
for name, b in rows.items():
    mbps = b.get("bytes_per_second", 0) / 1e6
    ips = b.get("items_per_second", 0)
    print(f"{name:28} {mbps:10.1f} {ips:12.0f}")
peer_mbps = peer["mb_per_sec"]
print(f"{'peer: ' + peer['peer'] + ' ' + peer['version']:28} {peer_mbps:10.1f} {peer['msgs_per_sec']:12.0f}")
ours = rows["BM_ParseAndRead"]["bytes_per_second"] / 1e6
print(f"\nparse + reads: CareBridge {ours:.0f} MB/s = {ours / 1000:.2f} GB/s (target >= 1 GB/s); "
      f"{ours / peer_mbps:.0f} x @medplum/core (target >= 50 x)")
PY
