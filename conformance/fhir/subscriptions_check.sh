#!/usr/bin/env bash
# The alerts core's FHIR output, validated: the unit test AlertsConformanceDump.WritesSamples
# writes one sample of each output (backport notifications of every type and content level, the
# $status searchset, the Da Vinci discharge message, the topics as Basic, a Subscription as read,
# a refusal's OperationOutcome) to a temporary directory, and subscriptions_check.mjs checks them
# (medplum, FHIR.js, the IG shape rules) and proves its rules on broken copies.
#
#   conformance/fhir/subscriptions_check.sh [UNIT_TEST_BIN]   default $CAREBRIDGE_UNIT_TESTS or
#                                                            build/ci, build/dev tests binary
# Needs `npm ci` in conformance/. Exit status: subscriptions_check.mjs's (0 = all good).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tests=${1:-${CAREBRIDGE_UNIT_TESTS:-$root/build/ci/tests/carebridge_unit_tests}}
[ -x "$tests" ] || tests=$root/build/dev/tests/carebridge_unit_tests
[ -x "$tests" ] || { echo "subscriptions_check: no carebridge_unit_tests binary" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/samples"
CAREBRIDGE_DUMP_DIR=$work/samples "$tests" --gtest_filter='AlertsConformanceDump.*' >"$work/dump.log" 2>&1 ||
  { cat "$work/dump.log" >&2; exit 1; }
node "$here/subscriptions_check.mjs" "$work/samples"
