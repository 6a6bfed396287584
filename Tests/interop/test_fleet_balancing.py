"""PyBaMM packs whose BMS balances (scripts/fleet/balancing.py, the `ci-bleed` split): the generator's bleed
flags in the log are the bleeds it put into the physics, and celldrift reads them through the DBC the
generator wrote, names the leak at its cell and nothing on the healthy pack."""
import json
import subprocess
import sys

import can
import cantools
import numpy as np
import pytest

from conftest import RELEASE, ROOT

GENERATOR = ROOT / "scripts" / "fleet" / "generate.py"


@pytest.fixture(scope="module")
def balanced(tmp_path_factory):
    """A healthy and a leaking 12-cell NMC pack (Chen2020), three days through the nights, each replayed
    with the release build into its own outbox: the labels, each with its cell alarms (sqlite3 CLI)."""
    out = tmp_path_factory.mktemp("balanced")
    result = subprocess.run([sys.executable, str(GENERATOR), "--split", "ci-bleed", "--out", str(out), "--jobs", "2"],
                            capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stderr[-4000:]
    labels = json.loads((out / "labels.json").read_text())
    for label in labels:
        database = out / f"{label['vehicle']}.db"
        subprocess.run([RELEASE, "replay", "--config", str(out / label["config"]), "--db", str(database), "--quiet",
                        str(out / label["log"])], check=True, capture_output=True, timeout=900)
        rows = subprocess.run(["sqlite3", "-json", str(database), "SELECT cell, kind, event_time, payload FROM records "
                               "WHERE type = 'alarm' AND kind LIKE 'cell_%' AND kind != 'cell_spread' ORDER BY event_time"],
                              capture_output=True, text=True, check=True, timeout=60).stdout
        label["alarms"] = json.loads(rows or "[]")
    return out, labels


def test_the_logged_bleed_flags_are_the_bleeds_the_cells_were_given(balanced):
    """Decoded with cantools from the candump log (python-can reads it), each cell's flagged seconds times
    the mapped bleed current are the charge the label says it bled, within a minute's bleed; the pack's
    flag is set exactly when a cell's is; the leaking cell, always the lowest, is never bled."""
    out, labels = balanced
    for label in labels:
        database = cantools.database.load_file(str(out / label["dbc"]))
        message = database.get_message_by_name("BMS_Balancing")
        config = (out / label["config"]).read_text()
        pattern = config.split('cell_balancing = "')[1].split('"')[0]
        base = int(config.split("cell_balancing_index_base = ")[1].split()[0])
        current = float(config.split("balancing_current_a = ")[1].split()[0])
        active = config.split('\nbalancing = "')[1].split('"')[0]
        seconds = np.zeros(label["cells"])
        for frame in can.CanutilsLogReader(str(out / label["log"])):
            if frame.arbitration_id != message.frame_id:
                continue
            values = database.decode_message(frame.arbitration_id, frame.data)
            flags = np.array([values[pattern.format(index=cell + base)] for cell in range(label["cells"])])
            assert values[active] == int(flags.any())
            seconds += flags
        bled = seconds * current / 3600
        assert np.allclose(bled, label["balancing"]["bled_ah"], atol=current * 60 / 3600 + 1e-4)
        assert label["balancing"]["bleeds"] > 0 and max(bled) > 0
        if label["fault"] == "micro-short":
            assert bled[label["cell"]] == 0


def test_the_leak_is_named_at_its_cell_and_the_healthy_pack_raises_nothing(balanced):
    """The BMS keeps the pack within a few tens of millivolts (the rule never fires on either), yet the
    leak (C/1,000-C/2,000) is named at its cell by its DBC name; every cell alarm on that pack names it,
    and the healthy pack beside it, bled as much, raises none."""
    _, labels = balanced
    healthy = next(label for label in labels if label["fault"] == "healthy")
    leaking = next(label for label in labels if label["fault"] == "micro-short")
    assert healthy["rule_first_fired_s"] is None and leaking["rule_first_fired_s"] is None
    assert healthy["alarms"] == []
    assert leaking["alarms"] and {row["cell"] for row in leaking["alarms"]} == {leaking["cell"]}
    first = json.loads(leaking["alarms"][0]["payload"])
    assert leaking["alarms"][0]["kind"] == "cell_leak" and first["cell_name"] == leaking["cell_name"]
    assert leaking["alarms"][0]["event_time"] > leaking["onset_time"]
