"""The reference peers reading logs, frames only (no decoding): python-can's candump and BLF readers, and its
MF4 reader (asammdf underneath). Prints frames/s per file. Usage: python_read_logs.py FILE..."""
import sys
import time

import can

READERS = {".log": can.CanutilsLogReader, ".blf": can.BLFReader, ".mf4": can.MF4Reader}
for path in sys.argv[1:]:
    reader = READERS[path[path.rindex("."):]]
    start = time.perf_counter()
    count = sum(1 for _ in reader(path))
    elapsed = time.perf_counter() - start
    print(f"python-can {reader.__name__} {path}: {count} frames, {elapsed:.2f} s, {count / elapsed:,.0f} frames/s")
