"""celldrift's log readers and writers against python-can's: files written by one are read identically by the other."""
import itertools
import gzip
import random

import can
import pytest

from conftest import SHIPPED, json_lines, run


def random_messages(count, seed, fd=True, remote=True, remote_length=True):
    rng = random.Random(seed)
    messages = []
    time = 1_700_000_000.0
    for index in range(count):
        time += rng.randint(1, 5000) / 1e6
        kind = rng.choice(["std", "ext"] + (["fd"] if fd else []) + (["rtr"] if remote else []))
        extended = kind == "ext" or (kind == "fd" and rng.random() < 0.5)
        ident = rng.randint(0, 0x1FFFFFFF if extended else 0x7FF)
        channel = rng.randint(0, 1)
        if kind == "rtr":
            messages.append(can.Message(timestamp=time, arbitration_id=ident, is_extended_id=extended,
                                        is_remote_frame=True, dlc=rng.randint(0, 8) if remote_length else 0,
                                        channel=channel))
            continue
        length = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64]) if kind == "fd" else rng.randint(0, 8)
        data = bytes(rng.getrandbits(8) for _ in range(length))
        messages.append(can.Message(timestamp=time, arbitration_id=ident, is_extended_id=extended, data=data,
                                    is_fd=kind == "fd", bitrate_switch=kind == "fd" and rng.random() < 0.5,
                                    channel=channel))
    return messages


def write_with_python_can(writer_class, path, messages):
    writer = writer_class(str(path))
    for message in messages:
        writer.on_message_received(message)
    writer.stop()


def assert_same(ours, theirs, channel_of, absolute_time):
    assert len(ours) == len(theirs)
    first_ours, first_theirs = ours[0]["t_ns"] / 1e9, theirs[0].timestamp
    for row, message in zip(ours, theirs):
        label = (row, message)
        assert row["id"] == message.arbitration_id, label
        assert row["ext"] == message.is_extended_id, label
        assert row["fd"] == message.is_fd, label
        assert row["brs"] == message.bitrate_switch, label
        assert row["rtr"] == message.is_remote_frame, label
        assert row["channel"] == channel_of(message), label
        if message.is_remote_frame:
            assert row["len"] == message.dlc and row["data"] == "", label
        else:
            assert bytes.fromhex(row["data"]) == bytes(message.data), label
        if absolute_time:
            assert abs(row["t_ns"] / 1e9 - message.timestamp) < 1e-6, label
        else:
            assert abs((row["t_ns"] / 1e9 - first_ours) - (message.timestamp - first_theirs)) < 2e-6, label


# python-can's candump writer writes a remote frame as "#R" without its length.
@pytest.mark.parametrize("writer_class, suffix, fd, remote, absolute", [
    (can.CanutilsLogWriter, "log", True, True, True),
    (can.ASCWriter, "asc", True, True, False),
    (can.TRCWriter, "trc", False, False, False),  # python-can's TRC writer logs neither FD nor remote frames
])
def test_celldrift_reads_python_can_logs(tmp_path, celldrift, writer_class, suffix, fd, remote, absolute):
    messages = random_messages(3000, suffix, fd=fd, remote=remote, remote_length=suffix != "log")
    path = tmp_path / f"frames.{suffix}"
    write_with_python_can(writer_class, path, messages)
    out, err = run("convert", "--to", "jsonl", path)
    assert "0 bad lines" in err
    assert_same(json_lines(out), messages, lambda m: m.channel, absolute)

    compressed = tmp_path / f"frames.{suffix}.gz"
    compressed.write_bytes(gzip.compress(path.read_bytes()))
    gz_out, _ = run("convert", "--to", "jsonl", compressed)
    assert gz_out == out


@pytest.mark.parametrize("target, reader_class", [("candump", can.CanutilsLogReader), ("asc", can.ASCReader)])
def test_python_can_reads_celldrift_logs(tmp_path, celldrift, target, reader_class):
    messages = random_messages(3000, target, remote_length=False)
    source = tmp_path / "source.log"
    write_with_python_can(can.CanutilsLogWriter, source, messages)
    out, _ = run("convert", "--to", target, source)
    written = tmp_path / f"written.{target}"
    written.write_text(out)
    read_back = list(reader_class(str(written)))
    assert len(read_back) == len(messages)
    first = messages[0].timestamp
    for ours, original in zip(read_back, messages):
        assert ours.arbitration_id == original.arbitration_id
        assert ours.is_extended_id == original.is_extended_id
        assert ours.is_fd == original.is_fd and ours.bitrate_switch == original.bitrate_switch
        if target == "asc" and original.is_fd and not original.data:
            # python-can's ASC reader takes every zero-length CANFD line for a remote frame, whatever its flags say.
            assert ours.is_remote_frame
        else:
            assert ours.is_remote_frame == original.is_remote_frame
        if original.is_remote_frame:
            assert ours.dlc == original.dlc
        else:
            assert bytes(ours.data) == bytes(original.data)
        if target == "candump":
            assert ours.channel == f"can{original.channel}"
            assert abs(ours.timestamp - original.timestamp) < 1e-6
        else:
            assert ours.channel == original.channel
            assert abs((ours.timestamp - read_back[0].timestamp) - (original.timestamp - first)) < 2e-6


def test_real_asc_capture_matches_python_can(celldrift):
    path = SHIPPED / "logs" / "kona_bms_main_relay_on.asc"
    out, err = run("convert", "--to", "jsonl", path)
    ours = json_lines(out)
    theirs = list(can.ASCReader(str(path)))
    assert len(ours) == len(theirs) == 738
    for row, message in zip(ours, theirs):
        assert row["id"] == message.arbitration_id and bytes.fromhex(row["data"]) == bytes(message.data)
        assert abs(row["t_ns"] / 1e9 - message.timestamp) < 1e-9


def test_torn_lines_in_a_real_capture_are_reported_once_and_skipped(tmp_path, celldrift):
    lines = (SHIPPED / "logs" / "kona_power_off_on_ready_off.gvret.csv").read_text().splitlines()
    lines[100] = lines[100][:17]  # torn mid-id
    lines[2000] = "\x00\x01garbage"
    torn = tmp_path / "torn.csv"
    torn.write_text("\n".join(lines) + "\n")
    out, err = run("convert", "--to", "jsonl", torn)
    assert len(json_lines(out)) == len(lines) - 1 - 2
    reported = [line for line in err.splitlines() if "line skipped" in line]
    assert [line.split(":")[1] for line in reported] == ["101", "2001"]
    assert all(line.startswith(str(torn)) for line in reported)
    assert "2 bad lines" in err


def test_an_asc_header_date_gives_absolute_times_as_python_can_reads_them(celldrift, monkeypatch):
    """Issue 18: the header's `date` was ignored, so an ASC replayed in 1970. python-can reads the date
    in the machine's zone; celldrift in UTC: compared with TZ=UTC."""
    import gzip
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    path = SHIPPED / "simulated" / "healthy.asc.gz"
    out, _ = run("convert", "--to", "jsonl", path)
    ours = json_lines(out)
    with gzip.open(path, "rt") as text:
        theirs = list(can.ASCReader(text, relative_timestamp=False))
    assert len(ours) == len(theirs) > 1000
    assert ours[0]["t_ns"] / 1e9 > 1.7e9  # a date, not seconds since 1970
    for row, message in zip(ours, theirs):
        assert abs(row["t_ns"] / 1e9 - message.timestamp) < 1e-6
    # And the candump twin the simulator wrote with it holds the same absolute times.
    twin = json_lines(run("convert", "--to", "jsonl", SHIPPED / "simulated" / "healthy.log.gz")[0])
    assert abs(twin[0]["t_ns"] - ours[0]["t_ns"]) < 1_000_000


@pytest.mark.parametrize("zone, offset", [("Asia/Kolkata", "+05:30"), ("America/New_York", "-05:00")])
def test_an_asc_header_date_in_a_local_zone(celldrift, monkeypatch, zone, offset):
    """A logger's clock in another zone (`--asc-zone`, `asc_zone` in a config): the same absolute times
    as python-can reading the file on a machine in that zone (the healthy sample is dated in January, so
    New York is at -05:00)."""
    import gzip
    import time

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        path = SHIPPED / "simulated" / "healthy.asc.gz"
        ours = json_lines(run("convert", "--to", "jsonl", "--asc-zone", offset, path)[0])
        with gzip.open(path, "rt") as text:
            theirs = list(itertools.islice(can.ASCReader(text, relative_timestamp=False), 2000))
        utc = json_lines(run("convert", "--to", "jsonl", path)[0])
        for row, message in zip(ours, theirs):
            assert abs(row["t_ns"] / 1e9 - message.timestamp) < 1e-6
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        shift = (1 if offset[0] == "+" else -1) * (hours * 3600 + minutes * 60)
        assert abs((utc[0]["t_ns"] - ours[0]["t_ns"]) / 1e9 - shift) < 1e-6
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
