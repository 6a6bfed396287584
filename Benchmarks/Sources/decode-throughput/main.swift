// Decodes a log held in memory, to set celldrift's per-frame cost beside cantools' generated C on the
// same frames: no file reading or printing in the timed part.
import CAN
import DBC

#if canImport(Glibc)
import Glibc
#endif

func seconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func run() throws {
    let arguments = CommandLine.arguments
    guard arguments.count >= 3 else {
        print("usage: decode-throughput DBC LOG [PASSES]")
        exit(2)
    }
    let database = try CompiledDatabase(path: arguments[1])
    let reader = try LogReader(path: arguments[2])
    var frames: [CANFrame] = []
    while let frame = try reader.next() { frames.append(frame) }
    let passes = arguments.count > 3 ? Int(arguments[3])! : 5
    let decoder = FrameDecoder(database)

    func measure(physical: Bool) -> (Double, Double) {
        var best = Double.infinity
        var checksum = 0.0
        for _ in 0..<passes {
            let start = seconds()
            frames.withUnsafeBufferPointer { frames in
            for index in frames.indices {
                guard case .decoded = decoder.decode(at: frames.baseAddress! + index) else { continue }
                if physical {
                    for position in 0..<decoder.presentCount { checksum += decoder.physical(decoder.presentSignal(position)) }
                } else {
                    checksum += 1  // like the C driver: count, read nothing back
                }
            }
            }
            best = min(best, seconds() - start)
        }
        return (best / Double(frames.count) * 1e9, checksum)
    }

    let (raw, rawSum) = measure(physical: false)
    let (physical, physicalSum) = measure(physical: true)
    print("celldrift in memory: \(frames.count) frames, best of \(passes) passes: "
        + "\((raw * 10).rounded() / 10) ns/frame raw, \((physical * 10).rounded() / 10) ns/frame with physical values "
        + "(checksums \(rawSum), \(physicalSum))")
}

try run()
