#!/usr/bin/env bash
# Regenerates the tuning and the held-out independent fleets and evaluates the pipeline on each
# (docs/fleet.md): as shipped, and with the per-cell detectors off (the rules and the cell-drift model
# alone: the figures before issue 16's detection). Tune on out/fleet-tuning only; the held-out splits
# are for reporting.
#   scripts/fleet/make-fleets.sh [PYTHON] [CELLDRIFT] [--evaluate-only]
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${1:-.venv/bin/python}
celldrift=${2:-.build/release/celldrift}
jobs=$(nproc)
splits=${SPLITS:-"tuning heldout heldout-healthy"}
if [[ ${3:-} != --evaluate-only ]]; then
    for split in $splits; do
        start=$(date +%s)
        "$python" scripts/fleet/generate.py --split "$split" --out "out/fleet-$split" --jobs "$jobs" 2>&1 | grep -v -i warning
        echo "== $split fleet generated in $(( $(date +%s) - start )) s"
    done
fi
for split in $splits; do
    folder=out/fleet-$split
    # The same vehicles with [detection] enabled = false, their DBC paths made absolute.
    mkdir -p "$folder/rules-only"
    for config in "$folder"/*.toml; do
        sed -E "s|^dbc = \"(.*)\"|dbc = \"$PWD/$folder/\\1\"|" "$config" > "$folder/rules-only/$(basename "$config")"
        printf '\n[detection]\nenabled = false\n' >> "$folder/rules-only/$(basename "$config")"
    done
    echo "== celldrift evaluate fleet on the $split fleet, as shipped"
    "$celldrift" evaluate fleet --labels "$folder/labels.json" --jobs "$jobs" | tee "$folder/evaluation.txt" | tail -n 25
    "$celldrift" evaluate fleet --labels "$folder/labels.json" --jobs "$jobs" --json > "$folder/evaluation.json"
    echo "== the same without the per-cell detectors (rules and cell-drift model only)"
    "$celldrift" evaluate fleet --labels "$folder/labels.json" --config-dir "$folder/rules-only" --jobs "$jobs" \
        | tee "$folder/evaluation-rules-only.txt" | tail -n 25
    "$celldrift" evaluate fleet --labels "$folder/labels.json" --config-dir "$folder/rules-only" --jobs "$jobs" --json \
        > "$folder/evaluation-rules-only.json"
    # The BMS's 50 mV rule and the detectors alone: the rules in amperes and the cell-drift model dropped.
    mkdir -p "$folder/detectors-only"
    for config in "$folder"/rules-only/*.toml; do
        "$python" - "$config" "$folder/detectors-only/$(basename "$config")" <<'PY'
import sys
keep, out = True, []
for line in open(sys.argv[1]):
    stripped = line.strip()
    if stripped.startswith("["):
        keep = stripped not in ("[rules.cell_resistance]", "[rules.self_discharge]", "[detection]")
    if keep and not (stripped.startswith("cell =") or stripped.startswith("enabled = false")):
        out.append(line)
open(sys.argv[2], "w").write("".join(out))
PY
    done
    echo "== the BMS rule and the per-cell detectors only"
    "$celldrift" evaluate fleet --labels "$folder/labels.json" --config-dir "$folder/detectors-only" --jobs "$jobs" \
        | tee "$folder/evaluation-detectors-only.txt" | tail -n 25
    "$celldrift" evaluate fleet --labels "$folder/labels.json" --config-dir "$folder/detectors-only" --jobs "$jobs" --json \
        > "$folder/evaluation-detectors-only.json"
done
for split in $splits; do
    folder=out/fleet-$split
    "$python" scripts/fleet/report.py "before the detectors (rules and cell-drift model)=$folder/evaluation-rules-only.json" \
        "as shipped (rules, cell-drift model and detectors)=$folder/evaluation.json" \
        "the BMS rule and the detectors only=$folder/evaluation-detectors-only.json" > "$folder/report.md"
    echo "== $folder/report.md written"
done
