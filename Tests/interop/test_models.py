"""The pack model end to end against independent references: the windows against a Python
reimplementation of the seed's windowing; the model file read by Python's safetensors, its SHA-256 by
hashlib, and its int8 arithmetic redone in numpy to the same probability; corrupt files refused;
predict and --batch into the outbox in the seed's event schema; the xgboost comparison script."""
import csv
import datetime
import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file

from conftest import CELLDRIFT, ROOT, SHIPPED, json_lines, run

DATA = SHIPPED / "seed" / "series_samples.csv"
BATCH = SHIPPED / "seed" / "test_batch_samples.csv"
COLUMNS = ["TotalVoltage", "TotalCurrent", "CellMaxVoltage", "CellMinVoltage", "MaxTemperature", "MinTemperature"]


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A quickly trained model (the debug build trains slowly): the file format and arithmetic do not
    depend on its size."""
    folder = tmp_path_factory.mktemp("model")
    run("train", "pack", "--data", DATA, "--rounds", 30, "-o", folder / "m.safetensors", "--windows-out", folder / "windows.csv")
    run("train", "pack", "--data", DATA, "--kind", "mlp", "--hidden", 8, "--epochs", 5, "--members", 2, "-o", folder / "mlp.safetensors")
    return folder


def reference_windows():
    days = {}
    for row in csv.DictReader(DATA.open()):
        day = datetime.date.fromisoformat(row["Date"])
        values = [float(row[c]) for c in COLUMNS]
        days.setdefault(row["VIN"], {})[day] = ([-1.0 if np.isnan(v) else v for v in values], row["Label"] == "1.0")
    windows = []
    for vin, table in days.items():
        first, last = min(table), max(table)
        x = first + datetime.timedelta(14)
        while x + datetime.timedelta(13) <= last:
            inputs = []
            for back in range(14, 0, -1):
                inputs += table.get(x - datetime.timedelta(back), ([-1.0] * 6, False))[0]
            label = any(table.get(x + datetime.timedelta(k), (None, False))[1] for k in range(14))
            windows.append((vin, x.isoformat(), int(label), inputs))
            x += datetime.timedelta(1)
    return windows


def test_windows_match_the_seeds_rules(small_model):
    ours = list(csv.DictReader((small_model / "windows.csv").open()))
    reference = reference_windows()
    assert len(ours) == len(reference) == 3968
    for row, (vin, date, label, inputs) in zip(ours, reference):
        assert (row["vin"], row["date"], int(row["label"])) == (vin, date, label)
        assert [float(row[name]) for name in list(row)[5:]] == inputs
    assert list(ours[0])[5] == "total_voltage_14" and list(ours[0])[-1] == "min_temperature_1"
    # The random split holds out a fifth of the windows; the vehicle split whole vehicles.
    assert sum(row["random_validation"] == "1" for row in ours) == 3968 // 5
    held = {row["vin"] for row in ours if row["vehicle_validation"] == "1"}
    assert held and all(row["vehicle_validation"] == "1" for row in ours if row["vin"] in held)


def numpy_probability(tensors, metadata, inputs):
    """The pack model's int8 arithmetic, redone from the file alone."""
    x = np.array(inputs, dtype=float)
    days = x.reshape(14, 6)
    spreads = np.where((days[:, 2] == -1) & (days[:, 3] == -1), 0.0, days[:, 2] - days[:, 3])
    return numpy_network(tensors, metadata, np.concatenate([x, spreads]))


def numpy_network(tensors, metadata, features):
    """Any celldrift model's normalization and int8 layers, from the file alone."""
    clip = metadata["normalization"]["clip"]
    inverse = 1 / np.array(metadata["normalization"]["std"])
    z = np.clip((np.array(features, dtype=float) - metadata["normalization"]["mean"]) * inverse, -clip, clip)
    layers = metadata["layers"]

    def quantize(values):  # half away from zero, saturating
        values = np.clip(values, -127, 127)
        return np.trunc(values + np.where(values < 0, -0.5, 0.5)).astype(np.int64)

    q = quantize(z * (1 / layers[0]["input_scale"]))
    for index, layer in enumerate(layers):
        acc = tensors[layer["weight"]].astype(np.int64) @ q + tensors[layer["bias"]].astype(np.int64)
        value = acc * (np.array(layer["weight_scales"]) * layer["input_scale"])
        if index == len(layers) - 1:
            return 1 / (1 + np.exp(-value[0]))
        q = quantize(np.maximum(value, 0) * (1 / layers[index + 1]["input_scale"]))


def numpy_trees(tensors, metadata, inputs):
    """The boosted trees' integer arithmetic, redone from the file alone."""
    x = np.array(inputs, dtype=float)
    days = x.reshape(14, 6)
    features = np.concatenate([x, np.where((days[:, 2] == -1) & (days[:, 3] == -1), 0.0, days[:, 2] - days[:, 3])])
    offsets = np.concatenate([[0], np.cumsum(tensors["cut_counts"])])
    bins = [np.searchsorted(tensors["cuts"][offsets[i]:offsets[i + 1]], value, side="left") for i, value in enumerate(features)]
    total = 0
    for node in tensors["roots"]:
        while node >= 0:
            node = tensors["node_left"][node] if bins[tensors["node_feature"][node]] <= tensors["node_threshold"][node] \
                else tensors["node_right"][node]
        total += int(tensors["leaves"][-node - 1])
    return 1 / (1 + np.exp(-(metadata["base_logit"] + metadata["leaf_scale"] * total)))


@pytest.mark.parametrize("name", ["m.safetensors", "mlp.safetensors"])
def test_model_file_is_readable_from_python(small_model, celldrift, name):
    path = small_model / name
    tensors = load_file(path)
    raw = path.read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    metadata_text = header["__metadata__"]["celldrift"]
    metadata = json.loads(metadata_text)
    if name == "mlp.safetensors":
        assert tensors["layer0.weight"].dtype == np.int8 and tensors["layer0.weight"].shape == (16, 98)
        assert tensors["layer0.bias"].dtype == np.int32 and tensors["layer1.weight"].shape == (1, 16)
        reference = numpy_probability
    else:
        assert metadata["model_type"] == "boosted-trees" and metadata["trees"] == 30 == len(tensors["roots"])
        assert tensors["leaves"].dtype == np.int8 and tensors["cuts"].dtype == np.float64 and len(tensors["cut_counts"]) == 98
        reference = numpy_trees
    data = raw[8 + int.from_bytes(raw[:8], "little"):]
    assert header["__metadata__"]["sha256"] == hashlib.sha256(metadata_text.encode() + data).hexdigest()
    assert metadata["inputs"][0] == "total_voltage_14" and len(metadata["inputs"]) == 84
    assert metadata["training"]["windows"] == 3968 and metadata["training"]["data_sha256"] == hashlib.sha256(DATA.read_bytes()).hexdigest()
    rows = list(csv.reader(BATCH.open()))[:25]
    for row in rows:
        request = json.dumps({"vin": row[0], "date": row[1], "features": ",".join(row[2:])})
        out, _ = run("predict", "--model", path, stdin=request)
        assert abs(float(out) - reference(tensors, metadata, [float(v) for v in row[2:]])) < 1e-9


def test_corrupt_files_are_refused(small_model, tmp_path, celldrift):
    good = (small_model / "m.safetensors").read_bytes()
    request = json.dumps({"vin": "V", "date": "2020-01-01", "features": ",".join(["1"] * 84)})
    cases = {
        "flipped.safetensors": (good[:-3] + bytes([good[-3] ^ 0x01]) + good[-2:], "SHA-256 mismatch: the file is corrupt"),
        "truncated.safetensors": (good[:300], "truncated or not a model file"),
        "short.safetensors": (good[:len(good) // 2], "SHA-256 mismatch: the file is corrupt"),
        "tiny.safetensors": (good[:5], "truncated: 5 bytes"),
        "header.safetensors": (good[:8] + b"[" + good[9:], "header: JSON error"),
        "scale.safetensors": (good.replace(b'\\"leaf_scale\\": ', b'\\"leaf_scale\\":-', 1), "SHA-256 mismatch"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        _, err = run("predict", "--model", tmp_path / name, stdin=request, check=False)
        assert f"{tmp_path / name}: {message}" in err, (name, err)
    _, err = run("predict", "--model", small_model / "m.safetensors", stdin='{"features": "1,2,3"}', check=False)
    assert "request: features: 3 numbers where the model takes 84" in err


def test_batch_inference_events_in_the_seeds_schema(small_model, tmp_path, celldrift):
    model = small_model / "m.safetensors"
    lines = BATCH.read_text().splitlines()
    batch = tmp_path / "batch.csv"
    batch.write_text("\n".join(lines[:40] + ["BADVIN,2020-01-01,1,2"] + lines[40:]) + "\n")
    out, err = run("predict", "--model", model, "--batch", batch, "--db", tmp_path / "o.db", check=False)
    assert f"{batch}:41: features: 2 numbers where the model takes 84; row skipped" in err
    assert out.startswith(f"{len(lines)} inference events")
    table, _ = run("outbox", "export", "--db", tmp_path / "o.db", "--type", "inference", "--format", "csv")
    rows = list(csv.DictReader(table.splitlines()))
    assert len(rows) == len(lines)
    names = [f"{m}_{d}" for d in range(14, 0, -1) for m in
             ("total_voltage", "total_current", "cell_max_voltage", "cell_min_voltage", "max_temperature", "min_temperature")]
    assert list(rows[0]) == ["request_id", "vin", "date", "predicted_prob"] + names
    by_key = {(row["vin"], row["date"]): row for row in rows}
    for line in lines[:10]:
        fields = line.split(",")
        row = by_key[(fields[0], fields[1])]
        assert [float(row[name]) for name in names] == [float(v) for v in fields[2:]]
        single, _ = run("predict", "--model", model, stdin=json.dumps({"vin": fields[0], "date": fields[1], "features": ",".join(fields[2:])}))
        assert float(row["predicted_prob"]) == float(single)
    # The same records through sqlite3: request_id is the record id (the idempotency key).
    query = "SELECT count(*) FROM records WHERE type = 'inference' AND id = json_extract(payload, '$.request_id')"
    count = subprocess.run(["sqlite3", tmp_path / "o.db", query], capture_output=True, text=True, check=True).stdout
    assert int(count) == len(lines)


def test_int8_stays_near_its_float_twin_and_the_xgboost_script_runs(celldrift):
    out, _ = run("evaluate", "pack", "--data", DATA, "--rounds", 60, "--json")
    figures = json.loads(out)
    for split in ("random", "vehicle"):
        assert abs(figures[f"{split}_int8"]["auc"] - figures[f"{split}_float"]["auc"]) <= 0.005
        assert figures[f"{split}_int8"]["auc"] > 0.6
        best = figures[f"{split}_int8"]["best_f1"]
        assert best["f1"] >= figures[f"{split}_int8"]["at_0.15"]["f1"]
    script = subprocess.run([sys.executable, ROOT / "scripts" / "xgboost_reference.py", "--celldrift", CELLDRIFT,
                             "--data", DATA, "--evaluate-args", "--rounds 60"],
                            capture_output=True, text=True, timeout=900, check=True)
    result = json.loads(script.stderr.strip().splitlines()[-1])
    for split in ("random", "vehicle"):
        assert 0.6 < result[split]["xgboost"] <= 1
        assert result[split]["celldrift_int8"] == figures[f"{split}_int8"]["auc"]
    assert "AUC xgboost" in script.stdout
