import Agent
import CAN
import DBC
import Gateway
import Model
import TOML

#if canImport(Glibc)
import Glibc
#endif

/// Each fuzz target: what one input goes through. Errors are the expected answer to bad input; a trap,
/// a hang or a sanitizer report is the finding.
enum Target: String, CaseIterable {
    case dbc, candump, asc, trc, gvret, pcan, gzip, blf, mf4, toml, config, snapshot, payload, http, model

    func run(_ input: UnsafeBufferPointer<UInt8>) {
        switch self {
        case .dbc:
            if let database = try? DBCParser.parse(bytes: Array(input), path: "fuzz.dbc") { _ = CompiledDatabase(database) }
        case .candump: readLog(input, .candump)
        case .asc: readLog(input, .asc)
        case .trc: readLog(input, .trc)
        case .gvret: readLog(input, .gvret)
        case .pcan: readLog(input, .pcanText)
        case .gzip: readLog(input, nil)
        case .blf: readLog(input, nil)
        case .mf4: readLog(input, nil)
        case .toml: _ = try? TOMLParser.parse(String(decoding: input, as: UTF8.self), path: "fuzz.toml")
        case .config:
            Scratch.shared.write(input, to: Scratch.shared.config)
            _ = try? PipelineConfig(path: Scratch.shared.config)
        case .snapshot: _ = try? Snapshot(json: Array(input))
        case .payload:
            var frame = CANFrame(id: 0)
            var count = 0
            SourcePayload.parse(input, cells: 96, frame: &frame, snapshot: { _ in count += 1 }, frames: { _ in count += 1 },
                                malformed: { _ in count += 1 })
        case .http:
            // The request, then its body as `POST /inference` reads it.
            _ = HTTPRequest.parse(Array(input), maximumBytes: 65_536)
            _ = try? InferenceEvent.request(Array(input))
        case .model:
            Scratch.shared.write(input, to: Scratch.shared.model)
            _ = try? ModelFile.load(Scratch.shared.model)
            _ = try? ModelFile.loadCellDrift(Scratch.shared.model)
        }
    }

    private func readLog(_ input: UnsafeBufferPointer<UInt8>, _ format: LogFormat?) {
        Scratch.shared.write(input, to: Scratch.shared.log)
        guard let reader = try? LogReader(path: Scratch.shared.log, format: format) else { return }
        var frame = CANFrame(id: 0)
        while (try? reader.next(into: &frame)) == true {}
    }
}

/// Files the targets that read paths are given: in a private directory on tmpfs, the DBC and models a
/// config may name copied beside them.
final class Scratch: @unchecked Sendable {
    static let shared = Scratch()
    let directory: String
    var log: String { directory + "/input.log" }
    var config: String { directory + "/celldrift.toml" }
    var model: String { directory + "/input.safetensors" }

    private init() {
        var template = Array("/dev/shm/celldrift-fuzz-XXXXXX".utf8CString)
        directory = String(cString: mkdtemp(&template))
        let samples = getenv("CELLDRIFT_SAMPLES").map { String(cString: $0) } ?? "firmware-samples"
        mkdir(directory + "/models", 0o700)
        for file in ["celldrift_pack.dbc", "models/pack-model.safetensors", "models/cell-model.safetensors"] {
            copy(samples + "/" + file, to: directory + "/" + file)
        }
    }

    func write(_ input: UnsafeBufferPointer<UInt8>, to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return }
        _ = Glibc.write(fd, input.baseAddress, input.count)
        close(fd)
    }

    private func copy(_ source: String, to destination: String) {
        guard let input = fopen(source, "rb"), let output = fopen(destination, "wb") else { return }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while case let count = fread(&buffer, 1, buffer.count, input), count > 0 { fwrite(buffer, 1, count, output) }
        fclose(input)
        fclose(output)
    }
}
