#!/usr/bin/env bash
# make-dev-certs.sh OUT_DIR — a DEVELOPMENT certificate authority and certificates for tests and the
# demo (mutual TLS on MLLP and HTTPS). Never use these in production: the CA key sits next to them.
#
# Makes in OUT_DIR (keys mode 600, EC P-256, SHA-256, 30 days):
#   ca.crt ca.key                       the development CA (trust anchor for servers and clients)
#   server.crt server.key               CN=localhost, SAN DNS:localhost IP:127.0.0.1 IP:::1, serverAuth
#   client-mercy.crt client-mercy.key   CN=mercy-engine, SAN DNS:mercy-engine.test, clientAuth
#   client-other.crt client-other.key   CN=other-engine, SAN DNS:other-engine.test, clientAuth
#   rogue-ca.crt rogue-ca.key           a second CA nobody trusts, with the SAME subject as ca.crt
#   client-rogue.crt client-rogue.key   CN=mercy-engine issued by the rogue CA: must be refused
#   client-expired.crt .key             CN=mercy-engine issued by ca.crt, expired yesterday: refused
#
# Idempotent: when OUT_DIR/ca.crt is still valid for more than a day (and every file is there) it
# does nothing. Otherwise it makes everything anew in a scratch folder, checks each certificate
# with `openssl verify`, and only then moves the files into OUT_DIR (ca.crt last).
# Prints one line, "certs: OUT_DIR ready", on success; on failure, what failed on stderr, exit 1.
# Needs only the openssl 3 CLI and GNU date.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
  echo "usage: make-dev-certs.sh OUT_DIR" >&2
  exit 1
fi
out=$1
days=30

command -v openssl >/dev/null 2>&1 || { echo "make-dev-certs: openssl not found" >&2; exit 1; }

names=(ca server client-mercy client-other rogue-ca client-rogue client-expired)

complete() {
  local n
  for n in "${names[@]}"; do
    [[ -s "$out/$n.crt" && -s "$out/$n.key" ]] || return 1
  done
  openssl x509 -in "$out/ca.crt" -noout -checkend 86400 >/dev/null 2>&1 &&
    openssl x509 -in "$out/server.crt" -noout -checkend 86400 >/dev/null 2>&1
}

if complete; then
  echo "certs: $out ready"
  exit 0
fi

# Tests run in parallel may call this at once for the same folder: one makes, the others wait and
# then find the files complete.
mkdir -p "$out"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$out/.make-dev-certs.lock"
  flock 9
  if complete; then
    echo "certs: $out ready"
    exit 0
  fi
fi
work=$(mktemp -d "$out/.make-dev-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT
umask 077

# Our own config, so that neither the system openssl.cnf nor OPENSSL_CONF changes the result.
cat >"$work/openssl.cnf" <<'EOF'
[ req ]
distinguished_name = dn
prompt             = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
[ v3_server ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
[ v3_client_mercy ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectAltName         = DNS:mercy-engine.test
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
[ v3_client_other ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectAltName         = DNS:other-engine.test
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid

# Only for the expired certificate: `openssl x509 -req` in OpenSSL 3.0 cannot set past dates
# (-not_before/-not_after arrived in 3.4), `openssl ca -startdate/-enddate` can.
[ ca ]
default_ca = dev_ca
[ dev_ca ]
dir             = WORKDIR
database        = $dir/index.txt
new_certs_dir   = $dir/issued
serial          = $dir/serial
certificate     = $dir/ca.crt
private_key     = $dir/ca.key
default_md      = sha256
policy          = policy_any
unique_subject  = no
copy_extensions = none
email_in_dn     = no
[ policy_any ]
organizationName = optional
commonName       = supplied
EOF
sed -i "s|WORKDIR|$work|" "$work/openssl.cnf"
export OPENSSL_CONF="$work/openssl.cnf"

fail() {
  echo "make-dev-certs: $*" >&2
  exit 1
}

# run CMD...: quiet on success, shows openssl's output on failure.
run() {
  local log="$work/openssl.log"
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    fail "failed: $*"
  fi
}

newkey() { run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
  -pkeyopt ec_param_enc:named_curve -out "$work/$1.key"; }

serial() { echo "0x01$(openssl rand -hex 15)"; }

# ca NAME SUBJECT
make_ca() {
  newkey "$1"
  run openssl req -new -x509 -config "$work/openssl.cnf" -key "$work/$1.key" -sha256 \
    -days "$days" -subj "$2" -extensions v3_ca -set_serial "$(serial)" -out "$work/$1.crt"
}

# leaf NAME SUBJECT EXTENSIONS ISSUER
make_leaf() {
  newkey "$1"
  run openssl req -new -config "$work/openssl.cnf" -key "$work/$1.key" -subj "$2" \
    -out "$work/$1.csr"
  run openssl x509 -req -in "$work/$1.csr" -CA "$work/$4.crt" -CAkey "$work/$4.key" \
    -set_serial "$(serial)" -sha256 -days "$days" -extfile "$work/openssl.cnf" -extensions "$3" \
    -out "$work/$1.crt"
}

ca_subject="/O=CareBridge development (not for production)/CN=CareBridge Dev CA"
make_ca ca "$ca_subject"
make_leaf server "/O=CareBridge development/CN=localhost" v3_server ca
make_leaf client-mercy "/O=Mercy General (development)/CN=mercy-engine" v3_client_mercy ca
make_leaf client-other "/O=Other Hospital (development)/CN=other-engine" v3_client_other ca
# The rogue CA copies the real CA's name: a peer that trusted names instead of signatures would
# take its certificates.
make_ca rogue-ca "$ca_subject"
make_leaf client-rogue "/O=Mercy General (development)/CN=mercy-engine" v3_client_mercy rogue-ca

# client-expired: valid from two days ago until yesterday, issued by the dev CA.
newkey client-expired
run openssl req -new -config "$work/openssl.cnf" -key "$work/client-expired.key" \
  -subj "/O=Mercy General (development)/CN=mercy-engine" -out "$work/client-expired.csr"
mkdir -p "$work/issued"
: >"$work/index.txt"
openssl rand -hex 16 | sed 's/^/01/' >"$work/serial"
start=$(date -u -d '2 days ago' +%Y%m%d%H%M%SZ)
end=$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)
run openssl ca -batch -config "$work/openssl.cnf" -name dev_ca -notext \
  -in "$work/client-expired.csr" -startdate "$start" -enddate "$end" \
  -extfile "$work/openssl.cnf" -extensions v3_client_mercy -out "$work/client-expired.crt"

# Checks: what must verify does, what must be refused is.
verify() {  # verify CAFILE CERT [openssl verify options...]
  local ca=$1 crt=$2
  shift 2
  openssl verify -CAfile "$work/$ca" "$@" "$work/$crt" >"$work/verify.log" 2>&1
}
verify ca.crt ca.crt || fail "ca.crt does not verify"
verify rogue-ca.crt rogue-ca.crt || fail "rogue-ca.crt does not verify"
verify ca.crt server.crt -purpose sslserver -verify_hostname localhost -verify_ip 127.0.0.1 ||
  fail "server.crt does not verify: $(cat "$work/verify.log")"
verify ca.crt server.crt -purpose sslserver -verify_ip ::1 || fail "server.crt: no IP ::1"
verify ca.crt server.crt -purpose sslclient && fail "server.crt must not be a client certificate"
for c in client-mercy client-other; do
  verify ca.crt "$c.crt" -purpose sslclient || fail "$c.crt does not verify: $(cat "$work/verify.log")"
  verify ca.crt "$c.crt" -purpose sslserver && fail "$c.crt must not be a server certificate"
done
verify ca.crt client-mercy.crt -verify_hostname mercy-engine.test || fail "client-mercy.crt SAN"
verify ca.crt client-other.crt -verify_hostname other-engine.test || fail "client-other.crt SAN"
verify rogue-ca.crt client-rogue.crt -purpose sslclient ||
  fail "client-rogue.crt does not verify against its own CA"
verify ca.crt client-rogue.crt && fail "client-rogue.crt verifies against the dev CA"
verify ca.crt client-expired.crt -purpose sslclient -no_check_time ||
  fail "client-expired.crt is not issued by the dev CA: $(cat "$work/verify.log")"
verify ca.crt client-expired.crt -purpose sslclient && fail "client-expired.crt is not expired"
grep -q 'certificate has expired' "$work/verify.log" ||
  fail "client-expired.crt refused for another reason: $(cat "$work/verify.log")"
for n in "${names[@]}"; do
  openssl pkey -in "$work/$n.key" -pubout 2>/dev/null | cmp -s - <(openssl x509 -in "$work/$n.crt" -noout -pubkey) ||
    fail "$n.key does not match $n.crt"
done

# Install: keys 600, certificates 644; ca.crt last so a half-done run never looks complete.
rm -f "$out/ca.crt"
for n in "${names[@]}"; do
  chmod 600 "$work/$n.key"
  chmod 644 "$work/$n.crt"
  mv -f "$work/$n.key" "$out/$n.key"
  [[ $n == ca ]] || mv -f "$work/$n.crt" "$out/$n.crt"
done
mv -f "$work/ca.crt" "$out/ca.crt"
echo "certs: $out ready"
