"""The fleet job's series_samples table (Parquet, partitioned by Date) as the seed's daily CSV, which
`celldrift train pack --data` reads: one file, VIN and Date sorted, the seed's column order.
    python spark/series_to_csv.py OUT/series_samples series_samples.csv   (or through spark-submit)"""
import csv
import sys

from pyspark.sql import SparkSession

COLUMNS = ["VIN", "Date", "TotalVoltage", "TotalCurrent", "CellMaxVoltage", "CellMinVoltage", "MaxTemperature", "MinTemperature", "Label"]

spark = SparkSession.builder.appName("celldrift series_samples to CSV").config("spark.ui.enabled", "false").getOrCreate()
rows = spark.read.parquet(sys.argv[1]).select(*COLUMNS).orderBy("VIN", "Date").collect()
with open(sys.argv[2], "w", newline="") as file:
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row[name] if name in ("VIN", "Date") else repr(row[name]) if row[name] == row[name] else "nan" for name in COLUMNS])
spark.stop()
print(f"{len(rows)} rows to {sys.argv[2]}")
