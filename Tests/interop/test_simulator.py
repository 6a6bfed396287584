"""celldrift simulate: the same arguments give the same bytes, and its CAN logs decode back through
`celldrift decode` (and cantools) to the simulated values within one quantization step."""
import collections
import csv
import json
import pathlib

import cantools

from conftest import ROOT, SHIPPED, json_lines, run

DBC = ROOT / "firmware-samples" / "celldrift_pack.dbc"
ARGS = ["--vehicles", "2", "--fault", "micro-short", "--fault-share", "0.5", "--days", "0.5", "--seed", "42",
        "--snapshots", "--snapshot-interval", "1", "--candump", "--asc", "--log-hours", "0.05", "--dbc", DBC]


def simulate(directory, *extra):
    run("simulate", "--out", directory, *ARGS, *extra)
    return {path.name: path.read_bytes() for path in sorted(pathlib.Path(directory).iterdir())}


def test_same_arguments_same_bytes(tmp_path, celldrift):
    first = simulate(tmp_path / "a")
    second = simulate(tmp_path / "b")
    assert first.keys() == second.keys() and len(first) == 2 + 2 * 3
    assert first == second
    other = simulate(tmp_path / "c", "--seed", "43")
    assert other["daily.csv"] != first["daily.csv"]


def test_daily_table_and_labels_have_the_seed_layout(tmp_path, celldrift):
    files = simulate(tmp_path / "a")
    seed_header = (SHIPPED / "seed" / "series_samples.csv").read_text().splitlines()[0]
    rows = list(csv.reader(files["daily.csv"].decode().splitlines()))
    assert ",".join(rows[0]) == seed_header
    assert len(rows) == 1 + 2 and all(len(row) == 9 and row[8] in ("0.0", "1.0") for row in rows[1:])
    labels = json.loads(files["labels.json"])
    assert [label["fault"] for label in labels] == ["micro-short", "healthy"]
    assert labels[0]["cell"] is not None and labels[1]["cell"] is None
    assert {row[0] for row in rows[1:]} == {label["vehicle"] for label in labels}


def test_logs_decode_back_to_the_simulated_values(tmp_path, celldrift):
    simulate(tmp_path)
    for snapshot_file in sorted(tmp_path.glob("*.snapshots.jsonl")):
        vin = snapshot_file.name.split(".")[0]
        snapshots = {row["ts"]: row for row in json_lines(snapshot_file.read_text())}
        decoded, _ = run("decode", "--dbc", DBC, tmp_path / f"{vin}.log")
        per_second = collections.defaultdict(dict)
        for frame in json_lines(decoded):
            per_second[int(frame["t"])].update(frame["signals"])
        assert len(per_second) == len(snapshots) >= 170
        cells = len(next(iter(snapshots.values()))["cell_voltages"])
        for second, values in per_second.items():
            snapshot = snapshots[second]
            for cell in range(cells):
                assert abs(values[f"CellVoltage_{cell:03d}"] - snapshot["cell_voltages"][cell] * 1000) <= 1.0
                assert abs(values[f"CellTemperature_{cell:03d}"] - snapshot["cell_temperatures"][cell]) <= 0.5
            assert abs(values["PackCurrent"] - snapshot["current"]) <= 0.1 + 1e-9
            assert abs(values["PackVoltage"] - snapshot["voltage"]) <= 0.01 + 1e-9
            assert abs(values["PackSoC"] - snapshot["soc"]) <= 0.1 + 1e-9
            assert values["CellVoltageMax"] == max(values[f"CellVoltage_{c:03d}"] for c in range(cells))
            # Which cells the BMS bleeds, and its status's flag that it bleeds any.
            bleeding = [values[f"CellBalancing_{c:03d}"] for c in range(cells)]
            assert set(bleeding) <= {0, 1} and values["BalancingActive"] == max(bleeding)
            # The snapshot (the MQTT payload) carries the same flags.
            assert snapshot["cell_balancing"] == bleeding and snapshot["balancing"] == bool(max(bleeding))
        # The ASC log carries the same frames.
        asc, _ = run("decode", "--dbc", DBC, tmp_path / f"{vin}.asc")
        candump_signals = [frame["signals"] for frame in json_lines(decoded)]
        assert [frame["signals"] for frame in json_lines(asc)] == candump_signals
        # And cantools reads the candump log the same way.
        database = cantools.database.load_file(str(DBC))
        for line, ours in list(zip((tmp_path / f"{vin}.log").read_text().splitlines(), candump_signals))[:2000]:
            ident, data = line.split()[2].split("#")
            assert database.decode_message(int(ident, 16), bytes.fromhex(data), decode_choices=False) == ours
