#!/bin/sh
# Make the files docker-compose.yml mounts: the broker's CA and certificate, the hub's and
# each building's broker account, ACL and edge config, and the env files from their examples.
# Safe to run again: it keeps what exists (run `lintel provision ...` yourself to rotate).
set -eu
cd "$(dirname "$0")/.."
LINTEL=${LINTEL:-lintel}
# mosquitto (docker-compose.yml) or emqx (with docker-compose.emqx.yml: also renders the
# accounts into deploy/emqx/)
FLAVOUR=${LINTEL_BROKER_FLAVOUR:-mosquitto}

[ -f deploy/tls/server.crt ] || "$LINTEL" provision --out deploy tls --host mosquitto --host localhost
[ -f deploy/hub/hub.env ] || "$LINTEL" provision --out deploy --broker-flavour "$FLAVOUR" hub
[ -f deploy/edges/demo-b1-edge.yaml ] || "$LINTEL" provision --out deploy --broker-flavour "$FLAVOUR" edge demo B1 --door B1-main --door B1-garage
[ -f deploy/edges/demo-b2-edge.yaml ] || "$LINTEL" provision --out deploy --broker-flavour "$FLAVOUR" edge demo B2 --door B2-main
for name in hub postgres influxdb emqx; do
    [ -f "deploy/$name.env" ] || { cp "deploy/$name.env.example" "deploy/$name.env"; echo "deploy/$name.env: change its secrets"; }
done
# The Lintel containers run as uid 1000 and read these 0600 files.
if [ "$(id -u)" = 0 ]; then chown -R 1000 deploy/edges deploy/hub; fi
