# Shared by the benchmark scripts (sourced): the 1M-frame candump log of the foxBMS DBC and timing helpers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
FRAMES=${FRAMES:-1000000}
DBC=firmware-samples/foxbms.dbc
WORK=.build-bench
LOG=$WORK/bench-$FRAMES.log
PY=.venv/bin/python
mkdir -p "$WORK"
[[ -f $LOG ]] || $PY scripts/bench/make_log.py "$DBC" "$LOG" --frames "$FRAMES"

# Wall-clock seconds of one run of a command; the best of three.
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N); echo "$end - $start" | bc -l; }
best() { local best=999 t; for _ in 1 2 3; do t=$(seconds "$@"); best=$(echo "if ($t < $best) $t else $best" | bc -l); done; echo "$best"; }
