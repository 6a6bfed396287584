"""celldrift replay on the simulator's samples: the rule alarm fires on every faulty sample, at the
labelled cell and within seconds of the labelled time, and never on the healthy one; alarms land in the
SQLite outbox; config mistakes are reported with their line."""
import calendar
import gzip
import json
import time

import pytest

from conftest import ROOT, json_lines, run

SAMPLES = ROOT / "firmware-samples" / "simulated"
CONFIG = ROOT / "firmware-samples" / "celldrift_pack.toml"
# The same with the rules in amperes and the cell-drift model (not shipped on by default).
RULES_CONFIG = ROOT / "firmware-samples" / "celldrift_pack_rules.toml"
LABELS = {label["fault"]: label for label in json.loads((SAMPLES / "labels.json").read_text())}


def epoch(iso):
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


@pytest.mark.parametrize("fault", sorted(LABELS))
def test_rule_alarm_fires_at_the_labelled_cell(tmp_path, celldrift, fault):
    database = tmp_path / "outbox.db"
    out, _ = run("replay", "--config", RULES_CONFIG, "--db", database, "--json", SAMPLES / f"{fault}.log.gz")
    summary = json.loads(out)
    assert summary["frames"] == 61200 and summary["bad_lines"] == 0
    assert summary["snapshots"] == 900 and summary["incomplete_snapshots"] == 0
    exported, _ = run("outbox", "export", "--db", database)
    records = json_lines(exported)
    # An alarm counts where it was raised (its updates and clear are the same alarm, by alarm_id).
    alarms = [record for record in records if record["kind"] == "cell_spread" and record["payload"]["transition"] == "raised"]
    label = LABELS[fault]
    if label["rule_first_fired"] is None:
        assert records == [] and summary["alarms"] == {}
        return
    assert summary["alarms"]["cell_spread"] == len(alarms) >= 1
    # The resistance rule sees the faults that raise a cell's resistance, at the same cell, and no other.
    resistance = [record for record in records if record["kind"] == "cell_resistance" and record["payload"]["transition"] == "raised"]
    if fault in ("resistance-growth", "loose-connection"):
        assert len(resistance) == 1 and resistance[0]["cell"] == label["cell"]
        assert resistance[0]["payload"]["cell_resistance_ratio"] > 1.5 and resistance[0]["severity"] == 1
    else:
        assert resistance == []
    first = alarms[0]
    assert first["cell"] == label["cell"] == label["rule_cell"]
    # Both rules see the same 1 mV readings; the replay's snapshot completes when the last cell page of
    # that second arrives (0.88 s in), so the alarm is stamped within the labelled second.
    assert 0 <= first["event_time"] - epoch(label["rule_first_fired"]) < 1
    assert first["payload"]["spread_v"] > 0.050 and first["state"] == "pending"


def line_of(path, fragment):
    """The line number (from 1) of the first line of the file holding `fragment`."""
    return next(number for number, text in enumerate(path.read_text().splitlines(), 1) if fragment in text)


def test_config_mistakes_name_their_line(tmp_path, celldrift):
    config = tmp_path / "bad.toml"
    text = CONFIG.read_text().replace('cell_voltage = "CellVoltage_{index:03}"', 'cell_voltage = "Voltage_{index}"')
    config.write_text(text.replace('dbc = "celldrift_pack.dbc"', f'dbc = "{ROOT / "firmware-samples" / "celldrift_pack.dbc"}"'))
    _, err = run("replay", "--config", config, "--db", tmp_path / "o.db", SAMPLES / "healthy.log.gz", check=False)
    assert f"{config}:{line_of(config, 'Voltage_{index}')}: pack.cell_voltage: the DBC has no signal Voltage_0" in err
    config.write_text(CONFIG.read_text().replace("window = 60", "window = sixty"))
    _, err = run("replay", "--config", config, "--db", tmp_path / "o.db", SAMPLES / "healthy.log.gz", check=False)
    assert f"{config}:{line_of(config, 'window = sixty')}:10: 'sixty' is not a string, number, boolean, array or table" in err
    config.write_text(text.replace("minimum_duration_s = 10", "minimum_duration = 10")
                      .replace('"Voltage_{index}"', '"CellVoltage_{index:03}"')
                      .replace('dbc = "celldrift_pack.dbc"', f'dbc = "{ROOT / "firmware-samples" / "celldrift_pack.dbc"}"'))
    _, err = run("replay", "--config", config, check=False)
    assert f"{config}:{line_of(config, 'minimum_duration = 10')}: rules.cell_spread.minimum_duration: unknown key" in err
    config.write_text(text.replace('"Voltage_{index}"', '"CellVoltage_{index:03}"')
                      .replace('dbc = "celldrift_pack.dbc"', f'dbc = "{ROOT / "firmware-samples" / "celldrift_pack.dbc"}"')
                      .replace('pack = "models/pack-model.safetensors"', f'pack = "{tmp_path / "missing.safetensors"}"'))
    _, err = run("replay", "--config", config, check=False)
    assert f"{config}:{line_of(config, 'missing.safetensors')}: model.pack: {tmp_path / 'missing.safetensors'}: cannot read the file" in err


def test_check_config_lists_every_mistake(tmp_path, celldrift):
    """Issue 18: check-config stopped at the first mistake though its help says each. Four independent
    mistakes in four sections, each named at its line, exit 1."""
    config = tmp_path / "four.toml"
    text = (CONFIG.read_text().replace('dbc = "celldrift_pack.dbc"', f'dbc = "{ROOT / "firmware-samples" / "celldrift_pack.dbc"}"')
            .replace('pack = "models/', f'pack = "{ROOT / "firmware-samples" / "models"}/')
            .replace("cell_temperature = ", "cell_temprature = ").replace("stale_after_s = 5", "stale_after_s = -5")
            .replace("window = 60", "window = 1").replace("severity = 2", "severity = 7"))
    config.write_text(text)
    lines = text.splitlines()

    def line_of(fragment):
        return next(number for number, line in enumerate(lines, 1) if fragment in line)
    _, err = run("check-config", config, check=False)
    mistakes = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert mistakes == [
        f"Error: {config}:{line_of('cell_temprature')}: pack.cell_temprature: unknown key" + mistakes[0].split("unknown key", 1)[1],
        f"Error: {config}:{line_of('stale_after_s')}: snapshot.stale_after_s: must be above 0",
        f"Error: {config}:{line_of('window = 1')}: features.window: must be a whole number from 2 to 10000",
        f"Error: {config}:{line_of('severity = 7')}: rules.cell_spread.severity: must be a whole number from 0 to 3",
    ], err


def test_check_config_and_replay_warn_of_a_balancing_flag_left_unmapped(tmp_path, celldrift):
    """foxBMS's DBC has the string's balancing flag (IsBalancingActive): a config that leaves it out is
    warned of at its [pack] line by check-config and replay, naming the signals; still OK. The shipped one
    maps it and is not."""
    shipped = ROOT / "firmware-samples" / "foxbms.toml"
    config = tmp_path / "foxbms.toml"
    text = shipped.read_text().replace('dbc = "foxbms.dbc"', f'dbc = "{ROOT / "firmware-samples" / "foxbms.dbc"}"')
    lines = [line for line in text.splitlines() if not line.startswith("balancing = ")]
    assert len(lines) == len(text.splitlines()) - 1
    config.write_text("\n".join(lines) + "\n")
    pack_line = lines.index("[pack]") + 1
    for command in (["check-config", config], ["replay", "--config", config]):
        out, err = run(*command)
        warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
        assert len(warnings) == 1 and "OK" in out, (out, err)
        assert warnings[0].startswith(f"warning: {config}:{pack_line}: pack.balancing: not mapped, and "), warnings
        assert "IsBalancingActive" in warnings[0] and "docs/mapping.md" in warnings[0]
    _, err = run("check-config", shipped)
    assert "warning" not in err, err


def test_features_out_match_numpy_on_the_decoded_log(tmp_path, celldrift):
    import collections
    import csv

    import numpy as np

    sample = SAMPLES / "sensor-offset.log.gz"
    run("replay", "--config", CONFIG, "--db", tmp_path / "o.db", "--features-out", tmp_path / "f.jsonl", sample)
    run("replay", "--config", CONFIG, "--db", tmp_path / "p.db", "--features-out", tmp_path / "f.csv", sample)
    rows = json_lines((tmp_path / "f.jsonl").read_text())
    table = list(csv.DictReader((tmp_path / "f.csv").read_text().splitlines()))
    assert len(rows) == len(table) == 900 and len(table[0]) == 11 + 5 * 96
    decoded, _ = run("decode", "--dbc", ROOT / "firmware-samples" / "celldrift_pack.dbc", sample)
    seconds = collections.defaultdict(dict)
    for frame in json_lines(decoded):
        if frame["name"] == "CellVoltages":
            seconds[int(frame["t"])].update(frame["signals"])
    for row, csv_row in zip(rows, table):
        cells = seconds[int(row["ts"])]
        v = np.array([cells[f"CellVoltage_{i:03d}"] for i in range(96)]) / 1000
        median = np.median(v)
        assert np.isclose(row["spread"], v.max() - v.min(), rtol=1e-9, atol=1e-12)
        assert np.isclose(row["std"], v.std(), rtol=1e-9, atol=1e-15)
        assert np.allclose(row["deviation"], v - median, rtol=1e-9, atol=1e-12)
        assert float(csv_row["spread"]) == row["spread"] and float(csv_row["deviation_93"]) == row["deviation"][93]


@pytest.mark.parametrize("fault", ["healthy", "micro-short", "hot-spot"])
def test_json_snapshots_are_the_second_input(tmp_path, celldrift, fault):
    source = tmp_path / "snapshots.jsonl"
    import gzip

    lines = gzip.open(SAMPLES / f"{fault}.snapshots.jsonl.gz", "rt").read().splitlines()
    source.write_text("\n".join(lines[:40] + ['{"ts": "not a time"}'] + lines[40:]) + "\n")
    out, err = run("replay", "--config", CONFIG, "--db", tmp_path / "o.db", "--json", source)
    summary = json.loads(out)
    assert summary["snapshots"] == len(lines) and summary["bad_lines"] == 1
    assert f"{source}:41: field \"ts\" is missing or not a number; line skipped" in err
    alarms = json_lines(run("outbox", "export", "--db", tmp_path / "o.db")[0])
    label = LABELS[fault]
    if label["rule_first_fired"] is None:
        assert alarms == []
    else:
        assert [alarm["cell"] for alarm in alarms
                if alarm["kind"] == "cell_spread" and alarm["payload"]["transition"] == "raised"] == [label["cell"]]


def test_shipped_mappings_load(celldrift):
    for config in sorted((ROOT / "firmware-samples").glob("*.toml")):
        out, _ = run("replay", "--config", config)
        assert "OK:" in out and "cells" in out


def test_tesla_mapping_finds_a_low_cell(tmp_path, celldrift):
    """Frames of the Tesla DBC's multiplexed 0x401, made by `celldrift encode`: cell 41 sits 60 mV low."""
    dbc = ROOT / "firmware-samples" / "tesla_model3.dbc"
    requests = []
    for second in range(30):
        for page in range(32):
            cells = {f"Cell{3 * page + k}": (3.700 if 3 * page + k != 41 else 3.640) for k in range(3)}
            requests.append(json.dumps({"name": "ID401CellVoltages", "t": 1_700_000_000 + second + page / 40,
                                        "signals": {"MultiplexSelector": page, "StatusFlags": 0, **cells}}))
    log, _ = run("encode", "--dbc", dbc, stdin="\n".join(requests) + "\n")
    (tmp_path / "tesla.log").write_text(log)
    out, _ = run("replay", "--config", ROOT / "firmware-samples" / "tesla_model3.toml", "--db", tmp_path / "o.db",
                 "--json", tmp_path / "tesla.log")
    summary = json.loads(out)
    assert summary["frames"] == 30 * 32 and summary["snapshots"] == 30 and summary["incomplete_snapshots"] == 0
    alarms = json_lines(run("outbox", "export", "--db", tmp_path / "o.db")[0])
    assert len(alarms) == 1 and alarms[0]["cell"] == 41 and alarms[0]["kind"] == "cell_spread"
    assert abs(alarms[0]["payload"]["spread_v"] - 0.060) < 1e-6


def test_daily_table_of_a_replay(tmp_path, celldrift):
    import collections
    import csv

    import numpy as np

    sample = SAMPLES / "micro-short.log.gz"
    run("replay", "--config", CONFIG, "--db", tmp_path / "o.db", "--daily-out", tmp_path / "daily.csv", sample)
    rows = list(csv.DictReader((tmp_path / "daily.csv").read_text().splitlines()))
    assert len(rows) == 1 and rows[0]["Date"] == "2026-01-11" and rows[0]["Label"] == "1.0"
    decoded, _ = run("decode", "--dbc", ROOT / "firmware-samples" / "celldrift_pack.dbc", sample)
    seconds = collections.defaultdict(dict)
    for frame in json_lines(decoded):
        seconds[int(frame["t"])].update(frame["signals"])
    voltage = np.array([[s[f"CellVoltage_{i:03d}"] for i in range(96)] for s in seconds.values()]) / 1000
    temperature = np.array([[s[f"CellTemperature_{i:03d}"] for i in range(96)] for s in seconds.values()])
    # The pack values are sent ten times a second; a snapshot holds the last before it completes.
    assert np.isclose(float(rows[0]["CellMaxVoltage"]), voltage.max(axis=1).mean(), rtol=1e-12)
    assert np.isclose(float(rows[0]["CellMinVoltage"]), voltage.min(axis=1).mean(), rtol=1e-12)
    assert np.isclose(float(rows[0]["MaxTemperature"]), temperature.max(axis=1).mean(), rtol=1e-12)
    assert np.isclose(float(rows[0]["MinTemperature"]), temperature.min(axis=1).mean(), rtol=1e-12)
    assert 300 < float(rows[0]["TotalVoltage"]) < 420


def test_a_missing_log_is_named_once(tmp_path, celldrift):
    """Issue 18: a missing log printed its path twice."""
    missing = tmp_path / "missing.log"
    _, err = run("replay", "--config", ROOT / "firmware-samples" / "celldrift_pack.toml", missing, "--db", tmp_path / "o.db", check=False)
    assert f"error: {missing}: cannot open: No such file or directory" in err, err
    assert err.count(str(missing)) == 1, err


def test_a_log_replayed_twice_stores_each_alarm_once(tmp_path, celldrift):
    """Alarm ids come from the vehicle, kind, cell and event time: a second replay of the same log into
    the same outbox adds nothing, and a replay into another outbox gives the same ids (what lets the
    cloud drop a repeat)."""
    sample = SAMPLES / "resistance-growth.log.gz"
    for database in ("a.db", "a.db", "b.db"):
        run("replay", "--config", RULES_CONFIG, "--db", tmp_path / database, sample)
    first = json_lines(run("outbox", "export", "--db", tmp_path / "a.db")[0])
    second = json_lines(run("outbox", "export", "--db", tmp_path / "b.db")[0])
    assert len(first) >= 2 and len({record["id"] for record in first}) == len(first)
    assert [record["id"] for record in first] == [record["id"] for record in second]
    # `outbox list` names the cell as the DBC does, with the transition.
    listed = run("outbox", "list", "--db", tmp_path / "a.db")[0]
    cell = next(record["cell"] for record in first if record["kind"] == "cell_spread")
    assert f"cell {cell} (CellVoltage_{cell:03d})  raised" in listed


def test_standard_input_is_replayed_whole(tmp_path, celldrift):
    """`... | celldrift replay -` (issue 18): the look at the first line for snapshots once swallowed the
    first 128 KiB of standard input (1,000 lines in: 0 frames). Both inputs, CAN log and JSON snapshots,
    give through a pipe what they give from the file."""
    for sample in (SAMPLES / "micro-short.log.gz", SAMPLES / "micro-short.snapshots.jsonl.gz"):
        from_file = json.loads(run("replay", "--config", CONFIG, "--db", tmp_path / "f.db", "--json", sample)[0])
        text = gzip.open(sample, "rt").read()
        assert len(text) > 1 << 17
        from_pipe = json.loads(run("replay", "--config", CONFIG, "--db", tmp_path / "p.db", "--json", "-", stdin=text)[0])
        for key in ("frames", "snapshots", "bad_lines", "alarms"):
            assert from_pipe[key] == from_file[key], (sample.name, key, from_pipe[key], from_file[key])


COLD_CRAWL = ROOT / "Tests" / "fixtures" / "cold-crawl"


def test_a_cold_cells_kinetics_in_a_crawl_after_a_drive_is_no_resistance_rise(tmp_path, celldrift):
    """A PyBaMM LFP pack at 2 °C (heldout-lfp-cold-nights' 003, its first half hour and its second day's
    first 55 minutes): cell 4 (Cell05_Voltage) has the slowest electrode, 15-17 % over the median cell in
    every crawl of 0-4 A and a few percent in a drive. In the crawl after the second morning's drive it was
    raised as a resistance rise (21 % at confidence 1.07) while its difference had not moved; the pack is
    healthy over these hours (its leak on cell 9 is far under anything a pair of readings can see)."""
    database = tmp_path / "outbox.db"
    out, _ = run("replay", "--config", COLD_CRAWL / "pack.toml", "--db", database, "--json", COLD_CRAWL / "pack.log.gz")
    summary = json.loads(out)
    assert summary["frames"] == 35700 and summary["bad_lines"] == 0 and summary["snapshots"] == 5100
    exported, _ = run("outbox", "export", "--db", database)
    raised = [record for record in json_lines(exported) if record.get("type") == "alarm"]
    assert raised == [], [(record["kind"], record.get("cell")) for record in raised]
