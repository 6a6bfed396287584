"""Issue 17: the fleet replay on a real local Spark (pyspark from PyPI, Java 17) gives what `celldrift
replay --jobs 2` gives on one machine: the same alarm ids, daily rows and per-cell rows; a corrupt log
fails its own row, not the job; the pack model trains on the fleet's daily table."""
import csv
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

import pytest
from pyspark.sql import SparkSession

from conftest import RELEASE, ROOT, json_lines, run

JOB = ROOT / "spark" / "celldrift_fleet.py"
SERIES_TO_CSV = ROOT / "spark" / "series_to_csv.py"
RULES_CONFIG = ROOT / "firmware-samples" / "celldrift_pack_rules.toml"
# The shipped config: the BMS's 50 mV rule (the seed's Label) and the per-cell detectors.
SHIPPED_CONFIG = ROOT / "firmware-samples" / "celldrift_pack.toml"
SAMPLES = ROOT / "firmware-samples" / "simulated"


def spark_submit(*args):
    """The job through spark-submit on local[2], with this venv's Python on both sides; the driver's
    temporary folders in a fresh one, which must be empty of the job's staging folder afterwards."""
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable, TMPDIR=scratch)
        submit = pathlib.Path(sys.executable).parent / "spark-submit"
        result = subprocess.run([str(submit), "--master", "local[2]", "--conf", "spark.ui.enabled=false", str(JOB), *map(str, args)],
                                capture_output=True, text=True, env=env, timeout=1200)
        assert result.returncode == 0, result.stderr[-4000:]
        left = [path.name for path in pathlib.Path(scratch).glob("celldrift-bundle-*")]
        assert not left, f"the job left its staging folder (a copy of the binary): {left}"
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def spark():
    session = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    yield session
    session.stop()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Tens of vehicles: a simulated fleet's candump logs, the shipped samples (gzipped, six with alarms),
    one of them as a BLF, and a corrupt log."""
    folder = tmp_path_factory.mktemp("fleet")
    subprocess.run([RELEASE, "simulate", "--vehicles", "20", "--days", "1", "--candump", "--log-hours", "0.25", "--seed", "17",
                    "--out", folder / "sim"], check=True, capture_output=True)
    logs = folder / "logs"
    logs.mkdir()
    for log in (folder / "sim").glob("*.log"):
        shutil.move(log, logs / log.name)
    for sample in SAMPLES.glob("*.log.gz"):
        shutil.copy(sample, logs / sample.name)
    subprocess.run([RELEASE, "convert", "--to", "blf", "-o", logs / "hot-spot-twin.blf", SAMPLES / "hot-spot.log.gz"],
                   check=True, capture_output=True)
    (logs / "BROKEN.log").write_bytes(b"\x00\x01 this is no CAN log \xff" * 200)
    return logs


def test_spark_replay_equals_replay_jobs_2(tmp_path, celldrift, spark, fleet):
    out = tmp_path / "parquet"
    summary = spark_submit("--logs", fleet, "--config", RULES_CONFIG, "--binary", RELEASE, "--out", out)
    logs = sorted(fleet.iterdir())
    assert summary["logs"] == len(logs) == 29 and summary["failed_logs"] == 1

    # The same logs on one machine.
    database = tmp_path / "reference.db"
    result = subprocess.run([RELEASE, "replay", "--config", RULES_CONFIG, "--db", database, "--jobs", "2", "--json", "--quiet",
                             "--daily-out", tmp_path / "daily.csv", "--cells-out", tmp_path / "cells.csv", *logs],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "BROKEN.log" in result.stderr  # the corrupt log, named
    reference = [record for record in json_lines(run("outbox", "export", "--db", database)[0]) if record["type"] != "inference"]
    assert len(reference) >= 6

    alarms = spark.read.parquet(str(out / "alarms")).collect()
    assert sorted((a.id, a.vehicle, a.kind, a.cell, a.event_time, a.transition) for a in alarms) == \
        sorted((r["id"], r["vehicle"], r["kind"], r["cell"], r["event_time"], r["payload"]["transition"]) for r in reference)
    # Partitioned by date, as Athena reads it.
    assert {path.name for path in (out / "alarms").iterdir() if path.is_dir()} == \
        {f"date={a.date}" for a in alarms}

    def same_rows(parquet, csv_path, key_columns):
        theirs = spark.read.parquet(str(parquet)).collect()
        with open(csv_path) as text:
            ours = list(csv.DictReader(text))
        assert len(theirs) == len(ours) > 0
        spark_rows = {tuple(str(row[k]) for k in key_columns): row.asDict() for row in theirs}
        for row in ours:
            other = spark_rows[tuple(row[k] for k in key_columns)]
            for column, value in row.items():
                if column in key_columns:
                    continue
                expected = float(value)
                got = other[column]
                assert (math.isnan(expected) and math.isnan(got)) or got == expected, (column, row, other)

    same_rows(out / "series_samples", tmp_path / "daily.csv", ("VIN", "Date"))
    same_rows(out / "cells", tmp_path / "cells.csv", ("vehicle", "date", "cell_number", "cell_name"))

    # A task run again gives the same rows: the whole job again, into another folder.
    again = tmp_path / "again"
    spark_submit("--logs", fleet, "--config", RULES_CONFIG, "--binary", RELEASE, "--out", again)
    assert sorted(spark.read.parquet(str(again / "alarms")).collect()) == sorted(alarms)
    # (compared as text: NaN, the resistance ratio not yet learned, equals nothing)
    assert sorted(map(str, spark.read.parquet(str(again / "cells")).collect())) == \
        sorted(map(str, spark.read.parquet(str(out / "cells")).collect()))

    replays = {row.log.split("/")[-1]: row for row in spark.read.parquet(str(out / "replays")).collect()}
    assert "not a CAN log" in replays["BROKEN.log"].error
    assert all(row.error is None for name, row in replays.items() if name != "BROKEN.log")
    assert replays["hot-spot-twin.blf"].frames == replays["hot-spot.log.gz"].frames == 61200


def test_the_pack_model_trains_on_the_fleet_daily_table(tmp_path, celldrift, spark):
    """The seed's whole loop on the fleet: logs -> Spark -> series_samples -> the seed's CSV -> `celldrift
    train pack`. A fleet keeps a log per vehicle and day (here the simulator's JSON snapshots, 30 days of
    8 vehicles, cut into days: `<VIN>.<date>.snapshots.jsonl`); each is one replay and one daily row."""
    simulated = tmp_path / "sim"
    subprocess.run([RELEASE, "simulate", "--vehicles", "8", "--days", "30", "--fault", "micro-short", "--fault-share", "0.5", "--snapshots",
                    "--snapshot-interval", "600", "--seed", "29", "--out", simulated], check=True, capture_output=True)
    logs = tmp_path / "logs"
    logs.mkdir()
    for log in simulated.glob("*.snapshots.jsonl"):
        days = {}
        for line in log.read_text().splitlines():
            day = json.loads(line)["ts"] // 86_400
            days.setdefault(day, []).append(line)
        for day, lines in days.items():
            date = datetime.fromtimestamp(day * 86_400, timezone.utc).date().isoformat()
            (logs / f"{log.name.split('.')[0]}.{date}.snapshots.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "parquet"
    summary = spark_submit("--logs", logs, "--config", SHIPPED_CONFIG, "--binary", RELEASE, "--out", out)
    assert summary["logs"] == 8 * 30 and summary["failed_logs"] == 0
    table = tmp_path / "series_samples.csv"
    subprocess.run([sys.executable, SERIES_TO_CSV, out / "series_samples", table], check=True, capture_output=True,
                   env=dict(os.environ, PYSPARK_PYTHON=sys.executable))
    with open(table) as text:
        rows = list(csv.DictReader(text))
    assert list(rows[0]) == ["VIN", "Date", "TotalVoltage", "TotalCurrent", "CellMaxVoltage", "CellMinVoltage", "MaxTemperature",
                             "MinTemperature", "Label"]
    assert len({row["VIN"] for row in rows}) == 8 and len(rows) == 8 * 30
    # Alarm days on every faulty vehicle the simulator labelled, none on the healthy ones (the leak test
    # fitting rests through two or three 10-minute snapshots raised a leak on one: docs/spark.md).
    faulty = {label["vehicle"] for label in json.loads((simulated / "labels.json").read_text()) if label["fault"] != "healthy"}
    assert 0 < len(faulty) < 8
    alarm_days = [row["VIN"] for row in rows if row["Label"] == "1.0"]
    assert set(alarm_days) == faulty
    model = tmp_path / "pack-model.safetensors"
    out_text, err = run("train", "pack", "--data", table, "--split", "vehicle", "--output", model)
    assert model.stat().st_size > 1000 and "24 windows" in out_text + err  # 8 vehicles x (30 - 27) days
    # And evaluated (a fleet this small says nothing of the model's quality; the loop is what is checked).
    evaluation = json.loads(run("evaluate", "pack", "--data", table, "--json")[0])
    assert evaluation["random_int8"]["windows"] > 0 and evaluation["vehicle_int8"]["windows"] > 0
