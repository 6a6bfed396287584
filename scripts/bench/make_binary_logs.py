"""Writes the binary twins of a candump log for the log-reader benchmark (docs/BENCHMARKS.md): a BLF by
python-can's writer (zlib containers) and MF4 files by asammdf (python-can's CAN_DataFrame layout), with
plain data blocks and with transposed-deflate ones. Usage: make_binary_logs.py LOG OUT_PREFIX"""
import sys

import can
import numpy as np
from asammdf import MDF, Signal
from asammdf.blocks.source_utils import Source

log, prefix = sys.argv[1], sys.argv[2]
messages = list(can.CanutilsLogReader(log))
writer = can.BLFWriter(prefix + ".blf")
for message in messages:
    writer.on_message_received(message)
writer.stop()

fields = [("CAN_DataFrame.BusChannel", "<u1"), ("CAN_DataFrame.ID", "<u4"), ("CAN_DataFrame.IDE", "<u1"),
          ("CAN_DataFrame.DLC", "<u1"), ("CAN_DataFrame.DataLength", "<u1"), ("CAN_DataFrame.DataBytes", "(64,)u1"),
          ("CAN_DataFrame.Dir", "<u1"), ("CAN_DataFrame.EDL", "<u1"), ("CAN_DataFrame.BRS", "<u1"), ("CAN_DataFrame.ESI", "<u1")]
samples = np.zeros(len(messages), dtype=np.dtype(fields))
for index, message in enumerate(messages):
    row = samples[index]
    row["CAN_DataFrame.ID"] = message.arbitration_id
    row["CAN_DataFrame.IDE"] = message.is_extended_id
    row["CAN_DataFrame.DLC"] = message.dlc
    row["CAN_DataFrame.DataLength"] = len(message.data)
    row["CAN_DataFrame.DataBytes"][: len(message.data)] = list(message.data)
start = messages[0].timestamp
times = np.array([message.timestamp - start for message in messages])
for compression, suffix in ((0, ".mf4"), (2, "-transposed.mf4")):
    mdf = MDF(version="4.10")
    from datetime import datetime, timezone
    mdf.header.start_time = datetime.fromtimestamp(start, timezone.utc)
    mdf.append(Signal(name="CAN_DataFrame", samples=samples, timestamps=times,
                      source=Source(name="CAN", path="CAN", comment="", source_type=Source.SOURCE_BUS, bus_type=Source.BUS_TYPE_CAN)))
    mdf.save(prefix + suffix, overwrite=True, compression=compression)
print(f"{len(messages)} frames: {prefix}.blf, {prefix}.mf4, {prefix}-transposed.mf4")
