#!/usr/bin/env bash
# The alert benchmarks of issue 6, in one run on this machine (carebridge_alerts_bench):
#   latency   the real binary end to end: ADT^A03 over one MLLP connection at 100 and at 1,000
#             discharges per second (open loop), from each frame's write to the arrival of its
#             notification at a loopback HTTPS subscriber; p50/p99/max, with the MLLP ACK round
#             trip of the same run. Target: p99 <= 100 ms at 1,000/s.
#   delivery  the fan-out and the notifier on a real store: N alerts in the outbox, 10
#             subscriptions (maxCount 100, id-only) at 10 loopback HTTPS subscribers; alerts
#             delivered to every subscriber per second, against the floor of the same run (the same
#             HTTPS client posting bodies of the same size, without the gateway). Target: >= 5,000
#             alerts per second.
# Release build. A report, not a test: it fails only when something does not build or run, or an
# alert was lost or misordered.
#   tests/bench/alerts_bench.sh [SECONDS] [ALERTS]     (default 10 s per rate, 40,000 alerts)
#   ALERTS_BENCH_BUILD=0 tests/bench/alerts_bench.sh    use the binaries that are there
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
alerts=${2:-40000}
[[ $secs =~ ^[0-9]+$ && $alerts =~ ^[0-9]+$ ]] ||
  { echo "usage: tests/bench/alerts_bench.sh [SECONDS] [ALERTS]" >&2; exit 2; }
bin=build/release/tests/bench/carebridge_alerts_bench

if [ "${ALERTS_BENCH_BUILD:-1}" != 0 ]; then
  cmake --preset release -DCAREBRIDGE_BENCHMARKS=ON >/dev/null ||
    { echo "alerts_bench: configure failed (deploy/install-deps.sh --tests installs Google Benchmark)" >&2; exit 1; }
  cmake --build --preset release --target carebridge_alerts_bench carebridge >/dev/null
fi

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (figures are noisy when it is high)"
"$bin" latency --rate 100 --seconds "$secs" --warmup 1
"$bin" latency --rate 1000 --seconds "$secs" --warmup 1
"$bin" delivery --alerts "$alerts" --subscribers 10 --max-count 100
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
