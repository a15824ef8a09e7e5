#!/usr/bin/env bash
# Roster import at scale (issue 5), in one run on this machine: a generated 1,000,000-member CSV
# roster (MBI and MRN columns, households, ~2,000 physician groups) is read and applied into a
# fresh members.db, then re-imported with ~2 % of members dropped/new/changed/moved, then loaded
# as the snapshot a running gateway uses. Release build. Prints seconds, rows/s and peak RSS per
# phase and the target (first import <= 20 s). A report, not a test: it never fails on speed.
#   tests/bench/roster_import_bench.sh [MEMBERS]            (default 1000000)
#   ROSTER_BENCH_BUILD=0 tests/bench/roster_import_bench.sh  use the binary that is there
# The work files (two CSVs, members.db: about 0.7 GB at 1,000,000) go to build/release/roster-bench.
set -euo pipefail
cd "$(dirname "$0")/../.."
members=${1:-1000000}
[[ $members =~ ^[0-9]+$ ]] || { echo "usage: tests/bench/roster_import_bench.sh [MEMBERS]" >&2; exit 2; }
bin=build/release/tests/bench/carebridge_roster_import_bench

if [ "${ROSTER_BENCH_BUILD:-1}" != 0 ]; then
  cmake --preset release -DCAREBRIDGE_BENCHMARKS=ON >/dev/null ||
    { echo "roster_import_bench: configure failed (deploy/install-deps.sh --tests installs Google Benchmark)" >&2; exit 1; }
  cmake --build --preset release --target carebridge_roster_import_bench >/dev/null
fi

work=build/release/roster-bench
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
"$bin" "$members" "$work"
