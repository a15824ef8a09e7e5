#!/usr/bin/env bash
# The deployment files' check (tests/run-all.sh): deploy/check_deploy.py against the built binary.
#   deploy/check.sh [CAREBRIDGE_BINARY]     default $CAREBRIDGE_BIN, else build/ci, else build/dev
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${CAREBRIDGE_BIN:-$root/build/ci/gateway/carebridge}}
[ -x "$bin" ] || bin=$root/build/dev/gateway/carebridge
[ -x "$bin" ] || { echo "deploy/check.sh: no carebridge binary (build one first)" >&2; exit 1; }
exec python3 "$root/deploy/check_deploy.py" --bin "$bin"
