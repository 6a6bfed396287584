#!/usr/bin/env bash
# Regenerates firmware-samples/simulated/ with celldrift's own simulator (release build). Deterministic:
# the same commit gives the same bytes. See firmware-samples/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
BIN=.build/release/celldrift
OUT=firmware-samples/simulated
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
rm -rf "$OUT" && mkdir -p "$OUT"

seed=2026
echo "[" > "$WORK/labels"
first=1
for kind in healthy micro-short resistance-growth capacity-fade loose-connection sensor-offset hot-spot; do
    seed=$((seed + 1))
    extra=()
    [[ $kind == healthy ]] && extra=(--asc)
    $BIN simulate --out "$WORK/$kind" --fault "$kind" --days 14 --seed "$seed" --candump "${extra[@]}" \
        --snapshots --snapshot-interval 10 --log-hours 0.25 2>>"$WORK/log"
    vin=$(basename "$(ls "$WORK/$kind"/*.log)" .log)
    gzip -9n < "$WORK/$kind/$vin.log" > "$OUT/$kind.log.gz"
    gzip -9n < "$WORK/$kind/$vin.snapshots.jsonl" > "$OUT/$kind.snapshots.jsonl.gz"
    [[ $kind == healthy ]] && gzip -9n < "$WORK/$kind/$vin.asc" > "$OUT/$kind.asc.gz"
    [[ $first == 1 ]] || echo "," >> "$WORK/labels"
    first=0
    sed -n '2p' "$WORK/$kind/labels.json" | sed 's/,$//' | tr -d '\n' >> "$WORK/labels"
done
printf "\n]\n" >> "$WORK/labels"
mv "$WORK/labels" "$OUT/labels.json"

# A small fleet for the models: 20 vehicles, 14 days, half of them with a fault of each kind in turn.
$BIN simulate --out "$WORK/fleet" --vehicles 20 --days 14 --seed 7 2>>"$WORK/log"
cp "$WORK/fleet/daily.csv" "$OUT/fleet-daily.csv"
cp "$WORK/fleet/labels.json" "$OUT/fleet-labels.json"
cat "$WORK/log"
ls -la "$OUT"
