import CAN

/// The payloads a source carries (docs/daemon.md), parsed in this one place for the daemon's MQTT
/// messages and for replay's snapshot files: a JSON snapshot, a binary frame (8-byte timestamp, then the
/// kernel's `can_frame` or `canfd_frame`), or candump -L lines (several separated by line breaks when a
/// bridge batches its frames).
public enum SourcePayload {
    /// A JSON snapshot of a pack that must have `cells` cells: refused before any pipeline takes it.
    public static func snapshot(_ bytes: UnsafeBufferPointer<UInt8>, cells: Int) throws -> Snapshot {
        let snapshot = try Snapshot(json: Array(bytes))
        try snapshot.requireCells(cells)
        return snapshot
    }

    /// The binary frame payload: an 8-byte little-endian timestamp in nanoseconds, then the kernel's
    /// `can_frame` (24 bytes in all) or `canfd_frame` (80). Nil when the payload is not one (text: a
    /// binary frame always has zero padding bytes); false for an error frame.
    public static func binaryFrame(_ payload: UnsafeBufferPointer<UInt8>, into frame: inout CANFrame) -> Bool? {
        guard payload.count == 8 + SocketCANReader.classicSize || payload.count == 8 + SocketCANReader.fdSize,
              payload.contains(where: { $0 < 0x09 }) else { return nil }
        let raw = UnsafeRawBufferPointer(payload)
        frame.timestamp = raw.loadUnaligned(fromByteOffset: 0, as: Int64.self)
        return SocketCANReader.decode(UnsafeRawBufferPointer(rebasing: raw[8...]), into: &frame)
    }

    /// Parses one payload of any of the three kinds, handing each frame to `frame` (the same storage,
    /// refilled: nothing is allocated per frame), a snapshot to `snapshot`, and each part that is none of
    /// them to `malformed`, with the reason to log (nil for an error frame: the bus's, not the payload's
    /// fault, counted without a line each).
    public static func parse(_ payload: UnsafeBufferPointer<UInt8>, cells: Int, frame: inout CANFrame,
                             snapshot: (Snapshot) -> Void, frames: (inout CANFrame) -> Void,
                             malformed: (_ reason: String?) -> Void) {
        if payload.first == UInt8(ascii: "{") {
            do { snapshot(try Self.snapshot(payload, cells: cells)) } catch { malformed("malformed snapshot: \(error)") }
            return
        }
        if let binary = binaryFrame(payload, into: &frame) {
            if binary { frames(&frame) } else { malformed(nil) }
            return
        }
        guard !payload.isEmpty else {
            malformed("malformed payload (0 bytes): empty")
            return
        }
        var start = 0
        while start < payload.count {
            var end = start
            while end < payload.count, payload[end] != 0x0A { end += 1 }
            defer { start = end + 1 }
            let line = UnsafeBufferPointer(rebasing: payload[start..<end])
            if line.isEmpty || (line.count == 1 && line[0] == 0x0D) { continue }
            let outcome = CandumpLine.parse(line, into: &frame)
            guard case .frame = outcome else {
                let reason = if case .invalid(let text) = outcome { text } else { "not a candump line" }
                malformed("malformed payload (\(payload.count) bytes): \(reason)")
                continue
            }
            frames(&frame)
        }
    }
}
