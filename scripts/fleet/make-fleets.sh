#!/usr/bin/env bash
# Regenerates the tuning and the held-out independent fleets and evaluates three pipelines on each
# (docs/fleet.md): before the per-cell detectors, as shipped, as shipped with the cell-drift model.
# Tune on out/fleet-tuning (and out/fleet-tuning-leaks) only; the held-out splits are for reporting.
#   scripts/fleet/make-fleets.sh [PYTHON] [CELLDRIFT] [--evaluate-only]
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${1:-.venv/bin/python}
celldrift=${2:-.build/release/celldrift}
jobs=$(nproc)
splits=${SPLITS:-"tuning tuning-leaks tuning-healthy tuning-lfp-charge heldout heldout-leaks heldout-healthy heldout-healthy-b heldout-healthy-c heldout-leaks-b heldout-healthy-d heldout-leaks-c heldout-resistance heldout-b heldout-resistance-b heldout-healthy-e heldout-healthy-f"}
if [[ ${3:-} != --evaluate-only ]]; then
    for split in $splits; do
        start=$(date +%s)
        "$python" scripts/fleet/generate.py --split "$split" --out "out/fleet-$split" --jobs "$jobs" 2>&1 | grep -v -i warning
        echo "== $split fleet generated in $(( $(date +%s) - start )) s"
    done
fi
for split in $splits; do
    folder=out/fleet-$split
    # Every vehicle with the pipeline of each variant (scripts/fleet/variants.py): before the detectors,
    # as shipped, and as shipped with the cell-drift model.
    for variant in $("$python" scripts/fleet/variants.py "$folder"); do
        echo "== celldrift evaluate fleet on the $split fleet: $variant"
        "$celldrift" evaluate fleet --labels "$folder/labels.json" --config-dir "$folder/variant-$variant" --jobs "$jobs" \
            | tee "$folder/evaluation-$variant.txt" | tail -n 25
        "$celldrift" evaluate fleet --labels "$folder/labels.json" --config-dir "$folder/variant-$variant" --jobs "$jobs" --json \
            > "$folder/evaluation-$variant.json"
    done
    "$python" scripts/fleet/report.py "before the detectors (rules in amperes and cell-drift model)=$folder/evaluation-before-detectors.json" \
        "as shipped (the 50 mV rule and the detectors)=$folder/evaluation-as-shipped.json" \
        "as shipped with the cell-drift model=$folder/evaluation-with-cell-model.json" > "$folder/report.md"
    echo "== $folder/report.md written"
done
