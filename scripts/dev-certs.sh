#!/usr/bin/env bash
# Test certificates for riskd serve's TLS and mutual TLS (tests/integration/12-tls.sh, local
# trials), made with the openssl command alone. Never use them in production.
set -euo pipefail

usage() {
    cat <<'U'
usage: scripts/dev-certs.sh DIR

Writes into DIR (created if missing), with the openssl command:
  ca.pem, ca.key                 a test CA
  server.pem, server.key         a server certificate for 127.0.0.1 and localhost, signed by the CA
  client.pem, client.key         a client certificate (CN=test-client), signed by the CA
  other-ca.pem, other-ca.key     a second, unrelated CA
  other-client.pem, other-client.key  a client certificate signed by the second CA
  expired.pem, expired.key       a server certificate for 127.0.0.1 signed by the CA, expired in 2020

Idempotent: when every file is there, nothing is done. Quiet unless something fails.
Keys are EC P-256; certificates last 10 years (the expired one, one day in 2020).
U
}

case "${1:-}" in
-h | --help) usage; exit 0 ;;
"" | -*) usage >&2; exit 2 ;;
esac
[ $# -eq 1 ] || { usage >&2; exit 2; }
command -v openssl >/dev/null || { echo "dev-certs: openssl not found (scripts/deps.sh installs it)" >&2; exit 1; }

DIR=$1
FILES=(ca.pem ca.key server.pem server.key client.pem client.key other-ca.pem other-ca.key
    other-client.pem other-client.key expired.pem expired.key)
all_there() {
    for f in "${FILES[@]}"; do [ -s "$DIR/$f" ] || return 1; done
}
all_there 2>/dev/null && exit 0

mkdir -p "$DIR"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
LOG=$W/openssl.log
# Every openssl call's chatter goes to the log, shown only when a call fails.
ossl() {
    if ! openssl "$@" >>"$LOG" 2>&1; then
        echo "dev-certs: openssl $1 failed:" >&2
        tail -n 20 "$LOG" >&2
        exit 1
    fi
}
key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/$1.key"; }

# One file for the requests (req reads [req]) and the extensions of each kind of certificate.
cat >"$W/ext.cnf" <<'X'
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
X

ca() { # NAME CN
    key "$1"
    ossl req -x509 -new -key "$W/$1.key" -subj "/CN=$2" -days 3650 -sha256 \
        -config "$W/ext.cnf" -extensions ca -out "$W/$1.pem"
}
leaf() { # NAME CN CA EXTENSIONS
    key "$1"
    ossl req -new -key "$W/$1.key" -subj "/CN=$2" -config "$W/ext.cnf" -out "$W/$1.csr"
    ossl x509 -req -in "$W/$1.csr" -CA "$W/$3.pem" -CAkey "$W/$3.key" -set_serial "0x$(openssl rand -hex 8)" \
        -days 3650 -sha256 -extfile "$W/ext.cnf" -extensions "$4" -out "$W/$1.pem"
}

ca ca "riskd test CA"
leaf server 127.0.0.1 ca server
leaf client test-client ca client
ca other-ca "riskd other test CA"
leaf other-client test-client other-ca client

# The expired certificate: OpenSSL 3.0's x509 command takes no start date, but `openssl ca`
# takes -startdate and -enddate, given a minimal configuration and an empty database.
key expired
ossl req -new -key "$W/expired.key" -subj "/CN=127.0.0.1" -config "$W/ext.cnf" -out "$W/expired.csr"
mkdir -p "$W/db"
: >"$W/db/index.txt"
cat >"$W/ca.cnf" <<C
[ca]
default_ca = test
[test]
database = $W/db/index.txt
new_certs_dir = $W/db
serial = $W/db/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
C
openssl rand -hex 8 >"$W/db/serial"
ossl ca -batch -config "$W/ca.cnf" -cert "$W/ca.pem" -keyfile "$W/ca.key" -in "$W/expired.csr" \
    -startdate 20200101000000Z -enddate 20200102000000Z -extfile "$W/ext.cnf" -extensions server \
    -notext -out "$W/expired.pem"

# Into place only once all were made: a failure leaves DIR as it was.
for f in "${FILES[@]}"; do
    case $f in *.key) chmod 600 "$W/$f" ;; esac
    mv -f "$W/$f" "$DIR/$f"
done
