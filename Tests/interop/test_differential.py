"""celldrift against cantools: random frames over every message and multiplexer page of each DBC the
product ships, decoded by both (raw, physical, value-table names) and encoded by both."""
import math
import random
import struct

import pytest

from conftest import ROOT, json_lines, load_reference, run

DBCS = sorted((ROOT / "firmware-samples").glob("*.dbc")) + [ROOT / "Tests" / "fixtures" / "features.dbc"]
FRAMES_PER_DBC = 10_000


def pages(tree):
    """Every combination of multiplexer values in a cantools signal tree: (mux values, signal names)."""
    combos = [({}, [])]
    for node in tree:
        if isinstance(node, str):
            combos = [(mux, names + [node]) for mux, names in combos]
            continue
        ((mux_name, branches),) = node.items()
        expanded = []
        for value, subtree in branches.items():
            for sub_mux, sub_names in pages(subtree):
                expanded.append(({mux_name: value, **sub_mux}, [mux_name] + sub_names))
        combos = [(dict(mux, **extra), names + extra_names) for mux, names in combos for extra, extra_names in expanded]
    return combos


def random_raw(signal, rng):
    if signal.is_float:
        if signal.length == 32:
            return struct.unpack("<f", struct.pack("<f", rng.uniform(-1e6, 1e6)))[0]
        return rng.uniform(-1e12, 1e12)
    if signal.is_signed:
        return rng.randint(-(1 << (signal.length - 1)), (1 << (signal.length - 1)) - 1)
    return rng.randint(0, (1 << signal.length) - 1)


def is_fd(message):
    return message.is_fd or message.length > 8  # a payload above 8 bytes exists only on CAN FD


def frame_line(index, message, data):
    ident = f"{message.frame_id:08X}" if message.is_extended_frame else f"{message.frame_id:03X}"
    separator = "##0" if is_fd(message) else "#"
    return f"({1_700_000_000 + index * 0.001:.6f}) can0 {ident}{separator}{data.hex().upper()}"


def generate(reference, rng, wanted):
    """(message, raw values, payload) covering every page of every message at least once."""
    def representable(message, mux):
        # Some real DBCs name pages their multiplexer is too narrow to select (Tesla 0x393: page 2 of a 1-bit index).
        return all(value < (1 << message.get_signal_by_name(name).length) for name, value in mux.items())

    work = [(message, mux, names) for message in reference.messages for mux, names in pages(message.signal_tree)
            if representable(message, mux)]
    repeats = max(1, math.ceil(wanted / len(work)))
    frames = []
    for message, mux, names in work:
        for _ in range(repeats):
            values = {name: random_raw(message.get_signal_by_name(name), rng) for name in names}
            values.update(mux)
            data = message.encode(values, scaling=False, padding=False, strict=False)
            if not mux and rng.random() < 0.5:
                data = bytes(rng.getrandbits(8) for _ in range(message.length))  # every bit random
                values = message.decode(data, decode_choices=False, scaling=False)
            frames.append((message, values, data))
    rng.shuffle(frames)
    return frames


def same_number(ours, theirs, relative):
    if isinstance(theirs, float) and math.isnan(theirs):
        return isinstance(ours, float) and math.isnan(ours)
    if relative:
        return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-12)
    return ours == theirs and type(ours) is type(theirs) or (isinstance(theirs, float) and ours == theirs)


@pytest.mark.parametrize("dbc", DBCS, ids=[path.name for path in DBCS])
def test_decode_and_encode_match_cantools(dbc, tmp_path, celldrift):
    reference = load_reference(dbc)
    summary, warnings = run("dbc", dbc)
    ours_count = int(summary.split(": ")[1].split(" ")[0])
    dropped = warnings.count("left out")
    assert ours_count == len(reference.messages) - dropped, summary + warnings
    kept = [m for m in reference.messages if f"message {m.name} left out" not in warnings]
    reference.messages[:] = kept
    rng = random.Random(dbc.name)
    frames = generate(reference, rng, FRAMES_PER_DBC)
    assert len(frames) >= FRAMES_PER_DBC
    log = tmp_path / "frames.log"
    log.write_text("\n".join(frame_line(i, m, d) for i, (m, _, d) in enumerate(frames)) + "\n")

    raw_out, raw_err = run("decode", "--dbc", dbc, "--raw", log)
    physical_out, _ = run("decode", "--dbc", dbc, log)
    choices_out, _ = run("decode", "--dbc", dbc, "--choices", log)
    raw_rows, physical_rows, choice_rows = json_lines(raw_out), json_lines(physical_out), json_lines(choices_out)
    assert len(raw_rows) == len(frames), raw_err
    for (message, _, data), raw_row, physical_row, choice_row in zip(frames, raw_rows, physical_rows, choice_rows):
        assert raw_row["name"] == message.name and raw_row["id"] == message.frame_id
        assert raw_row["ext"] == message.is_extended_frame
        expected_raw = message.decode(data, decode_choices=False, scaling=False)
        assert raw_row["signals"].keys() == expected_raw.keys(), (message.name, data.hex())
        for name, value in expected_raw.items():
            assert same_number(raw_row["signals"][name], value, relative=False), (message.name, name, data.hex())
        expected_physical = message.decode(data, decode_choices=False)
        for name, value in expected_physical.items():
            assert same_number(physical_row["signals"][name], value, relative=True), (message.name, name, data.hex())
        for name, value in message.decode(data, decode_choices=True).items():
            if isinstance(value, (int, float)):
                assert same_number(choice_row["signals"][name], value, relative=True), (message.name, name)
            else:
                assert choice_row["signals"][name] == str(value), (message.name, name)

    # Encoding: the same raw values through celldrift give cantools' bytes.
    requests = []
    for message, values, _ in frames[:3000]:
        exact = {k: (str(v) if isinstance(v, int) and abs(v) > 2**53 else v) for k, v in values.items()}
        requests.append(json_dumps({"name": message.name, "signals": exact}))
    encoded_out, _ = run("encode", "--dbc", dbc, "--raw", stdin="\n".join(requests) + "\n")
    lines = encoded_out.splitlines()
    assert len(lines) == len(requests)
    for (message, values, _), line in zip(frames, lines):
        payload = line.split("#", 1)[1].lstrip("#")
        payload = payload[1:] if is_fd(message) else payload
        assert bytes.fromhex(payload) == message.encode(values, scaling=False, padding=False, strict=False), (message.name, line)

    # Physical encoding: cantools' physical values back to the same bytes.
    requests = []
    expected = []
    for message, values, data in frames[:2000]:
        physical = message.decode(data, decode_choices=False)
        if any(isinstance(v, float) and not math.isfinite(v) for v in physical.values()):
            continue
        if any(s.length > 50 for s in message.signals if not s.is_float):
            continue  # a double cannot carry such raw values exactly
        requests.append(json_dumps({"name": message.name, "signals": physical}))
        expected.append((message, message.encode(physical, padding=False, strict=False)))
    encoded_out, _ = run("encode", "--dbc", dbc, stdin="\n".join(requests) + "\n")
    for (message, data), line in zip(expected, encoded_out.splitlines()):
        payload = line.split("#", 1)[1].lstrip("#")
        payload = payload[1:] if is_fd(message) else payload
        assert bytes.fromhex(payload) == data, (message.name, line)

    # Value-table names, as `decode --choices` prints them and cantools encodes them (issue 18: refused).
    requests, expected = [], []
    for message, values, data in frames[:2000]:
        named = message.decode(data, decode_choices=True)
        if not any(not isinstance(v, (int, float)) for v in named.values()):
            continue
        if any(isinstance(v, float) and not math.isfinite(v) for v in named.values()):
            continue
        if any(s.length > 50 for s in message.signals if not s.is_float):
            continue
        named = {k: (str(v) if not isinstance(v, (int, float)) else v) for k, v in named.items()}
        requests.append(json_dumps({"name": message.name, "signals": named}))
        expected.append((message, message.encode(named, padding=False, strict=False)))
    if requests:
        encoded_out, _ = run("encode", "--dbc", dbc, stdin="\n".join(requests) + "\n")
        for (message, data), line in zip(expected, encoded_out.splitlines()):
            payload = line.split("#", 1)[1].lstrip("#")
            payload = payload[1:] if is_fd(message) else payload
            assert bytes.fromhex(payload) == data, (message.name, line)


def json_dumps(value):
    import json

    return json.dumps(value, allow_nan=True)


def test_dbc_verbose_shows_what_cantools_reads(celldrift):
    """Issue 18: `dbc --verbose` printed an extended id as `0x18FF0210x` and no factor, offset, range or
    value table. Each signal line now carries them, as cantools reads them."""
    import re

    import cantools

    path = ROOT / "Tests" / "fixtures" / "features.dbc"
    out, _ = run("dbc", "--verbose", path)
    database = cantools.database.load_file(str(path))
    pattern = re.compile(r'^    (\w+) (\d+)\|(\d+)@([01])([+-]) \(([^,]+),([^)]+)\) \[([^|]+)\|([^\]]+)\] "([^"]*)"')
    seen = 0
    message = None
    for line in out.splitlines():
        if header := re.match(r"^  0x([0-9A-F]+)( \(extended\))? (\w+) ", line):
            message = database.get_message_by_name(header.group(3))
            assert int(header.group(1), 16) == message.frame_id and bool(header.group(2)) == message.is_extended_frame
        elif match := pattern.match(line):
            signal = message.get_signal_by_name(match.group(1))
            assert float(match.group(6)) == signal.scale and float(match.group(7)) == signal.offset
            # cantools reads the DBC's "no range" [0|0] as None.
            assert float(match.group(8)) == (signal.minimum or 0.0) and float(match.group(9)) == (signal.maximum or 0.0)
            for value, name in (signal.choices or {}).items():
                assert f'{int(value)} "{name}"' in line
            seen += 1
    assert seen == sum(len(m.signals) for m in database.messages)


def test_encode_names_an_unknown_value_and_offers_only_what_it_writes(celldrift):
    request = '{"name": "VCU_200", "signals": {"CURRENT_GEAR": "Q"}}\n'
    _, err = run("encode", "--dbc", ROOT / "firmware-samples" / "kona_pcan.dbc", stdin=request, check=False)
    assert 'VCU_200.CURRENT_GEAR has no value named "Q" (its values: P, D, N, R)' in err
    help_text, _ = run("encode", "--help")
    assert "values: candump, asc;" in help_text and "trc" not in help_text
