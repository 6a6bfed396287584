"""Seeds of the binary-log fuzz targets from a candump sample: BLF by python-can (stored and deflated
containers), MF4 by asammdf through python-can (plain, deflated, transposed) and by the tests' own
writer (unsorted, VLSD in signal data, VLSD channel group). Usage: fuzz_seeds.py blf|mf4 LOG DIR"""
import gzip
import itertools
import pathlib
import sys

import can

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "Tests" / "interop"))
import mdf_writer  # noqa: E402

target, log, folder = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
with gzip.open(log, "rt") as text:
    messages = list(itertools.islice(can.CanutilsLogReader(text), 60))
messages.append(can.Message(timestamp=messages[-1].timestamp, arbitration_id=0x123, data=bytes(range(12)), is_fd=True, channel=1))
messages.append(can.Message(timestamp=messages[-1].timestamp, arbitration_id=0x1234567, is_remote_frame=True, dlc=4))


def write(writer):
    for message in messages:
        writer.on_message_received(message)
    writer.stop()


if target == "blf":
    for level in (0, 6):
        write(can.BLFWriter(str(folder / f"level{level}.blf"), compression_level=level))
else:
    for level in (0, 1, 2):
        write(can.MF4Writer(str(folder / f"level{level}.mf4"), compression_level=level))
    frames = [dict(t_ns=int(m.timestamp * 1e9), id=m.arbitration_id, ext=m.is_extended_id, fd=m.is_fd, brs=m.bitrate_switch,
                   esi=False, tx=False, channel=m.channel if isinstance(m.channel, int) else 0, data=bytes(m.data).hex()) for m in messages if not m.is_remote_frame]
    for layout in ("unsorted", "vlsd-sd", "vlsd-cg"):
        mdf_writer.write(folder / f"{layout}.mf4", frames, frames[0]["t_ns"], layout=layout, compress=layout == "vlsd-sd")
