"""celldrift replay on the simulator's samples: the rule alarm fires on every faulty sample, at the
labelled cell and within seconds of the labelled time, and never on the healthy one; alarms land in the
SQLite outbox; config mistakes are reported with their line."""
import calendar
import json
import time

import pytest

from conftest import ROOT, json_lines, run

SAMPLES = ROOT / "firmware-samples" / "simulated"
CONFIG = ROOT / "firmware-samples" / "celldrift_pack.toml"
LABELS = {label["fault"]: label for label in json.loads((SAMPLES / "labels.json").read_text())}


def epoch(iso):
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


@pytest.mark.parametrize("fault", sorted(LABELS))
def test_rule_alarm_fires_at_the_labelled_cell(tmp_path, celldrift, fault):
    database = tmp_path / "outbox.db"
    out, _ = run("replay", "--config", CONFIG, "--db", database, "--json", SAMPLES / f"{fault}.log.gz")
    summary = json.loads(out)
    assert summary["frames"] == 61200 and summary["bad_lines"] == 0
    assert summary["snapshots"] == 900 and summary["incomplete_snapshots"] == 0
    exported, _ = run("outbox", "export", "--db", database)
    alarms = json_lines(exported)
    label = LABELS[fault]
    if label["rule_first_fired"] is None:
        assert alarms == [] and summary["alarms"] == {}
        return
    assert summary["alarms"] == {"cell_spread": len(alarms)} and len(alarms) >= 1
    first = alarms[0]
    assert first["cell"] == label["cell"] == label["rule_cell"]
    # Both rules see the same 1 mV readings; the replay's snapshot completes when the last cell page of
    # that second arrives (0.88 s in), so the alarm is stamped within the labelled second.
    assert 0 <= first["event_time"] - epoch(label["rule_first_fired"]) < 1
    assert first["payload"]["spread_v"] > 0.050 and first["state"] == "pending"


def test_config_mistakes_name_their_line(tmp_path, celldrift):
    config = tmp_path / "bad.toml"
    text = CONFIG.read_text().replace('cell_voltage = "CellVoltage_{index:03}"', 'cell_voltage = "Voltage_{index}"')
    config.write_text(text.replace('dbc = "celldrift_pack.dbc"', f'dbc = "{ROOT / "firmware-samples" / "celldrift_pack.dbc"}"'))
    _, err = run("replay", "--config", config, "--db", tmp_path / "o.db", SAMPLES / "healthy.log.gz", check=False)
    assert f"{config}:6: pack.cell_voltage: the DBC has no signal Voltage_0" in err
    config.write_text(CONFIG.read_text().replace("window = 60", "window = sixty"))
    _, err = run("replay", "--config", config, "--db", tmp_path / "o.db", SAMPLES / "healthy.log.gz", check=False)
    assert f"{config}:20:10: 'sixty' is not a string, number, boolean, array or table" in err
