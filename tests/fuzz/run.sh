#!/usr/bin/env bash
# Builds the fuzz targets (HL7 v2 codec, MLLP framer, v2 -> FHIR, FHIR ingest, JSON Patch, risk core, member matcher, JOSE) (clang, libFuzzer, ASan+UBSan) in build/fuzz and runs each one for
# SECONDS_PER_TARGET seconds on a copy of its seed corpus (build/fuzz/corpus-work/), so the corpus
# in the repository is never modified. Prints one summary line per target; exits non-zero when a target
# crashes, leaks, times out or fails an invariant (the input is kept in build/fuzz/artifacts/).
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET]      default 30
#   FUZZ_JOBS=1 tests/fuzz/run.sh 60            targets at a time: 1 or 2 (default 2)
set -euo pipefail

usage() { echo "usage: tests/fuzz/run.sh [SECONDS_PER_TARGET]" >&2; exit 2; }
[ $# -le 1 ] || usage
seconds=${1:-30}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || usage
jobs=${FUZZ_JOBS:-2}
[[ $jobs == 1 || $jobs == 2 ]] || { echo "FUZZ_JOBS must be 1 or 2" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build/fuzz
work=$build/corpus-work
logs=$build/logs
artifacts=$build/artifacts
targets=(fuzz_hl7v2_parse fuzz_hl7v2_batch fuzz_hl7v2_escape fuzz_hl7v2_datetime fuzz_mllp_framer fuzz_v2_to_fhir
         fuzz_fhir_ingest fuzz_risk fuzz_members fuzz_roster_csv fuzz_subscription fuzz_json_patch
         fuzz_jose)

if ! command -v clang++ >/dev/null; then
  echo "clang++ not found (Debian 12: apt-get install clang libclang-rt-14-dev)" >&2
  exit 1
fi

# Coverage instrumentation for the library comes from the top-level CMakeLists.txt; older trees
# lack it, and then it is passed here.
extra=()
if ! grep -q -- '-fsanitize=fuzzer-no-link' "$root/CMakeLists.txt"; then
  extra+=(-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link)
fi

echo "==> configure and build ($build)"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAREBRIDGE_FUZZ=ON -DCAREBRIDGE_SANITIZE=ON \
  -DCAREBRIDGE_TESTS=OFF -DCAREBRIDGE_BENCHMARKS=OFF ${extra[@]+"${extra[@]}"} >/dev/null
cmake --build "$build" -j 2 --target "${targets[@]}"

rm -rf "$work" "$logs" "$artifacts"
mkdir -p "$work" "$logs" "$artifacts"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
# ubsan.supp silences one finding in RapidJSON 1.1.0, nothing of ours.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$here/ubsan.supp}

# Runs one target; its output goes to its log, its exit status is the fuzzer's.
run_one() {
  local name=$1
  cp -R "$here/corpus/$name" "$work/$name"
  mkdir -p "$artifacts/$name"
  # A target's own dictionary (<target>.dict) when it has one, else the HL7 v2 one.
  local dict=$here/hl7v2.dict
  [ -f "$here/$name.dict" ] && dict=$here/$name.dict
  "$build/tests/fuzz/$name" "$work/$name" \
    -max_total_time="$seconds" -max_len=65536 -timeout=25 -rss_limit_mb=2048 \
    -dict="$dict" -print_final_stats=1 \
    -artifact_prefix="$artifacts/$name/" >"$logs/$name.log" 2>&1
}

# One line per target from its log: runs, exec/s, coverage (edges), features, corpus, peak memory.
summary() {
  local name=$1 status=$2 log=$logs/$1.log
  local last runs rate cov ft corp rss
  last=$(grep -aE '^#[0-9]+' "$log" | tail -n 1 || true)
  runs=$(awk '/^stat::number_of_executed_units:/ {v = $2} END {print v}' "$log")
  [ -n "$runs" ] || runs=$(printf '%s\n' "$last" | sed -nE 's/^#([0-9]+).*/\1/p')
  rate=$(awk '/^stat::average_exec_per_sec:/ {v = $2} END {print v}' "$log")
  cov=$(printf '%s\n' "$last" | sed -nE 's/.* cov: ([0-9]+).*/\1/p')
  ft=$(printf '%s\n' "$last" | sed -nE 's/.* ft: ([0-9]+).*/\1/p')
  corp=$(printf '%s\n' "$last" | sed -nE 's/.* corp: ([^ ]+).*/\1/p')
  rss=$(awk '/^stat::peak_rss_mb:/ {v = $2} END {print v}' "$log")
  printf '%-22s %-5s runs=%s exec/s=%s cov=%s ft=%s corpus=%s rss=%sMB\n' "$name" "$status" \
    "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}"
}

echo "==> fuzzing ${#targets[@]} targets, ${seconds} s each, ${jobs} at a time (logs: $logs)"
declare -A pid_of=()
declare -A status_of=()
wait_for() {
  local name=$1
  if wait "${pid_of[$name]}"; then status_of[$name]=ok; else status_of[$name]=FAIL; fi
}
running=()
for name in "${targets[@]}"; do
  if [ "${#running[@]}" -ge "$jobs" ]; then
    wait_for "${running[0]}"
    running=("${running[@]:1}")
  fi
  run_one "$name" &
  pid_of[$name]=$!
  running+=("$name")
done
for name in "${running[@]}"; do wait_for "$name"; done

failed=0
echo "==> summary"
for name in "${targets[@]}"; do
  summary "$name" "${status_of[$name]}"
  if [ "${status_of[$name]}" != ok ]; then
    failed=1
    echo "    $name failed; end of $logs/$name.log:"
    grep -aE 'ERROR: |invariant violated|SUMMARY: |Test unit written to|^artifact_prefix' \
      "$logs/$name.log" | head -n 8 | sed 's/^/      /' || true
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "fuzzing found a problem: reproduce with build/fuzz/tests/fuzz/<target> <artifact>" >&2
  exit 1
fi
echo "all fuzz targets ran clean"
