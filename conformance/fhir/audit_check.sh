#!/usr/bin/env bash
# The audit trail's FHIR output, validated: the unit test AuditConformanceDump.WritesSamples writes
# one AuditEvent of each kind (read, search with its PHI-free query, create, a refused read, an
# operation, a sender's transaction, a failed token request, a delivered event-notification and a
# failed handshake) and the integration test AuditEventApi.PagesWithANextLink writes a page of the
# GET /fhir/AuditEvent searchset Bundle to a temporary directory; validate.mjs checks them all
# (medplum, FHIR.js — required bindings such as AuditEvent.action and outcome — and our rules).
#
#   conformance/fhir/audit_check.sh [UNIT_TEST_BIN [INTEGRATION_TEST_BIN]]
#     defaults: $CAREBRIDGE_UNIT_TESTS or the build/ci, build/dev tests binary; the integration
#     tests beside it (integration/carebridge_integration_tests)
# Needs `npm ci` in conformance/. Exit status: validate.mjs's (0 = all valid), 1 when a binary is
# missing, a dumping test fails or nothing was dumped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tests=${1:-${CAREBRIDGE_UNIT_TESTS:-$root/build/ci/tests/carebridge_unit_tests}}
[ -x "$tests" ] || tests=$root/build/dev/tests/carebridge_unit_tests
[ -x "$tests" ] || { echo "audit_check: no carebridge_unit_tests binary" >&2; exit 1; }
integration=${2:-$(dirname "$tests")/integration/carebridge_integration_tests}
[ -x "$integration" ] || { echo "audit_check: no carebridge_integration_tests binary" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/samples"
CAREBRIDGE_DUMP_DIR=$work/samples "$tests" --gtest_filter='AuditConformanceDump.*' >"$work/dump.log" 2>&1 ||
  { cat "$work/dump.log" >&2; exit 1; }
CAREBRIDGE_DUMP_DIR=$work/samples "$integration" --gtest_filter='AuditEventApi.PagesWithANextLink' \
  >"$work/integration.log" 2>&1 || { cat "$work/integration.log" >&2; exit 1; }
count=$(find "$work/samples" -name 'auditevent-*.json' | wc -l)
[ "$count" -ge 10 ] || { echo "audit_check: only $count samples were dumped" >&2; exit 1; }
# A searchset names server resources it does not contain: validate.mjs's `reference` rule (every
# reference resolves inside the Bundle, for transactions) does not apply to it, so that one check
# is set aside for the searchset file; every other finding fails.
rc=0
node "$here/validate.mjs" --json "$work/samples" >"$work/report.json" || rc=$?
((rc <= 1)) || { echo "audit_check: validate.mjs exited $rc" >&2; exit 1; }
node - "$work/report.json" <<'JS'
const report = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'));
let bad = 0;
for (const f of report.files) {
  const name = require('node:path').basename(f.file);
  const errors = f.issues.filter((i) => i.severity === 'error' &&
    !(name === 'auditevent-searchset.json' && i.check === 'reference'));
  console.log(`${errors.length ? 'FAIL' : 'ok  '} ${name} (${f.resources} resources)`);
  for (const i of errors) console.log(`       ${i.check}  ${i.resource}  ${i.path}: ${i.message}`);
  bad += errors.length ? 1 : 0;
}
console.log(`audit_check: ${report.files.length - bad}/${report.files.length} files valid`);
process.exit(bad ? 1 : 0);
JS
