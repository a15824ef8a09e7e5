#!/usr/bin/env bash
# status_page_check.sh CAREBRIDGE_BIN [SCREENSHOT_PATH] — the ops status page in headless Chromium
# against a real `carebridge serve` (status_page_check.mjs). Needs /usr/bin/chromium (Debian
# `chromium`, or CHROMIUM=path) and playwright-core in conformance/node_modules (npm ci).
# The screenshot goes to build/artifacts/status-page.png unless a path is given.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
if [[ $# -lt 1 ]]; then
  echo "usage: status_page_check.sh CAREBRIDGE_BIN [SCREENSHOT_PATH]" >&2
  exit 2
fi
bin=$1
[[ $bin == */* ]] && bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
[[ -x $bin ]] || { echo "status page: $bin is not an executable" >&2; exit 2; }
chromium=${CHROMIUM:-/usr/bin/chromium}
[[ -x $chromium ]] || { echo "status page: no Chromium at $chromium (apt-get install chromium)" >&2; exit 1; }
[[ -d $root/conformance/node_modules/playwright-core ]] ||
  { echo "status page: playwright-core missing (cd conformance && npm ci)" >&2; exit 1; }
exec node "$here/status_page_check.mjs" "$bin" "${2:-$root/build/artifacts/status-page.png}"
