#!/usr/bin/env bash
# A private CA and certificates for the compose stack (secrets/, never committed):
#   ca.crt                  trust anchor for every client (BORDERSYNC_SSL_CA_LOCATION)
#   kafka-N.pem             broker N: key + certificate (CN=kafka-N, SAN kafka-N), PEM keystore
#   admin.pem               the admin tool's client certificate (CN=admin, a super user)
#   api.crt, api.key        the agency API's HTTPS certificate (CN=api, SAN api, localhost)
# Real deployments use the administrations' PKI instead; the file layout stays the same.
set -euo pipefail
out="${1:-$(dirname "$0")/secrets}"
days="${DAYS:-825}"
mkdir -p "$out"
cd "$out"
umask 077
if [ ! -f ca.key ]; then
  openssl req -x509 -newkey rsa:3072 -nodes -keyout ca.key -out ca.crt -days "$days" \
    -subj "/CN=bordersync-compose-ca" 2>/dev/null
fi
issue() {  # name, then DNS names
  local name="$1"; shift
  local san; san=$(printf 'DNS:%s,' "$@"); san="${san%,}"
  openssl req -newkey rsa:3072 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$name" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$name.crt" \
    -days "$days" -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san") \
    2>/dev/null
  # Kafka's PEM keystore: unencrypted PKCS#8 key, then the certificate chain.
  openssl pkcs8 -topk8 -nocrypt -in "$name.key" -out "$name.pk8"
  cat "$name.pk8" "$name.crt" ca.crt > "$name.pem"
  rm -f "$name.csr" "$name.pk8"
}
for n in 1 2 3; do issue "kafka-$n" "kafka-$n" localhost; done
issue admin admin
# The agency API's HTTPS certificate (BORDERSYNC_API_TLS_CERT/_KEY); its key must be readable by
# the container user (uid 10001), as the brokers' PEM keystores are.
issue api api localhost
chmod 644 api.key
chmod 644 ca.crt ./*.pem
echo "certificates in $out"
