#!/usr/bin/env bash
# A private CA and certificates for the compose stack (secrets/, never committed):
#   ca.crt                  trust anchor for every client (BORDERSYNC_SSL_CA_LOCATION)
#   kafka-N.pem             broker N: key + certificate (CN=kafka-N, SAN kafka-N), PEM keystore
#   admin.pem               the admin tool's client certificate (CN=admin, a super user)
# Keys are 0600, owned by the container user that reads them when run as root; ca.crt is 0644.
# Client credentials (one SCRAM password per principal, Redis users) come from
# `bordersync credentials generate` (see docker-compose.yml).
#   api.crt, api.key        the agency API's HTTPS certificate (CN=api, SAN api, localhost)
# Real deployments use the administrations' PKI instead; the file layout stays the same.
set -euo pipefail
out="${1:-$(dirname "$0")/secrets}"
days="${DAYS:-825}"
mkdir -p "$out"
cd "$out"
umask 077
if [ ! -f ca.key ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days "$days" \
    -subj "/CN=bordersync-compose-ca" 2>/dev/null
fi
issue() {  # name, then DNS names
  local name="$1"; shift
  local san; san=$(printf 'DNS:%s,' "$@"); san="${san%,}"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$name" 2>/dev/null
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
# The agency API's HTTPS certificate (BORDERSYNC_API_TLS_CERT/_KEY).
issue api api localhost
# Only certificates are public. Every key (the CA's, the brokers' keystores, the super user's
# admin.pem, the API's) stays 0600 (umask 077 above) and is given to the container user that
# reads it — uid 1000 for the apache/kafka images, 10001 for bordersync's — never to everyone.
chmod 644 ca.crt api.crt
chmod 600 ./*.pem ./*.key
if [ "$(id -u)" = 0 ]; then
  chown 1000:1000 ./kafka-*.pem admin.pem
  chown 10001:10001 api.key
else
  echo "note: as root run: chown 1000:1000 $out/kafka-*.pem $out/admin.pem;" \
       "chown 10001:10001 $out/api.key (the containers' users must read them)" >&2
fi
echo "certificates in $out"
