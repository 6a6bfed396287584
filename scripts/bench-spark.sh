#!/usr/bin/env bash
# The fleet job's engine overhead (issue 17, docs/BENCHMARKS.md): the same simulated fleet through
# Spark local[2] (spark/celldrift_fleet.py) and through `celldrift replay --jobs 2`, both on the release
# binary, both writing the daily and per-cell tables; frames per second per core of each.
set -euo pipefail
cd "$(dirname "$0")/.."
VEHICLES=${VEHICLES:-16}
HOURS=${HOURS:-2}
WORK=.build-bench/spark
PY=.venv/bin/python
CONFIG=firmware-samples/celldrift_pack_rules.toml
make release >/dev/null
if [[ ! -d $WORK/logs ]]; then
    rm -rf "$WORK" && mkdir -p "$WORK"
    .build/release/celldrift simulate --vehicles "$VEHICLES" --days 1 --fault micro-short --fault-share 0.25 --candump \
        --log-hours "$HOURS" --seed 41 --out "$WORK/sim" >/dev/null
    mkdir "$WORK/logs" && mv "$WORK"/sim/*.log "$WORK/logs/"
fi
echo "== $(ls "$WORK/logs" | wc -l) logs, $(du -sh "$WORK/logs" | cut -f1), $(nproc) cores"
rm -rf "$WORK/out" "$WORK/reference.db"*
start=$(date +%s.%N)
.build/release/celldrift replay --config "$CONFIG" --db "$WORK/reference.db" --jobs 2 --json --quiet \
    --daily-out "$WORK/daily.csv" --cells-out "$WORK/cells.csv" "$WORK"/logs/* > "$WORK/replay.json"
replay=$(echo "$(date +%s.%N) - $start" | bc -l)
frames=$($PY -c "import json; print(json.load(open('$WORK/replay.json'))['frames'])")
export PYSPARK_PYTHON=$PWD/$PY PYSPARK_DRIVER_PYTHON=$PWD/$PY
start=$(date +%s.%N)
.venv/bin/spark-submit --master "local[2]" --conf spark.ui.enabled=false spark/celldrift_fleet.py --logs "$WORK/logs" \
    --config "$CONFIG" --binary .build/release/celldrift --out "$WORK/out" 2>/dev/null | tail -1 > "$WORK/spark.json"
spark=$(echo "$(date +%s.%N) - $start" | bc -l)
# The engine's fixed cost (JVM, session, shipping the binary, five Parquet tables): the job on one short log.
mkdir -p "$WORK/one" && head -n 1000 "$(ls "$WORK"/logs/* | head -1)" > "$WORK/one/ONE.log"
start=$(date +%s.%N)
.venv/bin/spark-submit --master "local[2]" --conf spark.ui.enabled=false spark/celldrift_fleet.py --logs "$WORK/one" \
    --config "$CONFIG" --binary .build/release/celldrift --out "$WORK/out-one" >/dev/null 2>&1
fixed=$(echo "$(date +%s.%N) - $start" | bc -l)
printf "replay --jobs 2:      %6.1f s  %9.0f frames/s  %8.0f frames/s per core\n" "$replay" "$(echo "$frames / $replay" | bc -l)" "$(echo "$frames / $replay / 2" | bc -l)"
printf "Spark local[2]:       %6.1f s  %9.0f frames/s  %8.0f frames/s per core  (whole spark-submit: JVM start, Parquet writes)\n" \
    "$spark" "$(echo "$frames / $spark" | bc -l)" "$(echo "$frames / $spark / 2" | bc -l)"
printf "Spark's fixed cost (one 1,000-line log): %.1f s; beyond it: %.1f s, %.0f frames/s per core\n" "$fixed" \
    "$(echo "$spark - $fixed" | bc -l)" "$(echo "$frames / ($spark - $fixed) / 2" | bc -l)"
echo "frames: $frames; Spark's summary: $(cat "$WORK/spark.json")"
