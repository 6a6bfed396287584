#!/usr/bin/env bash
# Regenerates the tuning and the held-out independent fleets and evaluates the pipeline on both
# (docs/fleet.md). Tune on out/fleet-tuning only; out/fleet-heldout is for reporting.
#   scripts/fleet/make-fleets.sh [PYTHON] [CELLDRIFT]
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${1:-.venv/bin/python}
celldrift=${2:-.build/release/celldrift}
jobs=$(nproc)
for split in tuning heldout heldout-healthy; do
    start=$(date +%s)
    "$python" scripts/fleet/generate.py --split "$split" --out "out/fleet-$split" --jobs "$jobs" 2>&1 | grep -v -i warning
    echo "== $split fleet generated in $(( $(date +%s) - start )) s"
done
for split in tuning heldout heldout-healthy; do
    echo "== celldrift evaluate fleet on the $split fleet"
    "$celldrift" evaluate fleet --labels "out/fleet-$split/labels.json" --jobs "$jobs" | tee "out/fleet-$split/evaluation.txt"
    "$celldrift" evaluate fleet --labels "out/fleet-$split/labels.json" --jobs "$jobs" --json > "out/fleet-$split/evaluation.json"
done
