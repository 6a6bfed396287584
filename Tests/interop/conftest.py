"""Shared helpers: the celldrift binary under test and the reference peers' view of a DBC."""
import json
import os
import pathlib
import re
import subprocess
import sys

import cantools
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The shipped copies of ../shared/data (logs, seed): a clone anywhere tests the same files.
SHIPPED = ROOT / "firmware-samples"
CELLDRIFT = str((ROOT / os.environ.get("CELLDRIFT", ".build/debug/celldrift")).resolve())
# The release build, for the runs too long for the debug one (a simulated day, a Spark job).
RELEASE = str((ROOT / os.environ.get("CELLDRIFT_RELEASE", ".build/release/celldrift")).resolve())
FLEET_GENERATOR = ROOT / "scripts" / "fleet" / "generate.py"


def run(*args, stdin=None, check=True):
    """Runs celldrift; returns (stdout, stderr)."""
    result = subprocess.run([CELLDRIFT, *map(str, args)], input=stdin, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"celldrift {' '.join(map(str, args))} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout, result.stderr


def generate_fleet(out, *args, split="ci", timeout=900):
    """The independent physics fleet's `split` generated into `out` (scripts/fleet/generate.py with `args`):
    its labels."""
    result = subprocess.run([sys.executable, str(FLEET_GENERATOR), "--split", split, "--out", str(out), *map(str, args)],
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads((pathlib.Path(out) / "labels.json").read_text())


def with_cell_alarms(folder, labels, timeout=600):
    """Each generated vehicle in `folder` replayed with its own config by the release build into its own
    outbox: every label gets `alarms`, its cell alarms (not the rule's) read back with the sqlite3 CLI in
    time order. Returns the labels."""
    folder = pathlib.Path(folder)
    for label in labels:
        database = folder / f"{label['vehicle']}.db"
        subprocess.run([RELEASE, "replay", "--config", str(folder / label["config"]), "--db", str(database), "--quiet",
                        str(folder / label["log"])], check=True, capture_output=True, timeout=timeout)
        rows = subprocess.run(["sqlite3", "-json", str(database), "SELECT cell, kind, event_time, payload FROM records "
                               "WHERE type = 'alarm' AND kind LIKE 'cell_%' AND kind != 'cell_spread' ORDER BY event_time"],
                              capture_output=True, text=True, check=True, timeout=60).stdout
        label["alarms"] = json.loads(rows or "[]")
    return labels


def absolute_config(folder, extra="", source="celldrift_pack.toml"):
    """The shipped simulator config (or `source`, e.g. celldrift_pack_rules.toml with the rules in amperes
    and the cell-drift model) in `folder` as daemon.toml, its DBC and model paths made absolute, with
    `extra` TOML appended."""
    shipped = ROOT / "firmware-samples"
    config = pathlib.Path(folder) / "daemon.toml"
    config.write_text((shipped / source).read_text()
                      .replace('dbc = "celldrift_pack.dbc"', f'dbc = "{shipped / "celldrift_pack.dbc"}"')
                      .replace('pack = "models/', f'pack = "{shipped / "models"}/')
                      .replace('cell = "models/', f'cell = "{shipped / "models"}/') + extra)
    return config


def daemon_summary(err):
    """The daemon's last log line: its counts as JSON after the level (`notice: {...}`)."""
    line = err.strip().splitlines()[-1]
    assert line.startswith("notice: {"), line
    return json.loads(line[line.index("{"):])


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_reference(path):
    """cantools' view of a DBC. cantools needs BS_/BU_ lines (the Kona DBC has none) and refuses the
    Tesla DBC in strict mode (two messages have a signal past their length), so both get lenient handling."""
    text = pathlib.Path(path).read_text(encoding="utf-8")
    if "\nBU_:" not in text and not text.startswith("BU_:"):
        first_message = text.index("\nBO_ ") + 1
        text = text[:first_message] + "BS_:\n\nBU_:\n\n" + text[first_message:]
    try:
        database = cantools.database.load_string(text, "dbc", strict=True)
    except cantools.database.errors.Error:
        database = cantools.database.load_string(text, "dbc", strict=False)
    repair_long_multiplexer_names(database)
    return database


def repair_long_multiplexer_names(database):
    """cantools 45 renames a multiplexer to its SystemSignalLongSymbol but leaves its dependents pointing at
    the 32-character short name, so it decodes none of their pages (Tesla 0x201 and others). Point them
    at the long name, as the DBC means, so the comparison is against correct reference values."""
    for message in database.messages:
        names = {signal.name for signal in message.signals}
        changed = False
        for signal in message.signals:
            parent = signal.multiplexer_signal
            if parent and parent not in names:
                matches = [name for name in names if name.startswith(parent) and len(parent) == 32]
                assert len(matches) == 1, (message.name, signal.name, parent)
                signal.multiplexer_signal = matches[0]
                changed = True
        if changed:
            message.refresh()


@pytest.fixture(scope="session")
def celldrift():
    assert os.access(CELLDRIFT, os.X_OK), f"build celldrift first: {CELLDRIFT}"
    return CELLDRIFT


def api_port(daemon):
    """The port the daemon's API says it listens on, from its stderr: lines before it (a config's warnings)
    are read past, at most 50."""
    for _ in range(50):
        line = daemon.stderr.readline()
        found = re.search(r"api: listening on http://127.0.0.1:(\d+)", line)
        if found or not line:
            break
    assert found, f"the daemon did not say where its API listens: {line!r}"
    return found.group(1)
