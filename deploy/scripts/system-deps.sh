#!/usr/bin/env bash
# Installs the Debian packages bordersync runs against: Java 17+ and Maven (the local Apache Kafka
# broker, fetched from Maven Central by `bordersync dev up`), redis-server (read model, local
# stack) and prometheus/promtool (monitoring tests). Idempotent; needs root or sudo on a fresh machine.
set -euo pipefail
need=()
# Apache Kafka 4.x needs Java 17 or newer; Debian 12 / Ubuntu 22.04+ ship openjdk-17-jre-headless.
if ! command -v java >/dev/null 2>&1; then
  need+=(openjdk-17-jre-headless)
fi
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need+=(redis-server)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# Headless browser for the officer page test (consumers/page).
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing Debian packages: ${need[*]}" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian enables the packaged services; bordersync starts its own on private ports.
for svc in redis-server prometheus; do
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl stop "$svc" 2>/dev/null || true; fi
done
