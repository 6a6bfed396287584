#!/usr/bin/env bash
# Binary log readers (issue 19, docs/BENCHMARKS.md): the same 1M frames as candump -L, BLF (python-can's
# writer) and MF4 (asammdf: plain and transposed-deflate data blocks), read by celldrift and by python-can
# (asammdf underneath for MF4) in one run; allocations per frame from ordo-one/benchmark's malloc counter.
source "$(dirname "$0")/bench/common.sh"
ROUNDS=${ROUNDS:-7}
[[ -f $WORK/bench-$FRAMES.blf ]] || $PY scripts/bench/make_binary_logs.py "$LOG" "$WORK/bench-$FRAMES"
head -n 200000 "$LOG" > "$WORK/bench-binary-sample.log"
$PY scripts/bench/make_binary_logs.py "$WORK/bench-binary-sample.log" "$WORK/bench-binary-sample" >/dev/null
make release >/dev/null

files=("$LOG" "$WORK/bench-$FRAMES.blf" "$WORK/bench-$FRAMES.mf4" "$WORK/bench-$FRAMES-transposed.mf4")
declare -A fastest
# Rounds over the files in turn, so that the machine's slow spells fall on every format alike.
for _ in $(seq "$ROUNDS"); do
    for file in "${files[@]}"; do
        t=$(seconds .build/release/celldrift decode --dbc "$DBC" --count-only "$file")
        fastest[$file]=$(echo "if ($t < ${fastest[$file]:-999}) $t else ${fastest[$file]:-999}" | bc -l)
    done
done
echo "== $FRAMES frames; celldrift decode --count-only (read + decode, whole process, best of $ROUNDS rounds)"
for file in "${files[@]}"; do
    t=${fastest[$file]}
    printf "celldrift %-40s %9s bytes  %.3f s  %9.0f frames/s  %.2fx the candump log\n" "$(basename "$file")" "$(stat -c %s "$file")" "$t" \
        "$(echo "$FRAMES / $t" | bc -l)" "$(echo "${fastest[$LOG]} / $t" | bc -l)"
done
echo "== python-can reading the same files (frames only, no decoding)"
$PY scripts/bench/python_read_logs.py "${files[@]}"

echo "== allocations (ordo-one/benchmark malloc counters, per 1,000 frames)"
(cd Benchmarks && swift package benchmark --target DecodeBenchmarks --filter "read a.*" --no-progress 2>&1 \
    | grep -E "^[a-z].*|Malloc|Time \(wall" | grep -vE "^(running|Running|build|Build)")
