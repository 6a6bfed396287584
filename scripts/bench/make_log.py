"""Writes a candump -L log of N random frames over every message of a DBC, multiplexer fields set to
valid pages, for the decode benchmark. Deterministic for a given seed."""
import argparse
import random
import sys

import cantools


def set_bits(payload, signal, raw):
    """Writes a raw value into a payload by the DBC bit rules (Intel: LSB first; Motorola: MSB first, sawtooth)."""
    position = signal.start
    for index in range(signal.length):
        if signal.byte_order == "little_endian":
            bit, value = signal.start + index, (raw >> index) & 1
        else:
            bit, value = position, (raw >> (signal.length - 1 - index)) & 1
            position = position + 15 if position % 8 == 0 else position - 1
        payload[bit // 8] = payload[bit // 8] & ~(1 << (bit % 8)) | (value << (bit % 8))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dbc")
    parser.add_argument("output")
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    database = cantools.database.load_file(args.dbc, strict=False)
    templates = []
    for message in database.messages:
        mux = [s for s in message.signals if s.is_multiplexer]
        if len(mux) > 1:
            continue  # nested multiplexing: not in the benchmark DBC
        pages = [key for node in message.signal_tree if isinstance(node, dict) for key in node[mux[0].name]] if mux else []
        ident = f"{message.frame_id:08X}" if message.is_extended_frame else f"{message.frame_id:03X}"
        templates.append((ident, message.length, mux[0] if mux else None, pages))
    time = 1_700_000_000.0
    with open(args.output, "w") as out:
        lines = []
        for index in range(args.frames):
            ident, length, mux, pages = templates[rng.randrange(len(templates))]
            payload = bytearray(rng.getrandbits(8) for _ in range(length))
            if mux is not None and pages:
                set_bits(payload, mux, pages[rng.randrange(len(pages))])
            time += 0.0001
            lines.append(f"({time:.6f}) can0 {ident}#{payload.hex().upper()}\n")
            if len(lines) == 10_000:
                out.writelines(lines)
                lines.clear()
        out.writelines(lines)
    print(f"wrote {args.frames} frames over {len(templates)} messages to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
