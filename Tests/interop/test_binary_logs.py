"""Issue 19: Vector BLF and ASAM MDF4 bus logging, read against python-can (BLF, and MF4 through asammdf)
and replayed exactly as their candump twins; truncated and corrupt files stop with the byte offset after
the frames before the damage."""
import gzip
import itertools
import json
import re
from datetime import datetime, timezone

import can
import pytest

import mdf_writer
from conftest import ROOT, json_lines, run
from test_python_can import assert_same, random_messages, write_with_python_can

SAMPLES = ROOT / "firmware-samples" / "simulated"
RULES_CONFIG = ROOT / "firmware-samples" / "celldrift_pack_rules.toml"


def frames_of(path, *extra):
    out, err = run("convert", "--to", "jsonl", *extra, path)
    return json_lines(out), err


class BLFWriterLevel(can.BLFWriter):
    """python-can's BLF writer with its containers stored (level 0) or deflated (6)."""
    level = 6

    def __init__(self, path):
        super().__init__(path, compression_level=self.level)


@pytest.mark.parametrize("level", [0, 6])
def test_celldrift_reads_python_can_blf(tmp_path, celldrift, level):
    messages = random_messages(20_000, f"blf{level}")
    # Error frames too (python-can writes them as CAN_ERROR_EXT).
    messages[100:100] = [can.Message(timestamp=messages[99].timestamp, is_error_frame=True, arbitration_id=0x4,
                                     is_extended_id=False, data=b"\x01\x02", channel=1)]
    path = tmp_path / "frames.blf"
    writer = type("Writer", (BLFWriterLevel,), {"level": level})
    write_with_python_can(writer, path, messages)
    ours, err = frames_of(path)
    theirs = list(can.BLFReader(str(path)))
    assert len(theirs) == len(messages)
    assert_same(ours, theirs, lambda m: m.channel, absolute_time=True)
    assert ours[100]["err"] and not ours[99]["err"]
    assert "converted 20001 frames" in err
    # A gzipped BLF reads the same (the stream goes through zlib's reader).
    packed = tmp_path / "frames.blf.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert frames_of(packed)[0] == ours


@pytest.mark.parametrize("compression", [0, 1, 2])
def test_celldrift_reads_python_can_mf4(tmp_path, celldrift, compression):
    """python-can's MF4 writer (asammdf underneath): plain DT blocks in a DL list, deflated DZ blocks, and
    transposed-then-deflated ones, each under an HL; data, remote and error frames in three data groups."""
    messages = random_messages(12_000, f"mf4{compression}")
    messages.append(can.Message(timestamp=messages[-1].timestamp + 0.001, is_error_frame=True, arbitration_id=0x7,
                                data=b"\x05", channel=0))
    path = tmp_path / "frames.mf4"
    writer = type("Writer", (can.MF4Writer,), {"__init__": lambda self, p: can.MF4Writer.__init__(self, p, compression_level=compression)})
    write_with_python_can(writer, path, messages)
    ours, _ = frames_of(path)
    theirs = list(can.MF4Reader(str(path)))
    assert len(theirs) == len(messages)
    assert_same(ours, theirs, lambda m: m.channel, absolute_time=True)
    assert ours[-1]["err"] and sum(row["rtr"] for row in ours) == sum(m.is_remote_frame for m in messages) > 0


@pytest.mark.parametrize("layout", ["unsorted", "vlsd-sd", "vlsd-cg"])
@pytest.mark.parametrize("compress", [False, True])
def test_mdf_layouts_asammdf_reads_alike(tmp_path, celldrift, layout, compress):
    """Layouts asammdf does not write but loggers do: an unsorted data group (a non-CAN group's records in
    between), DataBytes in signal data blocks (CANoe, CANape) and in a VLSD channel group (MDF 4.20)."""
    source, _ = frames_of(SAMPLES / "hot-spot.log.gz")
    frames = source[:6000]
    start = frames[0]["t_ns"] - 123_456_789
    path = tmp_path / f"{layout}.mf4"
    mdf_writer.write(path, frames, start, layout=layout, compress=compress)
    ours, _ = frames_of(path)
    assert ours == frames
    theirs = list(can.MF4Reader(str(path)))
    assert_same(ours, theirs, lambda m: m.channel, absolute_time=True)


def test_python_can_reads_celldrift_blf(tmp_path, celldrift):
    messages = random_messages(20_000, "convert-blf")
    source = tmp_path / "source.log"
    write_with_python_can(can.CanutilsLogWriter, source, messages)
    ours, _ = frames_of(source)
    written = tmp_path / "written.blf"
    run("convert", "--to", "blf", "-o", written, source)
    theirs = list(can.BLFReader(str(written)))
    assert_same(ours, theirs, lambda m: m.channel, absolute_time=True)
    assert frames_of(written)[0] == ours  # and back, to the nanosecond
    # Through a pipe the header keeps zero sizes; readers do not need them.
    piped = tmp_path / "piped.blf"
    with open(piped, "wb") as out:
        import subprocess
        subprocess.run(f"{celldrift} convert --to blf {source} | cat", shell=True, stdout=out, check=True)
    assert frames_of(piped)[0] == ours


def replay_records(tmp_path, log, name):
    database = tmp_path / f"{name}.db"
    out, err = run("replay", "--config", RULES_CONFIG, "--db", database, "--vehicle", "TWIN", "--json", log)
    exported, _ = run("outbox", "export", "--db", database)
    return json.loads(out), json_lines(exported)


def test_blf_and_mf4_twins_replay_as_the_candump_log(tmp_path, celldrift):
    """The issue's done-when: the same alarms with the same absolute event times (and so the same
    deterministic ids) from a BLF and an MF4 of the frames as from the candump log."""
    log = SAMPLES / "micro-short.log.gz"
    summary, records = replay_records(tmp_path, log, "candump")
    assert summary["frames"] == 61200 and any(r["payload"].get("transition") == "raised" for r in records)
    frames, _ = frames_of(log)
    blf = tmp_path / "twin.blf"
    run("convert", "--to", "blf", "-o", blf, log)
    mf4 = tmp_path / "twin.mf4"
    mdf_writer.write(mf4, frames, frames[0]["t_ns"], layout="vlsd-sd", compress=True)
    for twin in (blf, mf4):
        twin_summary, twin_records = replay_records(tmp_path, twin, twin.suffix[1:])
        assert twin_summary["frames"] == summary["frames"] and twin_summary["alarms"] == summary["alarms"]
        assert [(r["id"], r["kind"], r["cell"], r["event_time"]) for r in twin_records] == \
            [(r["id"], r["kind"], r["cell"], r["event_time"]) for r in records]


def test_python_can_blf_twin_replays_within_its_float_times(tmp_path, celldrift):
    """python-can carries a time as a float of epoch seconds (0.24 us apart in 2026): its BLF of the same
    frames gives the same alarms at the same cells, at times within a microsecond."""
    log = SAMPLES / "micro-short.log.gz"
    _, records = replay_records(tmp_path, log, "candump")
    blf = tmp_path / "python-can.blf"
    with gzip.open(log, "rt") as text:
        write_with_python_can(can.BLFWriter, blf, list(can.CanutilsLogReader(text)))
    _, twin = replay_records(tmp_path, blf, "python-can")
    assert [(r["kind"], r["cell"], r["payload"]["transition"]) for r in twin] == \
        [(r["kind"], r["cell"], r["payload"]["transition"]) for r in records]
    assert all(abs(a["event_time"] - b["event_time"]) < 1e-6 for a, b in zip(twin, records))


def test_truncated_blf_keeps_the_frames_before_and_names_the_offset(tmp_path, celldrift):
    messages = random_messages(20_000, "torn-blf", fd=False, remote=False)
    whole = tmp_path / "whole.blf"
    write_with_python_can(BLFWriterLevel, whole, messages)
    data = whole.read_bytes()
    torn = tmp_path / "torn.blf"
    torn.write_bytes(data[: len(data) * 2 // 3])
    out, err = run("convert", "--to", "jsonl", torn, check=False)
    got = json_lines(out)
    # Whole containers before the cut are read; the one cut off is named with the byte where the file ends.
    assert 0 < len(got) < len(messages)
    assert got == frames_of(whole)[0][: len(got)]
    assert f"torn.blf: byte {len(data) * 2 // 3}: the file ends inside an object" in err
    assert "1 files could not be read" in err
    # A damaged container: its zlib stream fails, named at the container's offset.
    damaged = bytearray(data)
    second = data.index(b"LOBJ", data.index(b"LOBJ") + 16)
    damaged[second + 40: second + 60] = b"\xff" * 20
    (tmp_path / "damaged.blf").write_bytes(damaged)
    out, err = run("convert", "--to", "jsonl", tmp_path / "damaged.blf", check=False)
    assert f"damaged.blf: byte {second}: log container: zlib" in err
    assert json_lines(out) == frames_of(whole)[0][: len(json_lines(out))]


def test_corrupt_mf4_names_the_block(tmp_path, celldrift):
    source, _ = frames_of(SAMPLES / "hot-spot.log.gz")
    frames = source[:20_000]
    path = tmp_path / "good.mf4"
    messages = random_messages(30_000, "torn-mf4", fd=False, remote=False)
    writer = type("Writer", (can.MF4Writer,), {"__init__": lambda self, p: can.MF4Writer.__init__(self, p, compression_level=1)})
    write_with_python_can(writer, path, messages)
    data = bytearray(path.read_bytes())
    blocks = [index for index in range(len(data)) if data[index:index + 4] == b"##DZ"]
    assert len(blocks) >= 1
    data[blocks[-1] + 60: blocks[-1] + 90] = b"\x00" * 30
    (tmp_path / "bad.mf4").write_bytes(data)
    out, err = run("convert", "--to", "jsonl", tmp_path / "bad.mf4", check=False)
    assert f"bad.mf4: byte {blocks[-1]}: DZ block: zlib" in err
    # Cut short: the metadata asammdf writes after the data is gone, so nothing can be read, and it says so.
    (tmp_path / "short.mf4").write_bytes(bytes(data[: len(data) // 2]))
    out, err = run("convert", "--to", "jsonl", tmp_path / "short.mf4", check=False)
    assert out == "" and "short.mf4: byte " in err and "past the end of the file" in err
    # An MDF file without CAN bus logging says that, not "unknown format".
    plain = tmp_path / "analog.mf4"
    mdf_writer.write(plain, frames[:10], frames[0]["t_ns"], layout="unsorted")
    raw = bytearray(plain.read_bytes())
    raw = raw.replace(b"CAN_DataFrame", b"XYZ_DataFrame")
    plain.write_bytes(raw)
    _, err = run("convert", "--to", "jsonl", plain, check=False)
    assert "no CAN bus logging channel group" in err


def test_every_log_command_takes_binary_logs(tmp_path, celldrift):
    """decode and report (and replay, above) read a BLF and an MF4 as they read the candump twin."""
    log = SAMPLES / "hot-spot.log.gz"
    frames, _ = frames_of(log)
    blf = tmp_path / "hot-spot.blf"
    run("convert", "--to", "blf", "-o", blf, log)
    mf4 = tmp_path / "hot-spot.mf4"
    mdf_writer.write(mf4, frames, frames[0]["t_ns"], layout="unsorted", compress=True)
    dbc = ROOT / "firmware-samples" / "celldrift_pack.dbc"
    decoded_log, _ = run("decode", "--dbc", dbc, log)
    assert len(decoded_log) > 1000 and datetime.fromtimestamp(frames[0]["t_ns"] / 1e9, timezone.utc).year >= 2025
    database = tmp_path / "empty.db"
    run("replay", "--config", RULES_CONFIG, "--db", database, "--vehicle", "TWIN", log)
    def report(source):
        output = tmp_path / f"{source.name}.html"
        run("report", "--db", database, "--config", RULES_CONFIG, "--vehicle", "TWIN", "--log", source, "--output", output)
        # The report's own generation time aside.
        text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC by c", "GENERATED", output.read_text())
        return text.replace(str(source), "LOG").replace(source.name, "LOG")

    report_log = report(log)
    assert "<svg" in report_log
    for twin in (blf, mf4):
        assert run("decode", "--dbc", dbc, twin)[0] == decoded_log
        assert report(twin) == report_log


def test_blf_objects_python_can_reads_but_does_not_write(tmp_path, celldrift):
    """CAN_MESSAGE2, CAN_FD_MESSAGE_64 (data cut at its extended-data offset), version-2 object headers and
    10 us timestamps, as Vector's loggers write them: built here byte by byte, read by python-can and by
    celldrift alike."""
    import struct
    import zlib

    objects = bytearray()

    def add(kind, body, stamp, version=1, ten_micros=False):
        flags = 1 if ten_micros else 2
        header = struct.pack("<LHHQ", flags, 0, 0, stamp) if version == 1 else struct.pack("<LBxHQ8x", flags, 0, 0, stamp)
        size = 16 + len(header) + len(body)
        objects.extend(struct.pack("<4sHHLL", b"LOBJ", 16 + len(header), version, size, kind) + header + body + b"\0" * (size % 4))

    for index in range(300):
        stamp = index * 1000
        if index % 3 == 0:  # CAN_MESSAGE2 on channel 2, transmitted, 10 us units
            add(86, struct.pack("<HBBL8s", 2, 0x01, 6, 0x321, bytes(range(index % 200, index % 200 + 8))) + struct.pack("<LBBH", 0, 0, 0, 0),
                stamp, ten_micros=True)
        elif index % 3 == 1:  # CAN_FD_MESSAGE_64, 29-bit id, BRS, 20 bytes
            data = bytes((index + k) % 256 for k in range(20))
            add(101, struct.pack("<BBBBLLLLLLLHBBL", 1, 11, 20, 0, 0x80000000 | 0x1ABCDE, 0, 0x1000 | 0x2000, 0, 0, 0, 0, 0, 0, 0, 0) + data,
                stamp * 10, version=2)
        else:  # CAN_FD_MESSAGE_64 whose 12 valid bytes run into extended data after 8: the rest reads as zero
            body = struct.pack("<BBBBLLLLLLLHBBL", 1, 9, 12, 0, 0x55, 0, 0x1000, 0, 0, 0, 0, 0, 1, 32 + 40 + 8, 0) + bytes(range(1, 9)) + b"\xee" * 8
            add(101, body, stamp * 10)
    packed = zlib.compress(bytes(objects))
    container = struct.pack("<4sHHLL", b"LOBJ", 16, 1, 32 + len(packed), 10) + struct.pack("<H6xL4x", 2, len(objects)) + packed
    container += b"\0" * (len(container) % 4)
    start = (2026, 1, 5, 12, 30, 15, 250)  # year, month, day, hour, minute, second, millisecond
    header = struct.pack("<4sLBBBBBBBBQQLL8H8H", b"LOGG", 144, 5, 0, 0, 0, 2, 6, 8, 1, 144 + len(container), 0, 300, 0,
                         start[0], start[1], 1, start[2], start[3], start[4], start[5], start[6], *([0] * 8))
    path = tmp_path / "vector.blf"
    path.write_bytes(header + b"\0" * (144 - len(header)) + container)
    ours, _ = frames_of(path)
    theirs = list(can.BLFReader(str(path)))
    assert len(ours) == len(theirs) == 300
    assert_same(ours, theirs, lambda m: m.channel, absolute_time=True)
    assert ours[0]["channel"] == 1 and ours[0]["tx"] and ours[1]["ext"] and ours[1]["brs"] and ours[1]["len"] == 20
    assert ours[2]["data"] == "0102030405060708" + "00" * 4
    assert ours[3]["t_ns"] - ours[0]["t_ns"] == 3000 * 10_000  # 10 us ticks
    assert datetime.fromtimestamp(ours[0]["t_ns"] / 1e9, timezone.utc) == datetime(2026, 1, 5, 12, 30, 15, 250_000, timezone.utc)


def test_signals_from_binary_logs_match_cantools(tmp_path, celldrift):
    """The issue's "same signals (cantools)": a python-can BLF and an asammdf MF4 of the hot-spot sample,
    decoded by celldrift, give the values cantools decodes from the frames python-can reads of them."""
    import math

    from conftest import load_reference

    dbc = ROOT / "firmware-samples" / "celldrift_pack.dbc"
    reference = load_reference(dbc)
    with gzip.open(SAMPLES / "hot-spot.log.gz", "rt") as text:
        messages = list(itertools.islice(can.CanutilsLogReader(text), 5000))
    blf = tmp_path / "hot.blf"
    write_with_python_can(can.BLFWriter, blf, messages)
    mf4 = tmp_path / "hot.mf4"
    writer = type("Writer", (can.MF4Writer,), {"__init__": lambda self, p: can.MF4Writer.__init__(self, p, compression_level=2)})
    write_with_python_can(writer, mf4, messages)
    for path, reader in ((blf, can.BLFReader), (mf4, can.MF4Reader)):
        ours = json_lines(run("decode", "--dbc", dbc, path)[0])
        theirs = [m for m in reader(str(path)) if m.arbitration_id in {message.frame_id for message in reference.messages}]
        assert len(ours) == len(theirs) == 5000
        for row, message in zip(ours, theirs):
            expected = reference.get_message_by_frame_id(message.arbitration_id).decode(bytes(message.data), decode_choices=False)
            assert row["signals"].keys() == expected.keys()
            for name, value in expected.items():
                assert math.isclose(row["signals"][name], value, rel_tol=1e-9, abs_tol=1e-9), (path.name, name)
