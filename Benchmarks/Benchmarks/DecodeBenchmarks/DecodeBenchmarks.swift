// Allocation counts of the per-frame paths (ordo-one/benchmark's malloc interposer counts every malloc).
import Benchmark
import CAN
import DBC

let benchmarks: @Sendable () -> Void = {
    let dbc = "../firmware-samples/foxbms.dbc"
    // Written by scripts/bench-decode.sh (scripts/bench/make_log.py) before the benchmarks run.
    let log = "../.build-bench/bench-sample.log"
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .memoryLeaked],
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )

    Benchmark("decode one frame (foxBMS DBC, mixed messages)") { benchmark in
        let database = try CompiledDatabase(path: dbc)
        let decoder = FrameDecoder(database)
        let reader = try LogReader(path: log)
        var frames: [CANFrame] = []
        while let frame = try reader.next() { frames.append(frame) }
        var index = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(decoder.decode(frames[index]))
            for position in 0..<decoder.presentCount { blackHole(decoder.physical(decoder.presentSignal(position))) }
            index = index + 1 == frames.count ? 0 : index + 1
        }
    }

    Benchmark("read one candump line and decode it") { benchmark in
        let database = try CompiledDatabase(path: dbc)
        let decoder = FrameDecoder(database)
        var reader = try LogReader(path: log)
        var frame = CANFrame(id: 0)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            if try !reader.next(into: &frame) {
                benchmark.stopMeasurement()
                reader = try LogReader(path: log)
                _ = try reader.next(into: &frame)
                benchmark.startMeasurement()
            }
            blackHole(decoder.decode(frame))
        }
    }

    Benchmark("create and copy a 64-byte CAN FD frame") { benchmark in
        var sink = 0
        for iteration in benchmark.scaledIterations {
            var frame = CANFrame(timestamp: Int64(iteration), id: 0x123, flags: [.fd], length: 64)
            frame.payload[63] = UInt8(truncatingIfNeeded: iteration)
            let copy = frame
            sink &+= Int(copy.payload[63])
        }
        blackHole(sink)
    }
}
