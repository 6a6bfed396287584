#!/usr/bin/env bash
# The daemon demo (part of `make demo`): a local mosquitto and a "cloud" one on loopback, celldrift run
# on the shipped config, a faulty pack's snapshots fed over MQTT, the alarm seen with mosquitto_sub,
# the cloud taken down and brought back, and the backlog draining. Everything stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/celldrift}
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
WORK=out/demo-daemon
rm -rf "$WORK" && mkdir -p "$WORK"
LOCAL=18830 CLOUD=18831
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

broker() {  # port name
    printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$1" > "$WORK/$2.conf"
    "$MOSQUITTO" -c "$WORK/$2.conf" >/dev/null 2>&1 & echo $!
}
wait_port() { for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
stats() { "$BIN" outbox stats --db "$WORK/outbox.db"; }

pids+=("$(broker $LOCAL local)"); wait_port $LOCAL
sed -e "s|dbc = \"celldrift_pack.dbc\"|dbc = \"$PWD/firmware-samples/celldrift_pack.dbc\"|" \
    -e "s|pack = \"models/|pack = \"$PWD/firmware-samples/models/|" \
    -e "s|cell = \"models/|cell = \"$PWD/firmware-samples/models/|" firmware-samples/celldrift_pack.toml > "$WORK/celldrift.toml"
printf '\n[mqtt]\nport = %s\n[uplink]\nhost = "127.0.0.1"\nport = %s\ntopic = "cloud/{vehicle}/records"\n' $LOCAL $CLOUD >> "$WORK/celldrift.toml"
"$BIN" check-config "$WORK/celldrift.toml"

echo "== the cloud endpoint is down; celldrift run starts on the local broker (127.0.0.1:$LOCAL)"
"$BIN" run --config "$WORK/celldrift.toml" --db "$WORK/outbox.db" 2> "$WORK/daemon.log" & pids+=($!)
mosquitto_sub -p $LOCAL -v -t 'celldrift/#' > "$WORK/local-alarms.txt" & pids+=($!)
sleep 1
echo "== feeding two faulty packs' snapshots over MQTT (bms/<vehicle>/snapshot)"
for fault in micro-short hot-spot; do
    zcat "firmware-samples/simulated/$fault.snapshots.jsonl.gz" | mosquitto_pub -p $LOCAL -t "bms/$fault/snapshot" -q 1 -l
done
sleep 2
echo "== alarms as other programs on the vehicle see them (mosquitto_sub celldrift/#):"
cut -c1-160 "$WORK/local-alarms.txt"
echo "== the outbox while the cloud is away:"; stats

echo "== the cloud endpoint comes up (127.0.0.1:$CLOUD): the backlog drains"
pids+=("$(broker $CLOUD cloud)"); wait_port $CLOUD
mosquitto_sub -p $CLOUD -v -t 'cloud/#' > "$WORK/cloud.txt" & pids+=($!)
for _ in $(seq 60); do stats | grep -q "^pending 0, in flight 0," && break; sleep 0.5; done
echo "== received by the cloud:"; cut -c1-160 "$WORK/cloud.txt"
echo "== the outbox now:"; stats
sqlite3 "$WORK/outbox.db" "SELECT vehicle, kind, cell, state FROM records;"
