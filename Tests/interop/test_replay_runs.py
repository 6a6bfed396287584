"""How a replay runs: several logs at once (--jobs) give what one at a time gives; --realtime keeps
event time to the wall clock; a progress bar only on a terminal; the self-discharge rule on days of rest."""
import hashlib
import json
import os
import pty
import subprocess
import time

from conftest import CELLDRIFT, ROOT, json_lines, run

SAMPLES = ROOT / "firmware-samples" / "simulated"
CONFIG = ROOT / "firmware-samples" / "celldrift_pack.toml"
LOGS = [SAMPLES / f"{name}.log.gz" for name in ("healthy", "micro-short", "resistance-growth", "hot-spot")]


def alarms_of(database):
    records = json_lines(run("outbox", "export", "--db", database)[0])
    return sorted((r["vehicle"], r["kind"], r["cell"], r["event_time"], json.dumps(r["payload"], sort_keys=True)) for r in records)


def test_jobs_give_what_one_job_gives(tmp_path, celldrift):
    results = {}
    for jobs in (1, 3):
        folder = tmp_path / f"jobs{jobs}"
        folder.mkdir()
        out, _ = run("replay", "--config", CONFIG, "--db", folder / "o.db", "--json", "--jobs", jobs,
                     "--features-out", folder / "f.csv", "--daily-out", folder / "daily.csv", *LOGS)
        summary = json.loads(out)
        features = (folder / "f.csv").read_text()
        assert features.count("vehicle,ts,") == 1 and len(features.splitlines()) == 1 + 4 * 900
        # Compared by digest: a failing comparison of two 28 MB texts would have pytest diff them for minutes.
        results[jobs] = (summary, alarms_of(folder / "o.db"), hashlib.sha256(features.encode()).hexdigest(),
                         (folder / "daily.csv").read_text())
        assert not list(folder.glob("*.part*"))
    (one, alarms_one, features_one, daily_one), (three, alarms_three, features_three, daily_three) = results[1], results[3]
    for key in ("frames", "snapshots", "bad_lines", "alarms"):
        assert one[key] == three[key]
    assert one["frames"] == 4 * 61200 and len(alarms_one) >= 4
    assert alarms_one == alarms_three
    # Outputs keep the order of the logs, one header.
    assert features_one == features_three and daily_one == daily_three
    assert [line.split(",")[0] for line in daily_one.splitlines()[1:]] == ["healthy", "micro-short", "resistance-growth", "hot-spot"]


def test_realtime_follows_event_time(tmp_path, celldrift):
    snapshots = [json.dumps({"ts": 1_700_000_000 + 0.5 * i, "cell_voltages": [3.7, 3.7, 3.7]}) for i in range(7)]
    source = tmp_path / "s.jsonl"
    source.write_text("\n".join(snapshots) + "\n")
    config = tmp_path / "three.toml"
    config.write_text(CONFIG.read_text().replace('dbc = "celldrift_pack.dbc"', f'dbc = "{CONFIG.parent / "celldrift_pack.dbc"}"')
                      .replace("cells = 96", "cells = 3").replace('pack = "models/', f'pack = "{CONFIG.parent / "models"}/')
                      .replace('cell = "models/', f'cell = "{CONFIG.parent / "models"}/'))
    started = time.monotonic()
    out, _ = run("replay", "--config", config, "--db", tmp_path / "o.db", "--json", source)
    fast = time.monotonic() - started
    started = time.monotonic()
    out, _ = run("replay", "--config", config, "--db", tmp_path / "o.db", "--json", "--realtime", source)
    paced = time.monotonic() - started
    assert json.loads(out)["snapshots"] == 7
    # Six half-second steps of event time: three seconds on the wall clock, not the fraction of one unpaced.
    assert 2.9 < paced < 6 and fast < 2.5


def test_progress_bar_only_on_a_terminal(tmp_path, celldrift):
    args = [CELLDRIFT, "replay", "--config", str(CONFIG), "--db", str(tmp_path / "o.db"), *map(str, LOGS[:2])]
    plain = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert plain.returncode == 0 and "\r[" not in plain.stderr
    controller, terminal = pty.openpty()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    process.wait(timeout=300)
    os.close(controller)
    assert process.returncode == 0
    assert b"\r[##############################] 100%  122400 frames" in shown
    assert b"--quiet" not in shown


def test_self_discharge_rule_on_days_of_rest(tmp_path, celldrift):
    """Three simulated days, a micro-short in one pack: the lowest cell falls further while the pack
    rests, at the labelled cell, before the 50 mV spread rule has fired; the healthy pack never."""
    run("simulate", "--vehicles", 2, "--fault", "micro-short", "--fault-share", 0.5, "--days", 3,
        "--snapshots", "--snapshot-interval", 60, "--out", tmp_path)
    labels = {label["vehicle"]: label for label in json.loads((tmp_path / "labels.json").read_text())}
    for vehicle, label in labels.items():
        database = tmp_path / f"{vehicle}.db"
        run("replay", "--config", ROOT / "firmware-samples" / "celldrift_pack_rules.toml", "--db", database, tmp_path / f"{vehicle}.snapshots.jsonl")
        alarms = [r for r in json_lines(run("outbox", "export", "--db", database)[0])
                  if r["kind"] == "self_discharge" and r["payload"]["transition"] == "raised"]
        if label["fault"] == "healthy":
            assert alarms == []
        else:
            assert label["rule_first_fired"] is None and alarms
            assert {alarm["cell"] for alarm in alarms} == {label["cell"]}
            assert all(alarm["payload"]["value"] > 0.0003 for alarm in alarms)
