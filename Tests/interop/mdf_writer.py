"""A small MDF4 bus-logging writer for the layouts asammdf does not write: unsorted data groups (records
of several channel groups interleaved, each after its group's record id), DataBytes stored out of the
record in signal data blocks (VLSD, as CANoe and CANape write it) or in a VLSD channel group (MDF 4.20),
and deflated data blocks. Written from the ASAM MDF 4 block layout; files it writes are checked against
asammdf (through python-can's MF4Reader) in the tests, so a mistake here shows up there."""
import struct
import zlib


class Block:
    def __init__(self, tag, links=(), data=b""):
        self.tag, self.links, self.data = tag, list(links), data
        self.address = 0

    def size(self):
        return 24 + 8 * len(self.links) + len(self.data)


def _text(value):
    encoded = value.encode() + b"\0"
    return Block(b"##TX", data=encoded + b"\0" * (-len(encoded) % 8))


def _channel(name, kind, data_type, byte_offset, bits, sync=0, composition=None, data=None):
    body = struct.pack("<BBBBIIIIBBH6d", kind, sync, data_type, 0, byte_offset, bits, 0, 0, 0, 0, 0, *([0.0] * 6))
    return Block(b"##CN", [None, composition, _text(name), None, None, data, None, None], body)


def _chain(blocks):
    for first, second in zip(blocks, blocks[1:]):
        first.links[0] = second
    return blocks[0] if blocks else None


# The CAN_DataFrame record: time (float64 seconds), then the structure's members.
MEMBERS = [("BusChannel", 0, 1), ("ID", 1, 4), ("IDE", 5, 1), ("DLC", 6, 1), ("DataLength", 7, 1), ("Dir", 8, 1),
           ("EDL", 9, 1), ("BRS", 10, 1), ("ESI", 11, 1), ("DataBytes", 12, None)]


def _can_group(record_id, variable, data_bytes_link=None):
    """A CAN_DataFrame channel group; DataBytes fixed (64 bytes) or a u64 offset to VLSD data."""
    structure = []
    for name, offset, size in MEMBERS:
        if name == "DataBytes":
            if variable:
                structure.append(_channel("CAN_DataFrame.DataBytes", 1, 10, 8 + offset, 64, data=data_bytes_link))
            else:
                structure.append(_channel("CAN_DataFrame.DataBytes", 0, 10, 8 + offset, 512))
        else:
            structure.append(_channel("CAN_DataFrame." + name, 0, 0, 8 + offset, 8 * size))
    record = 8 + 12 + (8 if variable else 64)
    frame = _channel("CAN_DataFrame", 0, 10, 8, 8 * (record - 8), composition=_chain(structure))
    time = _channel("t", 2, 4, 0, 64, sync=1)
    source = Block(b"##SI", [_text("CAN"), None, None], struct.pack("<BBB5x", 2, 2, 0))
    group = Block(b"##CG", [None, _chain([time, frame]), _text("CAN"), source, None, None],
                  struct.pack("<QQHH4xII", record_id, 0, 0x6, 0, record - 0, 0))
    return group, record


def _pack_frame(frame, start_ns, data_field):
    seconds = (frame["t_ns"] - start_ns) / 1e9
    data = bytes.fromhex(frame["data"])
    dlc = len(data) if len(data) <= 8 else {12: 9, 16: 10, 20: 11, 24: 12, 32: 13, 48: 14, 64: 15}[len(data)]
    head = struct.pack("<dBIBBBBBBB", seconds, frame["channel"], frame["id"], frame["ext"], dlc, len(data),
                       frame["tx"], frame["fd"], frame["brs"], frame["esi"])
    return head + data_field


def _data_block(payload, compress, original=b"DT"):
    if not compress:
        return Block(b"##" + original, data=payload)
    packed = zlib.compress(payload)
    return Block(b"##DZ", data=struct.pack("<2sBxIQQ", original, 0, 0, len(payload), len(packed)) + packed)


def write(path, frames, start_ns, layout="unsorted", compress=False, other_every=3):
    """Writes `frames` (dicts as `celldrift convert --to jsonl` prints them, data frames only) in one
    data group. layout: "unsorted" (fixed DataBytes, a non-CAN channel group's records in between),
    "vlsd-sd" (sorted, DataBytes in SD blocks), "vlsd-cg" (unsorted, DataBytes in a VLSD channel group)."""
    variable = layout in ("vlsd-sd", "vlsd-cg")
    records, signal = bytearray(), bytearray()
    vlsd_group = Block(b"##CG", [None, None, None, None, None, None], b"") if layout == "vlsd-cg" else None
    signal_block = None
    if layout == "vlsd-sd":
        signal_block = Block(b"##SD")
    group, _ = _can_group(1, variable, vlsd_group if layout == "vlsd-cg" else signal_block)
    other = Block(b"##CG", [None, _chain([_channel("t", 2, 4, 0, 64, sync=1), _channel("PackVoltage", 0, 4, 8, 64)]),
                            _text("Analog"), None, None, None], struct.pack("<QQHH4xII", 2, 0, 0, 0, 16, 0))
    offset = 0
    for index, frame in enumerate(frames):
        data = bytes.fromhex(frame["data"])
        if layout == "unsorted":
            if index % other_every == 0:
                records += struct.pack("<B", 2) + struct.pack("<dd", (frame["t_ns"] - start_ns) / 1e9, 400.0 + index)
            records += struct.pack("<B", 1) + _pack_frame(frame, start_ns, data.ljust(64, b"\0"))
        elif layout == "vlsd-sd":
            records += _pack_frame(frame, start_ns, struct.pack("<Q", len(signal)))
            signal += struct.pack("<I", len(data)) + data
        else:
            # The VLSD record first, then the frame's record that points at it.
            records += struct.pack("<BI", 3, len(data)) + data
            records += struct.pack("<B", 1) + _pack_frame(frame, start_ns, struct.pack("<Q", offset))
            offset += 4 + len(data)
    record_id_size = 0 if layout == "vlsd-sd" else 1
    if layout == "unsorted":
        group.links[0] = other
        other.data = other.data[:8] + struct.pack("<Q", (len(frames) + other_every - 1) // other_every) + other.data[16:]
    if vlsd_group is not None:
        vlsd_group.data = struct.pack("<QQHH4xII", 3, len(frames), 0x1, 0, offset & 0xFFFFFFFF, offset >> 32)
        group.links[0] = vlsd_group
    group.data = group.data[:8] + struct.pack("<Q", len(frames)) + group.data[16:]
    if signal_block is not None:
        compressed = _data_block(bytes(signal), compress, b"SD")
        signal_block.tag, signal_block.data = compressed.tag, compressed.data
    data_group = Block(b"##DG", [None, group, _data_block(bytes(records), compress), None], struct.pack("<B7x", record_id_size))
    header = Block(b"##HD", [data_group, None, None, None, None, None], struct.pack("<QhhBBBBdd", start_ns, 0, 0, 2, 0, 0, 0, 0.0, 0.0))
    blocks, seen = [], set()

    def visit(block):
        if block is None or id(block) in seen:
            return
        seen.add(id(block))
        blocks.append(block)
        for link in block.links:
            visit(link)

    visit(header)
    address = 64
    for block in blocks:
        block.address = address
        address += block.size() + (-block.size() % 8)
    version = b"4.20    " if layout == "vlsd-cg" else b"4.10    "
    out = bytearray(b"MDF     " + version + b"celldrft" + b"\0" * 4 + struct.pack("<H", 420 if layout == "vlsd-cg" else 410) + b"\0" * 34)
    for block in blocks:
        body = struct.pack("<4s4xQQ", block.tag, block.size(), len(block.links))
        body += b"".join(struct.pack("<Q", link.address if link is not None else 0) for link in block.links) + block.data
        out += body + b"\0" * (-len(body) % 8)
    with open(path, "wb") as file:
        file.write(out)
