"""Replays a fleet's CAN logs on Apache Spark: one `celldrift replay` per log (or per group of small logs),
on the executors, with the static release binary shipped to them; the rows come back to Spark, which
writes Parquet partitioned by date in the layout Athena and Spark SQL read (docs/spark.md).

    spark-submit spark/celldrift_fleet.py --logs 's3a://bucket/logs/2026-01-*/*.blf' \
        --config pack.toml --binary celldrift --out s3a://bucket/celldrift/

Tables under --out (the seed's names where it has them):
  alarms            every alarm transition (the outbox's records; deterministic ids), partitioned by date
  inference_events  the seed's stored inference event (request_id, vin, date, predicted_prob, 84 inputs)
  series_samples    the seed's daily table (VIN, Date, TotalVoltage ... Label), partitioned by Date
  cells             per vehicle, day and cell: deviation from the pack median, resistance ratio
  replays           per log: what the replay saw, or the error that stopped it (a log that cannot be
                    read fails its own row, not the job)
A retried task gives the same rows: the ids are deterministic and each replay starts from nothing."""
import argparse
import atexit
import csv
import io
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import tomllib

from pyspark import SparkFiles, StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import types as T

BUNDLE = "celldrift-bundle"

ALARMS = T.StructType([
    T.StructField("id", T.StringType(), False), T.StructField("vehicle", T.StringType(), False),
    T.StructField("type", T.StringType(), False), T.StructField("kind", T.StringType(), False),
    T.StructField("transition", T.StringType(), True), T.StructField("cell", T.IntegerType(), True),
    T.StructField("severity", T.IntegerType(), True), T.StructField("event_time", T.DoubleType(), False),
    T.StructField("payload", T.StringType(), False), T.StructField("log", T.StringType(), False),
    T.StructField("date", T.StringType(), False),
])
SERIES = ["VIN", "Date", "TotalVoltage", "TotalCurrent", "CellMaxVoltage", "CellMinVoltage", "MaxTemperature", "MinTemperature", "Label"]
SERIES_SAMPLES = T.StructType([T.StructField(name, T.StringType() if name in ("VIN", "Date") else T.DoubleType(), True) for name in SERIES])
CELLS = T.StructType([
    T.StructField("vehicle", T.StringType(), False), T.StructField("date", T.StringType(), False),
    T.StructField("cell_number", T.IntegerType(), False), T.StructField("cell_name", T.StringType(), False),
    T.StructField("snapshots", T.IntegerType(), False),
] + [T.StructField(name, T.DoubleType(), True) for name in
     ("mean_deviation_mv", "min_deviation_mv", "max_deviation_mv", "last_deviation_mv", "resistance_ratio")])
REPLAYS = T.StructType([
    T.StructField("log", T.StringType(), False), T.StructField("vehicle", T.StringType(), True),
    T.StructField("bytes", T.LongType(), False), T.StructField("frames", T.LongType(), True),
    T.StructField("snapshots", T.LongType(), True), T.StructField("bad_lines", T.LongType(), True),
    T.StructField("alarms", T.StringType(), True), T.StructField("seconds", T.DoubleType(), False),
    T.StructField("error", T.StringType(), True),
])


def number(text):
    return float("nan") if text in ("", "nan") else float(text)


def bundle(config, folder):
    """The config and the files it names (DBC, models), at the same relative paths, in one folder to ship."""
    config = pathlib.Path(config).resolve()
    settings = tomllib.loads(config.read_text())
    named = [settings.get("dbc")] + list((settings.get("model") or {}).values())
    for relative in [config.name] + [path for path in named if isinstance(path, str)]:
        if os.path.isabs(relative):
            raise SystemExit(f"{config}: {relative}: give the config's files relative to it, so they can be shipped with it")
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(config.parent / relative, target)
    return config.name


def replay_logs(files, config_name, binary_name):
    """Runs on an executor: each (path, bytes) through `celldrift replay` in a private folder; yields
    (table, row) pairs."""
    shipped = pathlib.Path(SparkFiles.get(BUNDLE))
    for path, content in files:
        work = pathlib.Path(tempfile.mkdtemp(prefix="celldrift-"))
        started = time.monotonic()
        try:
            yield from replay_one(path, content, work, shipped / config_name, shipped / binary_name)
        except Exception as error:  # noqa: BLE001 - whatever went wrong stays in this log's row
            yield "replays", (path, None, len(content), None, None, None, None, time.monotonic() - started, f"{type(error).__name__}: {error}")
        finally:
            shutil.rmtree(work, ignore_errors=True)


def replay_one(path, content, work, config, shipped_binary):
    started = time.monotonic()
    binary = work / "celldrift"
    shutil.copy2(shipped_binary, binary)  # the shipped copy may have lost its execute bit
    binary.chmod(0o755)
    # The file keeps its name: the vehicle id is the name up to its first dot, as on one machine.
    log = work / os.path.basename(path)
    log.write_bytes(content)
    database, daily, cells = work / "outbox.db", work / "daily.csv", work / "cells.csv"
    result = subprocess.run([binary, "replay", "--config", config, "--db", database, "--json", "--quiet",
                             "--daily-out", daily, "--cells-out", cells, log], capture_output=True, text=True)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    summary = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    if result.returncode != 0 or summary.get("unreadable_files") or summary.get("failed_logs"):
        message = "; ".join(errors) or result.stderr.strip()[-500:] or f"exit {result.returncode}"
        yield "replays", (path, None, len(content), summary.get("frames"), summary.get("snapshots"), summary.get("bad_lines"),
                          json.dumps(summary.get("alarms", {}), sort_keys=True), time.monotonic() - started,
                          message.replace(str(work) + "/", ""))
        return
    exported = subprocess.run([binary, "outbox", "export", "--db", database], capture_output=True, text=True, check=True).stdout
    vehicle = None
    for line in exported.splitlines():
        record = json.loads(line)
        vehicle = record["vehicle"]
        if record["type"] == "inference":
            continue
        payload = record["payload"]
        yield "alarms", (record["id"], record["vehicle"], record["type"], record["kind"], payload.get("transition"),
                         record.get("cell"), record.get("severity"), float(record["event_time"]), json.dumps(payload, sort_keys=True),
                         path, time.strftime("%Y-%m-%d", time.gmtime(record["event_time"])))
    events = subprocess.run([binary, "outbox", "export", "--db", database, "--type", "inference", "--format", "csv"],
                            capture_output=True, text=True, check=True).stdout
    for row in csv.DictReader(io.StringIO(events)):
        yield "inference_events", json.dumps(row)
    with open(daily) as text:
        for row in csv.DictReader(text):
            vehicle = row["VIN"]
            yield "series_samples", tuple(row[name] if name in ("VIN", "Date") else number(row[name]) for name in SERIES)
    with open(cells) as text:
        for row in csv.DictReader(text):
            yield "cells", (row["vehicle"], row["date"], int(row["cell_number"]), row["cell_name"], int(row["snapshots"]),
                            *(number(row[name]) for name in ("mean_deviation_mv", "min_deviation_mv", "max_deviation_mv",
                                                             "last_deviation_mv", "resistance_ratio")))
    yield "replays", (path, vehicle or log.name.split(".")[0], len(content), summary["frames"], summary["snapshots"],
                      summary["bad_lines"], json.dumps(summary.get("alarms", {}), sort_keys=True), time.monotonic() - started, None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", required=True, help="a folder, file or glob of CAN logs (any format celldrift reads, .gz too); s3a:// works")
    parser.add_argument("--config", required=True, help="the mapping config (TOML); the DBC and models it names are shipped with it")
    parser.add_argument("--binary", required=True, help="the static celldrift release binary (shipped to the executors)")
    parser.add_argument("--out", required=True, help="the output folder (Parquet tables)")
    parser.add_argument("--partitions", type=int, default=0, help="at least this many tasks (default: Spark's grouping of the files by size)")
    args = parser.parse_args()

    spark = SparkSession.builder.appName("celldrift fleet replay").getOrCreate()
    context = spark.sparkContext
    staging = pathlib.Path(tempfile.mkdtemp(prefix="celldrift-bundle-")) / BUNDLE
    # The bundle holds a copy of the binary (33 MB): one per run was left in /tmp.
    atexit.register(shutil.rmtree, staging.parent, True)
    staging.mkdir()
    config_name = bundle(args.config, staging)
    shutil.copy2(args.binary, staging / "celldrift")
    context.addFile(str(staging), recursive=True)

    logs = args.logs.rstrip("/") + "/*" if not any(ch in args.logs for ch in "*?[") and os.path.isdir(args.logs) else args.logs
    files = context.binaryFiles(logs, minPartitions=args.partitions or None)
    rows = files.mapPartitions(lambda part: replay_logs(part, config_name, "celldrift")).persist(StorageLevel.MEMORY_AND_DISK)

    def table(name):
        return rows.filter(lambda pair: pair[0] == name).map(lambda pair: pair[1])

    out = args.out.rstrip("/")
    alarms = spark.createDataFrame(table("alarms"), ALARMS)
    alarms.write.mode("overwrite").partitionBy("date").parquet(f"{out}/alarms")
    spark.createDataFrame(table("series_samples"), SERIES_SAMPLES).write.mode("overwrite").partitionBy("Date").parquet(f"{out}/series_samples")
    spark.createDataFrame(table("cells"), CELLS).write.mode("overwrite").partitionBy("date").parquet(f"{out}/cells")
    replays = spark.createDataFrame(table("replays"), REPLAYS)
    replays.write.mode("overwrite").parquet(f"{out}/replays")
    events = table("inference_events")
    if not events.isEmpty():
        spark.read.json(events).write.mode("overwrite").partitionBy("date").parquet(f"{out}/inference_events")
    # Counted from the kept rows (an empty table is written as a folder without files, which cannot be read back).
    print(json.dumps({"logs": replays.count(), "failed_logs": replays.filter("error is not null").count(),
                      "frames": replays.agg({"frames": "sum"}).first()[0] or 0, "alarms": alarms.count()}))
    spark.stop()


if __name__ == "__main__":
    main()
