#!/usr/bin/env bash
# The FHIR REST API's own output, validated: starts a real `carebridge serve` (plain HTTP on a free
# port, the sample facilities, default FHIR facility STBRIGID), sends it the sample inputs of
# tests/data/fhir/input through every input route, reads back every resource it stored, and checks
# everything it answered — CapabilityStatement, OperationOutcomes, the transaction-response Bundle,
# each resource as GET /fhir/{type}/{id} serves it — with validate.mjs (medplum, FHIR.js, our rules).
#
#   conformance/fhir/api_check.sh [CAREBRIDGE_BIN]     default $CAREBRIDGE_BIN or build/ci, build/dev
# Needs curl, sqlite3 and `npm ci` in conformance/. Exit status: validate.mjs's (0 = all valid).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-${CAREBRIDGE_BIN:-$root/build/ci/gateway/carebridge}}
[ -x "$bin" ] || bin=$root/build/dev/gateway/carebridge
[ -x "$bin" ] || { echo "api_check: no carebridge binary" >&2; exit 1; }
inputs=$root/tests/data/fhir/input

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The sample facilities, plus the FHIR key (the file allows comments; insert after its first "{").
awk 'BEGIN{done=0} /^\{/ && !done {print; print "  \"fhir\": {\"default_facility\": \"STBRIGID\"},"; done=1; next} {print}' \
  "$root/tests/data/fhir/facilities.json" >"$work/carebridge.json"
# The hospital and the operator are SMART Backend Services clients (auth mode smart, the default):
# a key pair each, registered in the data dir before the gateway starts.
for who in hospital:sender ops:ops; do
  id=${who%%:*}
  "$bin" clients keygen --alg ES384 --kid "$id-1" --out "$work/$id" >/dev/null
done
"$bin" clients register --id hospital --role sender --facility STBRIGID --scope 'system/*.cu' \
  --jwks "$work/hospital.jwks.json" --data-dir "$work/data" >/dev/null
"$bin" clients register --id ops --role ops --scope 'system/*.rs' \
  --jwks "$work/ops.jwks.json" --data-dir "$work/data" >/dev/null
"$bin" serve --config "$work/carebridge.json" --data-dir "$work/data" --mllp-listen 127.0.0.1:0 \
  --http-listen 127.0.0.1:0 2>"$work/log" &
pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -nE 's/.*"listener":"http","address":"[^"]*:([0-9]+)".*/\1/p' "$work/log" | head -n 1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "api_check: the gateway did not start:" >&2; cat "$work/log" >&2; exit 1; }
base=http://127.0.0.1:$port/fhir
token() {  # token CLIENT SCOPE: an access token from the gateway's token endpoint
  local assertion
  assertion=$("$bin" clients assertion --id "$1" --key "$work/$1.key.pem" --kid "$1-1" \
    --aud "http://127.0.0.1:$port/auth/token")
  curl -sS --fail-with-body -d grant_type=client_credentials --data-urlencode "scope=$2" \
    -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    --data-urlencode "client_assertion=$assertion" "http://127.0.0.1:$port/auth/token" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
send_auth="Authorization: Bearer $(token hospital 'system/Bundle.c system/Encounter.cu')"
read_auth="Authorization: Bearer $(token ops 'system/*.rs')"
out=$work/out
mkdir -p "$out"
post() {  # post NAME METHOD PATH FILE [HEADER]
  curl -sS -o "$out/$1.json" -X "$2" -H 'Content-Type: application/fhir+json' ${5:+-H "$5"} \
    -H "$send_auth" --data-binary "@$4" "$base$3"
}
curl -sS -o "$out/capability-statement.json" "$base/metadata"
post notification-answer POST '/$process-message' "$inputs/davinci_discharge_notification.json"
post transaction-response POST '' "$inputs/transaction_bundle.json" 'Prefer: return=representation'
post encounter-update PUT /Encounter/rrmc-v000418231 "$inputs/finished_encounter.json"
printf '%s' '{"resourceType":"Encounter","class":{"code":"IMP"},"subject":{"identifier":{"value":"1"}}}' \
  >"$work/no-status.json"
post refused-422 POST /Encounter "$work/no-status.json"
curl -sS -o "$out/not-found-404.json" -H "$read_auth" "$base/Encounter/no-such-id"
curl -sS -o "$out/unauthorized-401.json" "$base/Encounter/no-such-id"
sqlite3 "$work/data/carebridge.db" "SELECT type || '/' || id FROM resources" | while read -r ref; do
  curl -sS -o "$out/read-${ref//\//-}.json" -H "$read_auth" "$base/$ref"
done
echo "api_check: $(ls "$out" | wc -l) answers of the FHIR API"
node "$here/validate.mjs" --quiet "$out"
