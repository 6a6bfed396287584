// Allocation counts and per-frame times of the per-frame paths. ordo-one/benchmark's malloc
// interposer counts every malloc; each sample is 1,000 frames, set-up and a warm-up read excluded.
import Benchmark
#if canImport(Glibc)
import Glibc
#endif
import CAN
import Consistency
import DBC
import Model
import Pack
import TOML

let benchmarks: @Sendable () -> Void = {
    // The repository root, from this file's path: the plugin's working directory varies.
    let root = String(#filePath).split(separator: "/").dropLast(4).joined(separator: "/")
    let dbc = "/\(root)/firmware-samples/foxbms.dbc"
    // Written by scripts/bench-decode.sh (scripts/bench/make_log.py) before the benchmarks run.
    let log = "/\(root)/.build-bench/bench-sample.log"
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 10_000
    )

    Benchmark("decode a frame and read its physical values (foxBMS DBC)") { benchmark in
        let database = try CompiledDatabase(path: dbc)
        let decoder = FrameDecoder(database)
        let reader = try LogReader(path: log)
        var frames: [CANFrame] = []
        while let frame = try reader.next() { frames.append(frame) }
        var index = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(frames.withUnsafeBufferPointer { decoder.decode(at: $0.baseAddress! + index) })
            for position in 0..<decoder.presentCount { blackHole(decoder.physical(decoder.presentSignal(position))) }
            index = index + 1 == frames.count ? 0 : index + 1
        }
        benchmark.stopMeasurement()
    }

    Benchmark("read a candump line from a file and decode it") { benchmark in
        let database = try CompiledDatabase(path: dbc)
        let decoder = FrameDecoder(database)
        let reader = try LogReader(path: log)
        var frame = CANFrame(id: 0)
        _ = try reader.next(into: &frame)  // the first read sets up zlib's buffers
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            guard try reader.next(into: &frame) else { break }
            blackHole(decoder.decode(frame))
        }
        benchmark.stopMeasurement()
    }

    // Written by scripts/bench-logs.sh (scripts/bench/make_binary_logs.py): the same frames as BLF and MF4.
    for (name, file) in [("BLF (zlib containers)", "bench-binary-sample.blf"), ("MF4 (transposed deflate)", "bench-binary-sample-transposed.mf4"),
                         ("MF4 (plain data blocks)", "bench-binary-sample.mf4")] {
        Benchmark("read a frame from a \(name) file") { benchmark in
            let reader = try LogReader(path: "/\(root)/.build-bench/\(file)")
            var frame = CANFrame(id: 0)
            // The first container or data block sets up the buffers; steady state is measured.
            for _ in 0..<5000 { _ = try reader.next(into: &frame) }
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                guard try reader.next(into: &frame) else { break }
                blackHole(frame.id)
            }
            benchmark.stopMeasurement()
        }
    }

    Benchmark("consistency features of a 96-cell snapshot, 60-snapshot window") { benchmark in
        let features = ConsistencyFeatures(cells: 96, window: 60)
        var voltages = (0..<96).map { 3.7 + Double($0 % 7) * 0.001 }
        let temperatures = [Double](repeating: 20, count: 96)
        benchmark.startMeasurement()
        for iteration in benchmark.scaledIterations {
            voltages[iteration % 96] += 0.0001
            voltages.withUnsafeBufferPointer { cells in
                temperatures.withUnsafeBufferPointer { features.update(time: Double(iteration), voltages: cells, temperatures: $0, current: .nan) }
            }
        }
        benchmark.stopMeasurement()
        blackHole(features.spread)
    }

    Benchmark("replay: decode a simulated BMS frame and update the pack state") { benchmark in
        let packDBC = try CompiledDatabase(path: "/\(root)/firmware-samples/celldrift_pack.dbc")
        let config = try TOMLParser.parse(String(decoding: readFile("/\(root)/firmware-samples/celldrift_pack.toml")!, as: UTF8.self))
        let mapping = try PackMapping(config["pack"]!.table!, path: "celldrift_pack.toml", database: packDBC)
        let decoder = FrameDecoder(packDBC)
        let state = PackState(mapping: mapping)
        let reader = try LogReader(path: "/\(root)/firmware-samples/simulated/micro-short.log.gz")
        var frames: [CANFrame] = []
        while let frame = try reader.next() { frames.append(frame) }
        var index = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let frame = frames[index]
            if case .decoded = decoder.decode(frame), state.apply(decoder, time: frame.seconds) {
                blackHole(state.takeSnapshot(at: frame.seconds))
            }
            index = index + 1 == frames.count ? 0 : index + 1
        }
        benchmark.stopMeasurement()
    }

    Benchmark("create and copy a 64-byte CAN FD frame") { benchmark in
        var sink = 0
        benchmark.startMeasurement()
        for iteration in benchmark.scaledIterations {
            var frame = CANFrame(timestamp: Int64(iteration), id: 0x123, flags: [.fd], length: 64)
            frame.payload[63] = UInt8(truncatingIfNeeded: iteration)
            let copy = frame
            sink &+= Int(copy.payload[63])
        }
        benchmark.stopMeasurement()
        blackHole(sink)
    }

    // One window per iteration (scaling factor one), so the percentiles are per inference.
    Benchmark("pack model: one int8 inference, 84 inputs (shipped model)",
              configuration: .init(metrics: [.wallClock, .mallocCountTotal], scalingFactor: .one, maxIterations: 100_000)) { benchmark in
        let model = try ModelFile.load("/\(root)/firmware-samples/models/pack-model.safetensors")
        var windows: [[Double]] = []
        for window in 0..<64 {
            var inputs: [Double] = []
            for index in 0..<84 { inputs.append(3.5 + Double((index * 7 + window * 13) % 50) / 10) }
            windows.append(inputs)
        }
        var sink = 0.0
        for iteration in benchmark.scaledIterations {
            benchmark.startMeasurement()
            sink += windows[iteration % 64].withUnsafeBufferPointer { model.probability($0) }
            benchmark.stopMeasurement()
        }
        blackHole(sink)
    }

    Benchmark("pack model: 1,000 int8 inferences back to back (shipped model)") { benchmark in
        let model = try ModelFile.load("/\(root)/firmware-samples/models/pack-model.safetensors")
        let inputs = (0..<84).map { 3.5 + Double($0 % 50) / 10 }
        var sink = 0.0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { sink += inputs.withUnsafeBufferPointer { model.probability($0) } }
        benchmark.stopMeasurement()
        blackHole(sink)
    }

    // One scoring of a 96-cell pack per iteration: every cell's inputs through the shared network.
    Benchmark("cell-drift model: score 96 cells (shipped model)",
              configuration: .init(metrics: [.wallClock, .mallocCountTotal], scalingFactor: .one, maxIterations: 100_000)) { benchmark in
        let model = try ModelFile.loadCellDrift("/\(root)/firmware-samples/models/cell-model.safetensors")
        let features = ConsistencyFeatures(cells: 96, window: 60)
        let detectors = CellDetectors(cells: 96, sensors: 96, settings: DetectionSettings())
        let drift = CellDriftFeatures(features: features, detectors: detectors)
        var voltages = (0..<96).map { 3.7 + Double($0 % 7) / 1000 }
        let temperatures = (0..<96).map { 25 + Double($0 % 5) / 2 }
        for step in 0..<120 {
            voltages[17] -= 0.0001
            let (time, current) = (Double(step * 10), Double(step % 3) * 20)
            voltages.withUnsafeBufferPointer { cells in
                temperatures.withUnsafeBufferPointer {
                    features.update(time: time, voltages: cells, temperatures: $0, current: current)
                    detectors.update(time: time, deviation: features.deviation, median: features.median, spread: features.spread,
                                     temperatures: $0, current: current, soc: .nan) { _ in }
                    drift.update(time: time, temperatures: $0, current: current)
                }
            }
        }
        let scores = UnsafeMutableBufferPointer<Double>.allocate(capacity: 96)
        defer { scores.deallocate() }
        var sink = 0.0
        for _ in benchmark.scaledIterations {
            benchmark.startMeasurement()
            sink += model.score(drift, into: scores).score
            benchmark.stopMeasurement()
        }
        blackHole(sink)
    }

    // The cell-drift inputs of one 96-cell snapshot (the pack's spread is a median of 96): every complete
    // snapshot while a cell model is configured.
    Benchmark("cell-drift inputs: one 96-cell snapshot",
              configuration: .init(metrics: [.wallClock, .mallocCountTotal], scalingFactor: .one, maxIterations: 100_000)) { benchmark in
        let features = ConsistencyFeatures(cells: 96, window: 60)
        let detectors = CellDetectors(cells: 96, sensors: 96, settings: DetectionSettings())
        let drift = CellDriftFeatures(features: features, detectors: detectors)
        let voltages = (0..<96).map { 3.7 + Double($0 % 7) / 1000 }
        let temperatures = (0..<96).map { 25 + Double($0 % 5) / 2 }
        voltages.withUnsafeBufferPointer { cells in
            temperatures.withUnsafeBufferPointer { features.update(time: 0, voltages: cells, temperatures: $0, current: 20) }
        }
        var time = 0.0
        temperatures.withUnsafeBufferPointer { readings in
            for _ in benchmark.scaledIterations {
                time += 1
                benchmark.startMeasurement()
                drift.update(time: time, temperatures: readings, current: 20)
                benchmark.stopMeasurement()
            }
        }
    }

    // One complete snapshot of a 96-cell pack through the per-cell estimators and their tests (driving,
    // so every test works): what each snapshot adds to the pipeline.
    // A current that jumps every snapshot (the pair test's busiest case); a steady one under which four
    // cells' readings step by 8 mV every 10 snapshots (the reading-step test's busiest: a step waiting
    // for its window after in every snapshot); and 15-minute rests between 5-minute loads with the SOC
    // moving 20 % either way (the capacity test's: a rest point each rest, its fit refitted); the same with
    // the BMS's per-cell bleed flags, every other cell bled through the rests, 2 s a snapshot (the bleed
    // accounting marks an hour every 1,800 snapshots and estimates from the 49th hour on); and charges to
    // the top every 1,800 snapshots (20 min at C/2 tapering to C/20 over the last 7, then a rest), one
    // cell reading 20 mV further below the others at each top (the charge-end test keeps every charging
    // snapshot's deviations and compares each top with the last).
    for load in ["", ", steady current, four readings stepping", ", rests between loads, SOC moving",
                 ", rests between loads, SOC moving, bleed flags", ", charges to the top, a cell falling behind"] {
        let steady = load.contains("steady"), resting = load.contains("rests"), bleeds = load.contains("bleed")
        let charges = load.contains("charges")
        Benchmark("detectors: one snapshot of 96 cells (resistance, leak, 32 sensors\(load))",
                  configuration: .init(metrics: [.wallClock, .mallocCountTotal], scalingFactor: .one, maxIterations: 100_000)) { benchmark in
            let features = ConsistencyFeatures(cells: 96, window: 60)
            var settings = DetectionSettings()
            if resting || charges { settings.capacity = 100 }
            if bleeds { settings.bleedCurrent = 0.06 }
            let detectors = CellDetectors(cells: 96, sensors: 32, settings: settings)
            var flags = [Bool](repeating: false, count: 96)
            var voltages = (0..<96).map { 3.7 + Double($0 % 7) / 1000 }
            let temperatures = (0..<32).map { 25 + Double($0 % 5) / 2 }
            var sink = 0
            for iteration in benchmark.scaledIterations {
                let soc = resting ? 60 + 20 * sin(Double(iteration) / 3000) : 60
                let phase = Double(iteration % 1800), knee = phase >= 800 && phase < 1200 ? (phase - 800) / 400 : 0
                let current = charges ? (phase < 1200 ? -50 * (1 - 0.9 * knee) : 0)
                    : resting ? (iteration % 1200 < 900 ? 0 : 30) : steady ? 20 : Double((iteration * 37) % 200) - 60
                for cell in 0..<96 {
                    let stepped = steady && cell % 24 == 0 && (iteration / 10 + cell / 24) % 2 == 0
                    voltages[cell] = charges ? 3.33 + knee * (0.1 - (cell == 5 ? 0.02 * Double(iteration / 1800) : 0))
                        + Double(cell % 7) / 1000 - 0.0007 * current
                        : resting ? 3.2 + 0.8 * soc / 100 * (1 + (cell == 5 ? 0.1 : 0)) + Double(cell % 7) / 1000 - 0.0007 * current
                        : steady ? 3.7 + Double(cell % 7) / 1000 + (stepped ? 0.008 : 0)
                        : 3.7 + Double((cell + iteration) % 7) / 1000 - 0.0007 * current
                }
                for cell in 0..<96 { flags[cell] = bleeds && cell % 2 == 0 && current == 0 }
                let time = Double(iteration) * (bleeds ? 2 : 1)
                benchmark.startMeasurement()
                voltages.withUnsafeBufferPointer { cells in
                    temperatures.withUnsafeBufferPointer { sensors in
                        flags.withUnsafeBufferPointer { bleeding in
                            features.update(time: time, voltages: cells, temperatures: sensors, current: current)
                            detectors.update(time: time, deviation: features.deviation, median: features.median,
                                             spread: features.spread, temperatures: sensors, current: current, soc: soc,
                                             cellBleeding: bleeds ? bleeding : nil) { _ in sink += 1 }
                        }
                    }
                }
                benchmark.stopMeasurement()
            }
            blackHole(sink)
        }
    }
}
