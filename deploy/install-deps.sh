#!/usr/bin/env bash
# Installs what CareBridge needs to build, test and run on Debian 12, from Debian's archive and the
# npm registry only. Safe to run again: packages already present are not fetched twice.
#   deploy/install-deps.sh            build + run dependencies
#   deploy/install-deps.sh --tests    also test, fuzz and conformance dependencies (npm ci)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
want_tests=0
[ "${1:-}" = "--tests" ] && want_tests=1

packages=(
  g++ cmake ninja-build pkg-config openssl curl
  libboost1.81-dev rapidjson-dev libssl-dev libsqlite3-dev libhowardhinnant-date-dev tzdata
)
if [ "$want_tests" = 1 ]; then
  packages+=(
    libgtest-dev libgmock-dev libbenchmark-dev
    clang libclang-rt-14-dev
    python3 python3-hl7 python3-yaml sqlite3 systemd
    chromium
  )
  # Node.js and npm: the machine's own when present (the image ships them), else Debian's.
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    packages+=(nodejs npm)
  fi
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "install-deps: installing ${missing[*]}" >&2
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ "$want_tests" = 1 ] && [ -f "$here/conformance/package-lock.json" ]; then
  # Conformance checks and peer benchmarks (FHIR validators, other HL7 tools) come from npm.
  if [ ! -d "$here/conformance/node_modules" ] ||
     [ "$here/conformance/package-lock.json" -nt "$here/conformance/node_modules" ]; then
    (cd "$here/conformance" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$here/conformance/node_modules"
  fi
fi
