#!/usr/bin/env bash
# One-shot set-up of the compose cluster, run in the kafka-init container as the admin
# (client certificate CN=admin, a super user, on the brokers' INTERNAL mTLS listener):
# SCRAM credentials for every principal, then topics and ACLs (deploy/kafka/*.sh, generated).
set -euo pipefail
export KAFKA_BIN=/opt/kafka/bin
export BOOTSTRAP=kafka-1:9094,kafka-2:9094,kafka-3:9094
export ADMIN_CONFIG=/tmp/admin.properties
cat > "$ADMIN_CONFIG" <<PROPS
security.protocol=SSL
ssl.keystore.type=PEM
ssl.keystore.location=/secrets/admin.pem
ssl.truststore.type=PEM
ssl.truststore.location=/secrets/ca.crt
PROPS

scram() {  # user password
  "$KAFKA_BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" \
    --alter --entity-type users --entity-name "$1" \
    --add-config "SCRAM-SHA-512=[iterations=8192,password=$2]" >/dev/null
}
prop() {  # file key
  sed -n "s/^$2=//p" "$1" | head -n 1
}
# Every principal's own credential, from `bordersync credentials generate` (one file each).
need="admin bordersync-worker bordersync-lag schema-registry"
for admin in ${ADMINS:?}; do need="$need terminal-$admin"; done
for agency in ${AGENCIES:?}; do need="$need agency-$agency"; done
for name in $need; do
  file="/clients/$name.properties"
  [ -f "$file" ] || { echo "missing $file: run bordersync credentials generate" >&2; exit 1; }
  scram "$(prop "$file" sasl.username)" "$(prop "$file" sasl.password)"
done

bash /deploy/kafka/topics.sh
bash /deploy/kafka/acls.sh >/dev/null
echo "cluster ready: SCRAM users, topics and ACLs"
