"""Every consistency feature from `celldrift features` against an independent numpy calculation on the
same snapshots (the shipped micro-short sample of the simulator)."""
import gzip
import json

import numpy as np

from conftest import ROOT, json_lines, run

SNAPSHOTS = ROOT / "firmware-samples" / "simulated" / "micro-short.snapshots.jsonl.gz"
WINDOW = 12


def close(ours, theirs):
    return np.allclose(np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float), rtol=1e-9, atol=1e-12)


def test_features_match_numpy(tmp_path, celldrift):
    snapshots = [json.loads(line) for line in gzip.open(SNAPSHOTS, "rt")]
    assert len(snapshots) >= 60
    source = tmp_path / "snapshots.jsonl"
    source.write_text("".join(json.dumps(s) + "\n" for s in snapshots))
    out, _ = run("features", "--window", WINDOW, source)
    rows = json_lines(out)
    assert len(rows) == len(snapshots)
    for index, (row, snapshot) in enumerate(zip(rows, snapshots)):
        v = np.array(snapshot["cell_voltages"])
        t = np.array(snapshot["cell_temperatures"])
        median = np.median(v)
        mad = np.median(np.abs(v - median))
        p = v / v.sum()
        assert close(row["spread"], v.max() - v.min())
        assert close(row["std"], v.std())
        assert close(row["max_modified_z"], np.max(np.abs(0.6745 * (v - median) / mad)) if mad > 0 else 0)
        assert close(row["entropy"], -(p * np.log(p)).sum())
        assert close(row["temperature_range"], t.max() - t.min())
        assert close(row["median"], median)
        assert close(row["deviation"], v - median)
        window = snapshots[max(0, index - WINDOW + 1):index + 1]
        times = np.array([s["ts"] for s in window], dtype=float)
        voltages = np.array([s["cell_voltages"] for s in window])
        deviations = voltages - np.median(voltages, axis=1, keepdims=True)
        if len(window) >= 2:
            slopes = np.polyfit(times, deviations, 1)[0] * 3600
            assert np.allclose(row["deviation_slope_v_per_h"], slopes, rtol=1e-6, atol=1e-9)
            means = voltages.mean(axis=1)
            expected = []
            for cell in range(voltages.shape[1]):
                if voltages[:, cell].std() == 0 or means.std() == 0:
                    expected.append(0.0)
                else:
                    expected.append(np.corrcoef(voltages[:, cell], means)[0, 1])
            assert np.allclose(row["correlation"], expected, rtol=1e-6, atol=1e-9)
    # The faulty cell is the one the features single out at the end of the sample.
    labels = json.loads((ROOT / "firmware-samples" / "simulated" / "labels.json").read_text())
    fault_cell = next(label["cell"] for label in labels if label["fault"] == "micro-short")
    assert int(np.argmin(rows[-1]["deviation"])) == fault_cell


def test_malformed_snapshot_lines_are_reported_and_skipped(tmp_path, celldrift):
    good = json.dumps({"ts": 1, "cell_voltages": [3.7, 3.71, 3.69]})
    source = tmp_path / "snapshots.jsonl"
    source.write_text(good + "\n{\"ts\": 2, \"cell_voltages\": [3.7, \"x\", 3.7]}\nnot json\n" + good + "\n")
    out, err = run("features", source)
    assert len(json_lines(out)) == 2
    assert f"{source}:2: cell_voltages[1] is not a number" in err
    assert f"{source}:3: JSON error at byte 1" in err


def reference_resistance_ratio(snapshots, upto, step=10.0, gap=30.0, keep=16):
    """Per cell: mean of −ΔV/ΔI over the last `keep` current steps up to snapshot `upto`, over the median."""
    steps = []
    for j in range(1, upto + 1):
        before, after = snapshots[j - 1], snapshots[j]
        change = after["current"] - before["current"]
        if abs(change) >= step and after["ts"] - before["ts"] <= gap:
            steps.append(-(np.array(after["cell_voltages"]) - np.array(before["cell_voltages"])) / change)
    if not steps:
        return np.zeros(len(snapshots[0]["cell_voltages"])), 0
    means = np.mean(steps[-keep:], axis=0)
    return means / np.median(means), min(len(steps), keep)


def reference_rest_drift(snapshots, upto, rest=2.0, settle=300.0, minimum=1800.0):
    """Per cell: least-squares slope (V/h) of v − median over the settled part of the latest rest that
    has lasted `minimum` seconds past settling, up to snapshot `upto`."""
    counted, segment, start = [], [], None
    for snapshot in snapshots[:upto + 1]:
        if abs(snapshot["current"]) > rest:
            segment, start = [], None
            continue
        start = snapshot["ts"] if start is None else start
        if snapshot["ts"] - start < settle:
            continue
        segment.append(snapshot)
        if len(segment) >= 2 and segment[-1]["ts"] - segment[0]["ts"] >= minimum:
            counted = list(segment)
    if not counted:
        return np.zeros(len(snapshots[0]["cell_voltages"]))
    hours = np.array([s["ts"] - counted[0]["ts"] for s in counted]) / 3600
    v = np.array([s["cell_voltages"] for s in counted])
    return np.polyfit(hours, v - np.median(v, axis=1, keepdims=True), 1)[0]


def test_resistance_and_rest_drift_match_numpy(tmp_path, celldrift):
    """On a simulated day of a pack with a growing resistance (10 s snapshots: current steps while
    driving, rests overnight): the step resistances, their ratio to the median and the rest drift."""
    run("simulate", "--fault", "resistance-growth", "--days", 1, "--snapshots", "--snapshot-interval", 10,
        "--seed", 3, "--out", tmp_path)
    (source,) = tmp_path.glob("*.snapshots.jsonl")
    snapshots = json_lines(source.read_text())
    label = json.loads((tmp_path / "labels.json").read_text())[0]
    out, _ = run("features", source)
    rows = json_lines(out)
    assert len(rows) == len(snapshots) == 8640
    checked_steps = checked_rests = 0
    for index in range(0, len(rows), 97):
        ratio, steps = reference_resistance_ratio(snapshots, index)
        assert rows[index]["resistance_steps"] == steps
        assert np.allclose(rows[index]["resistance_ratio"], ratio, rtol=1e-9, atol=1e-12)
        drift = reference_rest_drift(snapshots, index)
        assert np.allclose(rows[index]["rest_drift_v_per_h"], drift, rtol=1e-6, atol=1e-9)
        checked_steps += steps > 0
        checked_rests += bool(np.any(drift != 0))
    assert checked_steps > 20 and checked_rests > 5
    # The grown resistance stands out at the labelled cell by the end of the day.
    assert int(np.argmax(rows[-1]["resistance_ratio"])) == label["cell"] and max(rows[-1]["resistance_ratio"]) > 1.2
