import CAN
import Consistency
import JSON
import Outbox

/// The seed's stored inference event (../shared/data/README.md): request_id, vin, date, predicted_prob
/// and the 84 inputs named total_voltage_14 … min_temperature_1, kept in the outbox like an alarm. The
/// request id is the record id, so the idempotency key and the seed's key are one.
public enum InferenceEvent {
    public static let kind = "pack_consistency_14d"

    /// The outbox record of one inference; `date` is YYYY-MM-DD, `inputs` the 84 model inputs in the seed's order.
    public static func record(vin: String, date: String, probability: Double, inputs: [Double], eventTime: Double,
                              wallTime: Double, severity: Int = 0, id: String = makeUUID()) throws(AgentError) -> OutboxRecord {
        guard inputs.count == DailyMeasures.inputNames.count else {
            throw AgentError("features: \(inputs.count) numbers where the model takes \(DailyMeasures.inputNames.count)")
        }
        var payload = "{\"request_id\": \(quoted(id)), \"vin\": \(quoted(vin)), \"date\": \(quoted(date)), "
            + "\"predicted_prob\": \(probability)"
        for (name, value) in zip(DailyMeasures.inputNames, inputs) { payload += ", \"\(name)\": \(value.isFinite ? "\(value)" : "null")" }
        return OutboxRecord(id: id, type: .inference, vehicle: vin, kind: kind, severity: severity, eventTime: eventTime,
                            wallTime: wallTime, score: probability, payload: payload + "}")
    }

    /// The seed's column order, for a CSV export of inference events.
    public static let columns = ["request_id", "vin", "date", "predicted_prob"] + DailyMeasures.inputNames

    private static func quoted(_ text: String) -> String { String(decoding: JSONText.quoted(text), as: UTF8.self) }
}

extension InferenceEvent {
    /// The seed's `features` string: 84 comma-separated numbers (`predict`, and the daemon's POST /inference).
    public static func parseFeatures(_ text: String, where place: String) throws(AgentError) -> [Double] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == DailyMeasures.inputNames.count else {
            throw AgentError("\(place): \(parts.count) numbers where the model takes \(DailyMeasures.inputNames.count)")
        }
        var values: [Double] = []
        values.reserveCapacity(parts.count)
        for (index, part) in parts.enumerated() {
            guard let value = Double(String(part.filter { $0 != " " && $0 != "\r" && $0 != "\"" })), value.isFinite else {
                throw AgentError("\(place): number \(index + 1) (\(DailyMeasures.inputNames[index])) \"\(part)\" is not a number")
            }
            values.append(value)
        }
        return values
    }

    /// A `POST /inference` body (the seed's request: vin, date, features) read and checked; what a client of
    /// the daemon controls, so the fuzzer reads its inputs through it too.
    public static func request(_ body: [UInt8]) throws -> (vin: String, date: String, day: Int, inputs: [Double]) {
        let request = try JSONParser.parse(body)
        guard let vin = request["vin"]?.string, let date = request["date"]?.string, let day = civilDay(date),
              let text = request["features"]?.string else {
            throw AgentError("request needs vin, date (YYYY-MM-DD) and features (84 comma-separated numbers)")
        }
        if let problem = vehicleIDProblem(vin) { throw AgentError("vin: \(problem)") }
        return (vin, date, day, try parseFeatures(text, where: "features"))
    }
}
