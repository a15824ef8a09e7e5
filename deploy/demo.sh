#!/usr/bin/env bash
# The README's run command: installs dependencies, builds CareBridge (Release), then shows it at work
# on its embedded defaults: a sample discharge decoded the way the pipeline reads it, then
# `carebridge serve` receiving sample ADT feeds over MLLP, acknowledging each after it is stored,
# answering a resend with the stored ACK, and reporting through /metrics and `store stats`; with a
# plan roster imported first, each discharge is matched to its member, attributed to the member's
# physician group and scored (a stored FHIR RiskAssessment), the group's settings say whether it
# is to be alerted, and a group that subscribed (FHIR Subscription, rest-hook) receives the alert
# at its HTTPS endpoint.
# Everything stays on 127.0.0.1; the gateway is stopped at the end (SIGTERM, graceful).
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc 2>/dev/null || echo 2)"
bin=$PWD/build/release/gateway/carebridge
sample=tests/data/hl7/demo/adt_a03_demo.hl7

echo
echo "== 1. a discharge (ADT^A03), decoded: carebridge inspect --get …"
paste -d' ' \
  <(printf '%s\n' "control id    (MSH.10)" "event         (MSH.9.2)" "MRN           (PID.3[1].1)" \
                  "member id     (IN1.36)" "admitted      (PV1.44)" "discharged    (PV1.45)" \
                  "disposition   (PV1.36)" "diagnosis 1   (DG1[1].3.1)" "diagnosis 2   (DG1[2].3.1)") \
  <("$bin" inspect --get MSH.10 --get MSH.9.2 --get 'PID.3[1].1' --get IN1.36 --get PV1.44 \
        --get PV1.45 --get PV1.36 --get 'DG1[1].3.1' --get 'DG1[2].3.1' "$sample")

work=$(mktemp -d /tmp/carebridge-demo.XXXXXX)
trap 'kill "$pid" "${sub_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
echo
echo "== 2. the plan's roster (5 members, 2 physician groups): carebridge roster import"
"$bin" roster import tests/data/roster/demo_roster.csv --data-dir "$work/data" | sed 's/^/   /'
"$bin" group set G-HARBOR --risk-threshold moderate --events discharge,ed_visit \
  --data-dir "$work/data" >/dev/null
"$bin" group list --data-dir "$work/data" | sed 's/^/   /'
echo
echo "== 3. Harbor Primary Care Partners' care-management endpoint (deploy/demo_subscriber.py, HTTPS"
echo "      with a development certificate from certs/make-dev-certs.sh) waits for alerts"
certs/make-dev-certs.sh "$work/certs" >/dev/null
python3 deploy/demo_subscriber.py --listen 127.0.0.1:0 --tls-cert "$work/certs/server.crt" \
  --tls-key "$work/certs/server.key" --token harbor-demo-token >"$work/subscriber.log" 2>&1 &
sub_pid=$!
for _ in $(seq 100); do
  grep -q listening "$work/subscriber.log" 2>/dev/null && break
  sleep 0.1
done
sub_port=$(sed -n 's/.*"address":"127.0.0.1:\([0-9]*\)".*/\1/p' "$work/subscriber.log")
echo "   listening: https://127.0.0.1:$sub_port/hook"
# The gateway's config: the sample hospitals' time zones and codes, Harbor's FHIR client (by
# address here; a client certificate in production), the CA its endpoint's certificate is from.
python3 - "$work" <<'PY'
import json, re, sys
work = sys.argv[1]
text = open("tests/data/fhir/facilities.json").read()
cfg = json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.M))
cfg["auth"] = {"mode": "certificate"}
cfg["group_clients"] = [{"name": "harbor-care-management", "group": "G-HARBOR",
                         "addresses": ["127.0.0.1"]}]
cfg["notify"] = {"ca_file": work + "/certs/ca.crt"}
json.dump(cfg, open(work + "/config.json", "w"), indent=2)
PY
echo
echo "== 4. carebridge serve --config $work/config.json --data-dir $work/data"
echo "      (MLLP and HTTP on free loopback ports)"
"$bin" serve --config "$work/config.json" --data-dir "$work/data" \
  --mllp-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
  2>"$work/gateway.log" &
pid=$!
port_of() { sed -n "s/.*\"listener\":\"$1\",\"address\":\"127.0.0.1:\([0-9]*\)\".*/\1/p" "$work/gateway.log"; }
for _ in $(seq 100); do
  [ -n "$(port_of http)" ] && break
  sleep 0.1
done
mllp=$(port_of mllp)
http=$(port_of http)
[ -n "$mllp" ] && [ -n "$http" ] || { cat "$work/gateway.log"; exit 1; }
echo "   listening: MLLP 127.0.0.1:$mllp, HTTP 127.0.0.1:$http"
echo "   Harbor subscribes to readmission-risk alerts: POST /fhir/Subscription"
curl -s -X POST "127.0.0.1:$http/fhir/Subscription" -H 'Content-Type: application/fhir+json' \
  --data-binary '{"resourceType":"Subscription","status":"requested","reason":"TCM outreach",
    "criteria":"https://carebridge.example/fhir/SubscriptionTopic/readmission-risk",
    "channel":{"type":"rest-hook","endpoint":"https://127.0.0.1:'"$sub_port"'/hook",
      "payload":"application/fhir+json","header":["Authorization: Bearer harbor-demo-token"]}}' |
  python3 -c 'import json,sys; s=json.load(sys.stdin); print("   Subscription/%s: %s" % (s["id"], s["status"]))'

echo
echo "== 5. five hospitals send their feeds: carebridge send 127.0.0.1:$mllp tests/data/hl7/adt/*.hl7"
# One stay at St. Brigid's goes last, in the order it happened: admission, transfer, update, discharge.
stay=(tests/data/hl7/adt/stbrigid_v24_{A01_02,A02_01,A08_01,A03_03}.hl7)
feeds=()
for f in tests/data/hl7/adt/*.hl7; do
  [[ " ${stay[*]} " == *" $f "* ]] || feeds+=("$f")
done
"$bin" send "127.0.0.1:$mllp" "${feeds[@]}" "${stay[@]}" | grep -E '^(# |MSA)' | paste - - |
  sed 's|tests/data/hl7/adt/||' | awk '{printf "   %-34s %s\n", $2, $3}'

echo
echo "== 6. the same discharge sent again: the stored ACK comes back, nothing is processed twice"
"$bin" send "127.0.0.1:$mllp" "$sample" >/dev/null
"$bin" send "127.0.0.1:$mllp" "$sample" | grep MSA | sed 's/^/   /'

echo
echo "== 7. what ops see: /readyz and a few lines of /metrics"
curl -s "127.0.0.1:$http/readyz" | sed 's/^/   /'
curl -s "127.0.0.1:$http/metrics" |
  grep -E '^carebridge_(mllp_frames_total|ingest_acks_total|ingest_duplicates_total|store_pending_messages|pipeline_messages_total|mllp_ack_seconds_count)' |
  sed 's/^/   /'

sleep 1.5  # let the pipeline worker settle the last messages
echo
echo "== 8a. St. Brigid's discharge of one stay, as the pipeline stored it in FHIR R4:"
enc=$("$bin" convert --config tests/data/fhir/facilities.json --event --compact \
        tests/data/hl7/adt/stbrigid_v24_A03_03.hl7 |
      sed -n 's/.*"encounter_resource_id":"\([^"]*\)".*/\1/p')
echo "   GET /fhir/Encounter/$enc"
curl -s "127.0.0.1:$http/fhir/Encounter/$enc" | python3 -c '
import json, sys
e = json.load(sys.stdin)
print("   status", e["status"], "| class", e["class"]["code"], "| version", e["meta"]["versionId"],
      "(admission, transfer, update and discharge updated one Encounter)")
print("   period", e["period"]["start"], "->", e["period"]["end"], "(offsets from America/New_York)")
print("   discharge disposition", e["hospitalization"]["dischargeDisposition"]["coding"][0]["code"],
      "(NUBC) | diagnoses", len(e.get("diagnosis", [])))'

echo
echo "== 8b. carebridge store stats --data-dir $work/data"
"$bin" store stats --data-dir "$work/data" | sed 's/^/   /'
echo
echo "== 9. the same stay through the care stage: member, group, risk, alert decision"
echo "   carebridge members encounter $enc"
"$bin" members encounter "$enc" --data-dir "$work/data" | sed 's/^/   /'
ra=$("$bin" members encounter "$enc" --data-dir "$work/data" |
     sed -n 's/.*assessment=\([0-9a-f-]\{36\}\).*/\1/p' | tail -n 1)
if [ -n "$ra" ]; then
  echo "   GET /fhir/RiskAssessment/$ra"
  curl -s "127.0.0.1:$http/fhir/RiskAssessment/$ra" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("   status", r["status"], "| method", r["method"]["text"])
for p in r["prediction"]:
    print("   ", p["rationale"])
    print("      probability %.1f%%, %s risk" % (100 * p["probabilityDecimal"],
          p["qualitativeRisk"]["coding"][0]["code"]))'
fi
echo
echo "== 10. every feed through the care stage: carebridge members stats"
"$bin" members stats --data-dir "$work/data" | sed 's/^/   /'
echo
echo "== 11. the alert outbox, queued with each message's processing: carebridge store alerts"
"$bin" store alerts --data-dir "$work/data" --limit 10 | sed 's/^/   /'
echo
echo "== 12. what arrived at Harbor's endpoint (FHIR Subscription notifications, ids only):"
for _ in $(seq 50); do
  grep -q event-notification "$work/subscriber.log" && break
  sleep 0.2
done
sed -n 's/^notification: /   /p' "$work/subscriber.log"

kill -TERM "$pid"
wait "$pid" && echo && echo "== gateway stopped cleanly (SIGTERM). Its log: JSON lines, control ids, no PHI:" &&
  head -n 3 "$work/gateway.log" | sed 's/^/   /'
