#!/usr/bin/env bash
# The test command (README, .ci/run): installs dependencies, then builds and runs everything that
# can fail: the normal build with warnings as errors, the ASan+UBSan build, the end-to-end tests of
# the binary, the conformance checks, the deployment files' check and a short fuzz run. Exits
# non-zero on any failure.
#   FUZZ_SECONDS=N   seconds per fuzz target (default 20; 0 skips the fuzz run)
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc 2>/dev/null || echo 2)
step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
deploy/install-deps.sh --tests

step "build and test: ci (RelWithDebInfo, -Werror)"
cmake --preset ci >/dev/null
cmake --build --preset ci -j "$jobs"
ctest --preset ci -j "$jobs"

step "build and test: ci-asan (ASan + UBSan, -Werror)"
cmake --preset ci-asan >/dev/null
cmake --build --preset ci-asan -j "$jobs"
ctest --preset ci-asan -j "$jobs"

if [ -x conformance/run.sh ]; then
  step "conformance"
  CAREBRIDGE_BIN="$PWD/build/ci/gateway/carebridge" conformance/run.sh
fi

step "deployment files (deploy/check.sh)"
deploy/check.sh "$PWD/build/ci/gateway/carebridge"

if [ "${FUZZ_SECONDS:-20}" != 0 ] && [ -x tests/fuzz/run.sh ]; then
  step "fuzz (${FUZZ_SECONDS:-20} s per target)"
  tests/fuzz/run.sh "${FUZZ_SECONDS:-20}"
fi

step "all tests passed"
