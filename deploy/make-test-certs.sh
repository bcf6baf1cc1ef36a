#!/usr/bin/env bash
# Makes the TLS and token files of deploy/compose.yml: a throw-away test CA, one server
# certificate for every service of the compose file, and bearer tokens. For trying the example
# only: a real deployment takes its certificates from the site's CA (docs/operations.md).
#
#   deploy/make-test-certs.sh [OUT_DIR] [EXTRA_DNS_NAME ...]
#
# OUT_DIR (default deploy/tls, mounted read-only into every container at /etc/walstream/tls):
#   ca.pem                         the test CA's certificate (replicas' tls-ca; curl --cacert)
#   server.pem, server.key         one certificate for DNS primary, replica-1, replica-2,
#                                  localhost, IP 127.0.0.1 and ::1, and any EXTRA_DNS_NAME
#   tokens                         the tokens the primary accepts: one line per replica
#   replica-1.token, replica-2.token  each replica's upstream token (a line of tokens)
#   status.tokens                  the tokens the replicas' /status and /metrics accept
# The CA's key goes to OUT_DIR/../test-ca/ca.key, outside what the containers see. Run again
# to replace everything (the CA too); then `docker compose restart` or SIGHUP each service.
set -euo pipefail
command -v openssl >/dev/null || { echo "make-test-certs: openssl is needed (apt-get install openssl)" >&2; exit 1; }

OUT=${1:-$(dirname "$0")/tls}
[ $# -gt 0 ] && shift
CA_DIR=$OUT/../test-ca
# The containers' user (deploy/Containerfile) must read the key and the token files.
CONTAINER_UID=10001

mkdir -p "$OUT" "$CA_DIR"
chmod 700 "$CA_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

san="DNS:primary,DNS:replica-1,DNS:replica-2,DNS:localhost,IP:127.0.0.1,IP:::1"
for name in "$@"; do san="$san,DNS:$name"; done

openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 30 \
  -subj "/CN=walstream test CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$CA_DIR/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -subj "/CN=walstream" -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth" "subjectAltName=$san" > "$work/server.ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$CA_DIR/ca.key" \
  -CAcreateserial -days 30 -extfile "$work/server.ext" -out "$work/server.pem" 2>/dev/null

token() { openssl rand -hex 32; }
r1=$(token)
r2=$(token)
printf '# one token per replica (docs/operations.md, "Rotating tokens")\n%s\n%s\n' "$r1" "$r2" \
  > "$work/tokens"
printf '%s\n' "$r1" > "$work/replica-1.token"
printf '%s\n' "$r2" > "$work/replica-2.token"
printf '%s\n' "$(token)" > "$work/status.tokens"

# Secrets readable by the containers' user only when this runs as root (chown); otherwise by
# everyone, which is acceptable for a throw-away test setup alone.
for f in server.key tokens replica-1.token replica-2.token status.tokens; do
  if [ "$(id -u)" = 0 ]; then
    chown "0:$CONTAINER_UID" "$work/$f"
    chmod 640 "$work/$f"
  else
    chmod 644 "$work/$f"
  fi
done
chmod 644 "$work/ca.pem" "$work/server.pem"
# Each file is renamed into place, so a running service never reads a half-written one.
for f in ca.pem server.pem server.key tokens replica-1.token replica-2.token status.tokens; do
  mv -f "$work/$f" "$OUT/$f"
done
echo "make-test-certs: wrote $OUT (CA key in $CA_DIR/ca.key); server names: $san"
