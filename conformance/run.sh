#!/usr/bin/env bash
# All conformance checks, in one run: interoperability with outside tools and standards.
#   conformance/run.sh            uses $CAREBRIDGE_BIN or build/ci/gateway/carebridge
# Needs `npm ci` in conformance/, python3-hl7 and chromium (deploy/install-deps.sh --tests does all).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${CAREBRIDGE_BIN:-$here/../build/ci/gateway/carebridge}
[ -x "$bin" ] || { echo "conformance: no carebridge binary at $bin" >&2; exit 1; }

# MLLP: python-hl7 (Debian) and node-hl7-client (npm) send to a real `carebridge serve`, plain and
# over mutual TLS, and check every ACK.
"$here/mllp/run.sh" "$bin"

# FHIR: the output validator (@medplum/core, FHIR.js and our own rules) must accept every valid
# example transaction Bundle and reject every invalid one for exactly the check its name gives.
"$here/fhir/selftest.sh"

# The v2 → FHIR golden Bundles (tests/data/fhir/golden/, equal to what the converter makes, by
# tests/unit/v2_golden_test.cpp) pass the same validators with zero errors.
node "$here/fhir/validate.mjs" --quiet "$here/../tests/data/fhir/golden"

# The alerts core's output (backport notifications, $status, the Da Vinci discharge message, topics,
# Subscription reads), dumped by the unit tests, and the notifications real endpoints received in
# the alert e2e tests (e2e/carebridge_e2e_tests beside the unit tests), through the same validators
# plus the IG's shape rules; the script also proves the rules on broken copies.
"$here/fhir/subscriptions_check.sh" "${CAREBRIDGE_UNIT_TESTS:-$(dirname "$bin")/../tests/carebridge_unit_tests}"

# The audit trail's AuditEvents (one of each kind, dumped by the unit tests) and a page of the
# GET /fhir/AuditEvent searchset (dumped by the integration tests), through the same validators.
"$here/fhir/audit_check.sh" "${CAREBRIDGE_UNIT_TESTS:-$(dirname "$bin")/../tests/carebridge_unit_tests}"

# The FHIR REST API's own answers (CapabilityStatement, OperationOutcomes, transaction-responses,
# resources read back) from a real `carebridge serve`, through the same validators.
"$here/fhir/api_check.sh" "$bin"

# The ops status page (/status) in headless Chromium (playwright-core) against a real
# `carebridge serve`: loads without errors or foreign requests, follows live traffic, carries no
# PHI; its screenshot is kept as build/artifacts/status-page.png.
"$here/status_page/status_page_check.sh" "$bin"
