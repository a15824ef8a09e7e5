#!/usr/bin/env bash
# run.sh CAREBRIDGE_BIN [MESSAGE_FILE...] — MLLP interoperability with clients nobody here wrote.
#
# Starts `CAREBRIDGE_BIN serve` twice on 127.0.0.1 (port 0, learnt from its
# {"event":"listening","listener":"mllp","address":"127.0.0.1:PORT"} stderr line):
#   1. plain MLLP: python-hl7's MLLPClient (one message at a time), python-hl7's asyncio streams
#      (all frames pipelined on one connection) and node-hl7-client send the sample messages
#      (the files given, else tests/data/hl7/adt/*.hl7, else the demo message); every ACK is checked.
#   2. mutual TLS (certs/make-dev-certs.sh, --config with mllp.tls): node-hl7-client and python-hl7
#      with the client-mercy certificate must be acknowledged; the rogue-CA, expired and missing
#      client certificates must get no ACK.
# Each server is stopped with SIGTERM and must exit 0 within 15 s.
# Prints one line per check; exits non-zero on any failure (then keeps its temp dir and shows the
# server log). Works against conformance/mllp/standin_server.py too (same command-line contract).
# Needs: bash, openssl, /usr/bin/python3 with python3-hl7, node with conformance/node_modules
# (npm ci in conformance/). Only 127.0.0.1 is used; nothing is read from stdin.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: run.sh CAREBRIDGE_BIN [MESSAGE_FILE...]" >&2
  exit 2
fi
bin=$1
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
[[ $bin == */* ]] && bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
[[ -x $bin ]] || { echo "mllp interop: $bin is not an executable" >&2; exit 2; }

py=/usr/bin/python3
[[ -x $py ]] || py=python3
if ! "$py" -c 'import hl7.client, hl7.mllp' 2>/dev/null; then
  echo "mllp interop: python-hl7 missing (apt-get install python3-hl7)" >&2
  exit 1
fi
if [[ ! -d $root/conformance/node_modules/node-hl7-client ]]; then
  echo "mllp interop: node-hl7-client missing (cd conformance && npm ci)" >&2
  exit 1
fi

if (($# > 0)); then
  messages=()
  for f in "$@"; do messages+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"); done
else
  shopt -s nullglob
  messages=("$root"/tests/data/hl7/adt/*.hl7)
  shopt -u nullglob
  ((${#messages[@]} > 0)) || messages=("$root/tests/data/hl7/demo/adt_a03_demo.hl7")
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/carebridge-mllp-interop.XXXXXX")
server_pid=
status=1
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if ((status == 0)); then
    rm -rf "$tmp"
  else
    echo "mllp interop: FAILED; logs kept in $tmp" >&2
  fi
}
trap cleanup EXIT

fail() {
  echo "mllp interop: $*" >&2
  if [[ -n ${log:-} && -s $log ]]; then
    echo "--- last lines of $log:" >&2
    tail -n 20 "$log" >&2
  fi
  exit 1
}

"$root/certs/make-dev-certs.sh" "$tmp" >/dev/null

# start_server NAME [serve flags...]: starts it, sets server_pid, log and port.
start_server() {
  local name=$1
  shift
  log=$tmp/$name.log
  port=
  "$bin" serve --data-dir "$tmp/$name-data" --mllp-listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 "$@" </dev/null >"$tmp/$name.out" 2>"$log" &
  server_pid=$!
  local deadline=$((SECONDS + 10))
  while ((SECONDS <= deadline)); do
    port=$("$py" - "$log" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if isinstance(e, dict) and e.get("event") == "listening" and e.get("listener") == "mllp":
        host, _, port = str(e.get("address", "")).rpartition(":")
        if host == "127.0.0.1" and port.isdigit():
            print(port)
            break
EOF
)
    [[ -n $port ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || fail "$name: the server exited before listening"
    sleep 0.1
  done
  fail "$name: no {\"event\":\"listening\",\"listener\":\"mllp\",\"address\":\"127.0.0.1:…\"} line within 10 s"
}

# stop_server NAME: SIGTERM, must exit 0 within 15 s.
stop_server() {
  local name=$1 rc deadline=$((SECONDS + 15))
  kill -TERM "$server_pid"
  while kill -0 "$server_pid" 2>/dev/null; do
    ((SECONDS <= deadline)) || fail "$name: still running 15 s after SIGTERM"
    sleep 0.1
  done
  if wait "$server_pid"; then rc=0; else rc=$?; fi
  server_pid=
  ((rc == 0)) || fail "$name: exit status $rc after SIGTERM (expected 0)"
}

# check WHAT COMMAND...: runs a client (60 s at most), prints its summary line after WHAT.
check() {
  local what=$1 out rc
  shift
  if out=$(timeout 60 "$@" 2>&1); then rc=0; else rc=$?; fi
  if ((rc != 0)); then
    echo "$out" >&2
    fail "${what:+$what: }client failed (exit status $rc)"
  fi
  echo "mllp interop: ${what:+$what: }$out"
}
node_client=("node" "$here/node_hl7_client.mjs")
py_client=("$py" "$here/python_hl7_client.py")

# 1. plain MLLP
start_server plain
check "" "${py_client[@]}" 127.0.0.1 "$port" "${messages[@]}"
check "" "${py_client[@]}" --pipelined 127.0.0.1 "$port" "${messages[@]}"
check "" "${node_client[@]}" 127.0.0.1 "$port" "${messages[@]}"
stop_server plain
echo "mllp interop: plain server stopped cleanly on SIGTERM"

# 2. mutual TLS
"$py" - "$tmp" >"$tmp/tls.json" <<'EOF'
import json, sys
d = sys.argv[1]
print(json.dumps({"mllp": {"tls": {
    "certificate": f"{d}/server.crt", "private_key": f"{d}/server.key",
    "client_ca": f"{d}/ca.crt", "require_client_certificate": True}}}, indent=2))
EOF
start_server tls --config "$tmp/tls.json"
tls=(--tls --ca "$tmp/ca.crt")
mercy=(--cert "$tmp/client-mercy.crt" --key "$tmp/client-mercy.key")
check "" "${node_client[@]}" "${tls[@]}" "${mercy[@]}" 127.0.0.1 "$port" "${messages[@]}"
check "" "${py_client[@]}" "${tls[@]}" "${mercy[@]}" 127.0.0.1 "$port" "${messages[@]}"
one=("${messages[0]}")
for who in rogue expired; do
  check "client-$who certificate" "${py_client[@]}" --expect-refused --timeout 5 "${tls[@]}" \
    --cert "$tmp/client-$who.crt" --key "$tmp/client-$who.key" 127.0.0.1 "$port" "${one[@]}"
done
check "client-rogue certificate" "${node_client[@]}" --expect-refused --timeout 5 "${tls[@]}" \
  --cert "$tmp/client-rogue.crt" --key "$tmp/client-rogue.key" 127.0.0.1 "$port" "${one[@]}"
check "no client certificate" "${py_client[@]}" --expect-refused --timeout 5 "${tls[@]}" 127.0.0.1 "$port" "${one[@]}"
check "plain MLLP to the TLS port" "${py_client[@]}" --expect-refused --timeout 5 127.0.0.1 "$port" "${one[@]}"
stop_server tls
echo "mllp interop: TLS server stopped cleanly on SIGTERM"
status=0
