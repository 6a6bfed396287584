"""PyBaMM packs whose BMS balances (scripts/fleet/balancing.py, the `ci-bleed` split): the generator's bleed
flags in the log are the bleeds it put into the physics, and celldrift reads them through the DBC the
generator wrote, names the leak at its cell and nothing on the healthy pack."""
import json
import tomllib

import can
import cantools
import numpy as np
import pytest

from conftest import generate_fleet, with_cell_alarms


@pytest.fixture(scope="module")
def balanced(tmp_path_factory):
    """A healthy and a leaking 12-cell NMC pack (Chen2020), three days through the nights, each replayed
    with the release build into its own outbox: the labels, each with its cell alarms (sqlite3 CLI)."""
    out = tmp_path_factory.mktemp("balanced")
    return out, with_cell_alarms(out, generate_fleet(out, "--jobs", 2, split="ci-bleed", timeout=1500), timeout=900)


def test_the_logged_bleed_flags_are_the_bleeds_the_cells_were_given(balanced):
    """Decoded with cantools from the candump log (python-can reads it), each cell's flagged seconds times
    the mapped bleed current are the charge the label says it bled, within a minute's bleed; the pack's
    flag is set exactly when a cell's is; the leaking cell, always the lowest, is never bled."""
    out, labels = balanced
    for label in labels:
        database = cantools.database.load_file(str(out / label["dbc"]))
        message = database.get_message_by_name("BMS_Balancing")
        pack = tomllib.loads((out / label["config"]).read_text())["pack"]
        pattern, base = pack["cell_balancing"], pack["cell_balancing_index_base"]
        current, active = pack["balancing_current_a"], pack["balancing"]
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
