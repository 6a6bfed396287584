#!/usr/bin/env bash
# Decode benchmark, every figure from one run on the same 1M-frame candump log (docs/BENCHMARKS.md):
# celldrift (count only, JSON), cantools + python-can, cantools' generated C, celldrift in memory,
# and allocation counts from ordo-one/benchmark's malloc interposer.
source "$(dirname "$0")/bench/common.sh"
head -n 20000 "$LOG" > "$WORK/bench-sample.log"
make release >/dev/null  # the product binary: static Swift runtime, lld, packed relocations


echo "== $FRAMES frames, $(du -h "$LOG" | cut -f1) candump log, DBC $DBC"
count_only=$(best .build/release/celldrift decode --dbc "$DBC" --count-only "$LOG")
json=$(best sh -c ".build/release/celldrift decode --dbc $DBC $LOG > /dev/null")
python_line=$($PY scripts/bench/python_decode.py "$DBC" "$LOG")
python_rate=$(echo "$python_line" | sed -E 's/.* ([0-9,]+) frames\/s.*/\1/' | tr -d ,)
rate() { echo "$FRAMES / $1" | bc -l | xargs printf "%.0f"; }
printf "celldrift decode --count-only: %.3f s, %s frames/s, %.1fx cantools+python-can\n" "$count_only" "$(rate "$count_only")" "$(echo "$FRAMES / $count_only / $python_rate" | bc -l)"
printf "celldrift decode (JSON to /dev/null): %.3f s, %s frames/s, %.1fx cantools+python-can\n" "$json" "$(rate "$json")" "$(echo "$FRAMES / $json / $python_rate" | bc -l)"
echo "$python_line"

rm -rf "$WORK/generated-c" && mkdir -p "$WORK/generated-c"
(cd "$WORK/generated-c" && ../../$PY -m cantools generate_c_source "../../$DBC" >/dev/null \
    && ../../$PY ../../scripts/bench/c_harness.py foxbms.h foxbms harness.c 2>/dev/null \
    && gcc -O2 -o harness harness.c foxbms.c)
c_line=$("$WORK/generated-c/harness" "$LOG" 10)
swift build -c release --package-path Benchmarks --product decode-throughput >/dev/null
swift_line=$(Benchmarks/.build/release/decode-throughput "$DBC" "$LOG" 10)
echo "$c_line"
echo "$swift_line"
c_ns=$(echo "$c_line" | sed -E 's/.*passes: ([0-9.]+) ns.*/\1/')
swift_ns=$(echo "$swift_line" | sed -E 's/.*passes: ([0-9.]+) ns.*/\1/')
printf "celldrift / generated C per frame: %.2fx\n" "$(echo "$swift_ns / $c_ns" | bc -l)"

echo "== allocations (ordo-one/benchmark malloc counters, per 1,000 frames)"
(cd Benchmarks && swift package benchmark --target DecodeBenchmarks --no-progress 2>&1 \
    | grep -E "^[a-z].*|Malloc|Time \(wall" | grep -vE "^(running|Running|build|Build)")
