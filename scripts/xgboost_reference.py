"""Trains XGBoost with the seed's exact settings on celldrift's windows and splits, and prints its AUC
beside celldrift's (float and int8) on the same held-out windows.

    python scripts/xgboost_reference.py [--celldrift .build/release/celldrift] [--data ../shared/data/seed/series_samples.csv]

celldrift writes the windows (`train pack --windows-out`, with both splits marked), so both sides see
the same inputs, labels and splits; `celldrift evaluate pack --json` gives its own figures."""
import argparse
import csv
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import xgboost

SEED_PARAMS = {"max_depth": 7, "eta": 0.1, "gamma": 4, "min_child_weight": 6, "subsample": 0.8,
               "objective": "binary:logistic", "seed": 0}
SEED_ROUNDS = 200


def auc(labels, scores):
    """Mann-Whitney AUC, ties counted half (as celldrift's)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    start = 0
    while start < len(scores):
        end = start
        while end + 1 < len(scores) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2 + 1
        start = end + 1
    positives = labels.sum()
    negatives = len(labels) - positives
    return (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--celldrift", default=".build/release/celldrift")
    parser.add_argument("--data", default="firmware-samples/seed/series_samples.csv")
    parser.add_argument("--seed", default="1")
    parser.add_argument("--evaluate-args", default="", help="more arguments for celldrift evaluate pack (e.g. --hidden 16)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        windows_path = pathlib.Path(folder) / "windows.csv"
        subprocess.run([args.celldrift, "train", "pack", "--data", args.data, "--seed", args.seed, "--epochs", "1",
                        "--windows-out", windows_path, "-o", pathlib.Path(folder) / "unused.safetensors"],
                       check=True, capture_output=True)
        rows = list(csv.DictReader(windows_path.open()))
    inputs = np.array([[float(row[name]) for name in list(rows[0])[5:]] for row in rows])
    labels = np.array([int(row["label"]) for row in rows])
    ours = json.loads(subprocess.run([args.celldrift, "evaluate", "pack", "--data", args.data, "--seed", args.seed, "--json",
                                      *args.evaluate_args.split()],
                                     check=True, capture_output=True, text=True).stdout)
    result = {}
    for split in ("random", "vehicle"):
        held = np.array([row[f"{split}_validation"] == "1" for row in rows])
        booster = xgboost.train(SEED_PARAMS, xgboost.DMatrix(inputs[~held], labels[~held]), SEED_ROUNDS)
        scores = booster.predict(xgboost.DMatrix(inputs[held]))
        result[split] = {"xgboost": auc(labels[held], scores), "celldrift_float": ours[f"{split}_float"]["auc"],
                         "celldrift_int8": ours[f"{split}_int8"]["auc"], "windows": int(held.sum()),
                         "positives": int(labels[held].sum())}
        print(f"{split} split ({held.sum()} windows, {labels[held].sum()} positive): AUC xgboost {result[split]['xgboost']:.4f}, "
              f"celldrift float {result[split]['celldrift_float']:.4f}, int8 {result[split]['celldrift_int8']:.4f}")
    json.dump(result, sys.stderr)
    print(file=sys.stderr)


if __name__ == "__main__":
    main()
