import Agent
import ArgumentParser
import CAN
import Consistency
import JSON
import Model
import Outbox

#if canImport(Glibc)
import Glibc
#endif

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Score the seed's inference requests with the pack model (int8).",
        discussion: """
            Without --batch: reads the seed's single request on standard input, \
            {"vin": "...", "date": "YYYY-MM-DD", "features": "<84 comma-separated numbers>"}, and prints the \
            probability. With --batch FILE (the seed's batch layout: VIN,Date, then 84 numbers, no header): \
            one inference event per row into the outbox (--db), in the seed's event schema (docs/outbox.md).
            """
    )

    @Option(help: "The model file.")
    var model = "firmware-samples/models/pack-model.safetensors"

    @Option(help: "The seed's batch file: one inference event per row into the outbox.")
    var batch: String?

    @Option(help: "The outbox the batch's inference events go into.")
    var db = "celldrift-outbox.db"

    func run() throws {
        let loaded = try ModelFile.load(model)
        guard let batch else {
            var input: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while case let count = read(0, &chunk, chunk.count), count > 0 { input += chunk[0..<count] }
            let request: JSONValue
            do { request = try JSONParser.parse(input) } catch { throw CommandError("request: \(error)") }
            guard let text = request["features"]?.string else { throw CommandError("request: field \"features\" is missing or not a string") }
            print(loaded.probability(try InferenceEvent.parseFeatures(text, where: "request: features")))
            return
        }
        guard let bytes = readFile(batch) else { throw CommandError("\(batch): cannot read the file") }
        let outbox: Outbox
        do { outbox = try Outbox(path: db) } catch { throw CommandError(error.description) }
        var records: [OutboxRecord] = [], bad = 0
        for (index, line) in String(decoding: bytes, as: UTF8.self).split(separator: "\n").enumerated() {
            let fields = line.split(separator: ",", maxSplits: 2).map(String.init)
            do {
                guard fields.count == 3, let day = civilDay(fields[1]) else {
                    throw CommandError("expected VIN,YYYY-MM-DD,84 numbers")
                }
                if let problem = vehicleIDProblem(fields[0]) { throw CommandError("VIN: \(problem)") }
                let inputs = try InferenceEvent.parseFeatures(fields[2], where: "features")
                let probability = loaded.probability(inputs)
                records.append(try InferenceEvent.record(vin: fields[0], date: fields[1], probability: probability, inputs: inputs,
                                                         eventTime: Double(day) * 86_400, wallTime: wallSeconds(),
                                                         severity: probability >= loaded.threshold ? 1 : 0))
            } catch {
                bad += 1
                StandardError.line("\(batch):\(index + 1): \(error); row skipped")
            }
        }
        do { _ = try outbox.append(records) } catch { throw CommandError("\(db): \(error)") }
        print("\(records.count) inference events into \(db) (\(records.filter { $0.severity > 0 }.count) at or above "
            + "\(loaded.threshold)), \(bad) rows skipped")
        if bad > 0 { throw ExitCode(1) }
    }
}
