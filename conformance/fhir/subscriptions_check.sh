#!/usr/bin/env bash
# The alerts core's FHIR output, validated: the unit test AlertsConformanceDump.WritesSamples
# writes one sample of each output (backport notifications of every type and content level, the
# $status searchset, the Da Vinci discharge message, the topics as Basic, a Subscription as read,
# a refusal's OperationOutcome) to a temporary directory, and subscriptions_check.mjs checks them
# (medplum, FHIR.js, the IG shape rules) and proves its rules on broken copies.
# Then what real subscribers received: the alert end-to-end tests (AlertsServe.*, AlertsFaults.*:
# the real `carebridge serve`, deploy/demo_subscriber.py endpoints, faults and re-activation)
# write every notification Bundle their endpoints accepted to the same directory
# (notification-<type>-e2e-<test>-<n>.json), and the same rules check those too.
#
#   conformance/fhir/subscriptions_check.sh [UNIT_TEST_BIN [E2E_TEST_BIN]]
#     UNIT_TEST_BIN default $CAREBRIDGE_UNIT_TESTS or the build/ci, build/dev tests binary;
#     E2E_TEST_BIN  default $CAREBRIDGE_E2E_TESTS or carebridge_e2e_tests in e2e/ beside the unit
#                   test binary, then build/ci, build/dev (needs that build's carebridge, python3,
#                   curl and openssl, as the e2e tests do)
# Needs `npm ci` in conformance/. Exit status: subscriptions_check.mjs's (0 = all good), 1 when a
# test binary is missing or a dumping test fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tests=${1:-${CAREBRIDGE_UNIT_TESTS:-$root/build/ci/tests/carebridge_unit_tests}}
[ -x "$tests" ] || tests=$root/build/dev/tests/carebridge_unit_tests
[ -x "$tests" ] || { echo "subscriptions_check: no carebridge_unit_tests binary" >&2; exit 1; }
e2e=${2:-${CAREBRIDGE_E2E_TESTS:-$(dirname "$tests")/e2e/carebridge_e2e_tests}}
[ -x "$e2e" ] || e2e=$root/build/ci/tests/e2e/carebridge_e2e_tests
[ -x "$e2e" ] || e2e=$root/build/dev/tests/e2e/carebridge_e2e_tests
[ -x "$e2e" ] || { echo "subscriptions_check: no carebridge_e2e_tests binary" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/samples"
CAREBRIDGE_DUMP_DIR=$work/samples "$tests" --gtest_filter='AlertsConformanceDump.*' >"$work/dump.log" 2>&1 ||
  { cat "$work/dump.log" >&2; exit 1; }
CAREBRIDGE_DUMP_DIR=$work/samples "$e2e" --gtest_filter='AlertsServe.*:AlertsFaults.*' >"$work/e2e.log" 2>&1 ||
  { cat "$work/e2e.log" >&2; exit 1; }
received=$(find "$work/samples" -name 'notification-*-e2e-*.json' | wc -l)
[ "$received" -gt 0 ] || { echo "subscriptions_check: the e2e tests dumped no notification" >&2; exit 1; }
echo "subscriptions_check: $received notifications received end to end, checked with the samples"
node "$here/subscriptions_check.mjs" "$work/samples"
