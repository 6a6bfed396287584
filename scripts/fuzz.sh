#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/, -sanitize=fuzzer,address) and runs each for SECONDS, seeded from
# firmware-samples; first replays every kept crash (Fuzz/regressions/<target>/). A new crash is copied
# there (to be kept as a regression test) and fails the run. Prints executions and coverage per target.
#   [FUZZ_RUNS=N] scripts/fuzz.sh SECONDS [TARGET ...]   each target for SECONDS, or until N executions if
#                                                       that comes first (make fuzz: 10 M or 1 h; CI: 15 s)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
runs=${FUZZ_RUNS:--1}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(dbc candump asc trc gvret pcan gzip blf mf4 toml config snapshot payload http model)
work=.build-fuzz
export SWIFT_BACKTRACE=enable=no CELLDRIFT_SAMPLES="$PWD/firmware-samples"

# A failed build must not leave an older fuzzer binary to be run as if it were this code's.
mkdir -p $work
built=0
(cd Fuzz && swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld) > $work/build.out 2>&1 || built=$?
grep -E "error|warning:|Compiling celldrift_fuzz|Build" $work/build.out || true
fuzzer=Fuzz/.build/release/celldrift-fuzz
[ $built -eq 0 ] && [ -x "$fuzzer" ] || { echo "fuzz: the build failed (exit $built; $work/build.out)" >&2; exit 1; }

# `zcat ... | head` ends zcat with SIGPIPE: the seeds' pipelines are judged by their last command.
set +o pipefail
seed() {  # seed TARGET: the seed corpus, from the shipped samples
    local dir=$work/seeds/$1 samples=firmware-samples
    rm -rf "$dir" && mkdir -p "$dir"
    case $1 in
    dbc) cp $samples/*.dbc Tests/fixtures/features.dbc "$dir"/ ;;
    candump) zcat $samples/simulated/healthy.log.gz | head -n 200 > "$dir"/healthy.log ;;
    asc) head -c 16384 $samples/logs/kona_bms_main_relay_on.asc > "$dir"/kona.asc
         zcat $samples/simulated/healthy.asc.gz | head -n 200 > "$dir"/healthy.asc ;;
    trc) printf ';$FILEVERSION=1.1\n;$STARTTIME=45244.925927354816\n     1)      1841.0  Rx         0001  8  00 00 00 00 00 00 00 00\n     2)      1842.5  Tx     18EFC0D0  3  01 02 03\n     3)      1843.0  Rx         0101  2  RTR\n' > "$dir"/v11.trc
         printf ';$FILEVERSION=2.1\n;$STARTTIME=45244.9\n;$COLUMNS=N,O,T,B,I,d,R,L,D\n      1         1.000 DT 1 0100 Rx - 8  00 01 02 03 04 05 06 07\n      2         2.000 FD 2 18FF0001 Rx - 9  00 01 02 03 04 05 06 07 08 09 0A 0B\n' > "$dir"/v21.trc ;;
    gvret) head -n 200 $samples/logs/kona_power_off_on_ready_off.gvret.csv > "$dir"/kona.csv ;;
    pcan) head -n 200 $samples/logs/foxbms_test_log.txt > "$dir"/foxbms.txt ;;
    gzip) zcat $samples/simulated/healthy.log.gz | head -n 100 | gzip -c > "$dir"/healthy.log.gz
          zcat $samples/simulated/healthy.asc.gz | head -n 100 | gzip -c > "$dir"/healthy.asc.gz ;;
    blf|mf4) .venv/bin/python scripts/fuzz_seeds.py "$1" $samples/simulated/healthy.log.gz "$dir" ;;
    toml|config) cp $samples/*.toml "$dir"/ ;;
    snapshot) zcat $samples/simulated/healthy.snapshots.jsonl.gz | head -n 5 | split -l 1 - "$dir"/snapshot- ;;
    payload) zcat $samples/simulated/healthy.snapshots.jsonl.gz | head -n 2 | split -l 1 - "$dir"/snapshot-
             zcat $samples/simulated/healthy.log.gz | head -n 1 > "$dir"/candump
             zcat $samples/simulated/healthy.log.gz | head -n 16 > "$dir"/batch
             printf '\x00\x10\x5e\x8f\x2b\x6c\xd7\x18\x50\x02\x00\x00\x08\x00\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08' > "$dir"/binary ;;
    http) printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' > "$dir"/healthz
          printf 'POST /inference HTTP/1.1\r\nContent-Length: 25\r\n\r\n{"vin": "V", "date": "x"}' > "$dir"/inference
          head -n 1 $samples/seed/test_batch_samples.csv \
              | awk -F, '{ f = $3; for (i = 4; i <= NF; i++) f = f "," $i; printf "{\"vin\": \"%s\", \"date\": \"%s\", \"features\": \"%s\"}", $1, $2, f }' \
              > "$dir"/inference.json ;;
    model) cp $samples/models/*.safetensors "$dir"/ ;;
    esac
}

failed=()
printf '%-9s %8s %12s %10s %8s %8s %s\n' target seconds executions exec/s cov ft result
for target in "${targets[@]}"; do
    mkdir -p "$work/corpus/$target" "$work/artifacts/$target" "Fuzz/regressions/$target"
    seed "$target"
    kept=(Fuzz/regressions/$target/*)
    if [ -e "${kept[0]}" ]; then
        if ! "$fuzzer" "$target" "${kept[@]}" > "$work/$target.regressions.log" 2>&1; then
            failed+=("$target: a kept crash reproduces ($work/$target.regressions.log)")
        fi
    fi
    # Small inputs run fast; the seeds are cut to this length. A model file needs its whole header and tensors.
    maxlen=16384
    [ "$target" = model ] && maxlen=262144
    [ "$target" = mf4 ] && maxlen=65536
    log=$work/$target.log
    status=0
    "$fuzzer" "$target" -max_total_time="$seconds" -runs="$runs" -max_len=$maxlen -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/$target/" "$work/corpus/$target" "$work/seeds/$target" > "$log" 2>&1 < /dev/null || status=$?
    executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
    result=ok
    if [ $status -ne 0 ]; then
        result="CRASH (exit $status)"
        for artifact in "$work/artifacts/$target"/*; do
            [ -e "$artifact" ] && cp "$artifact" "Fuzz/regressions/$target/" && result="$result: kept Fuzz/regressions/$target/$(basename "$artifact")"
        done
        failed+=("$target: $result; see $log")
    fi
    printf '%-9s %8s %12s %10s %8s %8s %s\n' "$target" "$seconds" "$executions" "$rate" "$cov" "$ft" "$result"
done
if [ ${#failed[@]} -gt 0 ]; then
    printf 'fuzz: %s\n' "${failed[@]}" >&2
    exit 1
fi
