"""The reference peer's decode of a candump log: python-can reads, cantools decodes. Prints frames/s."""
import sys
import time

import can
import cantools

database = cantools.database.load_file(sys.argv[1], strict=False)
decoded = unknown = 0
start = time.perf_counter()
for message in can.CanutilsLogReader(sys.argv[2]):
    try:
        database.decode_message(message.arbitration_id, message.data)
        decoded += 1
    except KeyError:
        unknown += 1
elapsed = time.perf_counter() - start
print(f"cantools+python-can: {decoded} frames decoded, {unknown} unknown, {elapsed:.2f} s, {decoded / elapsed:,.0f} frames/s")
