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
