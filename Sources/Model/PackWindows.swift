import CAN
import Consistency

/// The seed's training windows from its daily table (`VIN,Date,TotalVoltage,…,Label`): for each vehicle
/// and each day x whose 14 previous days and 14 days from x on lie within the vehicle's recorded span,
/// the six measures of days x−14 … x−1 flattened oldest first (84 inputs; a missing day or a `nan`
/// measure is −1), labelled 1 when any day x … x+13 has Label 1.
public struct PackWindows {
    public struct Window {
        public let vehicle: String
        /// Days since 1970-01-01 of day x.
        public let day: Int
        public let inputs: [Double]
        public let label: Int
    }

    public private(set) var windows: [Window] = []

    public init(csv text: String, path: String) throws(ModelError) {
        var days: [String: [Int: (measures: [Double], label: Bool)]] = [:]
        var order: [String] = []
        // Any line ending: "\r\n" (a spreadsheet's export) is one Character, which a split on "\n" never meets.
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
            if index == 0 || fields.count == 1 && fields[0].isEmpty { continue }
            guard fields.count == 9 else { throw ModelError("\(path):\(index + 1): \(fields.count) fields, expected 9 (VIN,Date,6 measures,Label)") }
            guard let day = civilDay(fields[1]) else { throw ModelError("\(path):\(index + 1): Date \"\(fields[1])\" is not YYYY-MM-DD") }
            var measures: [Double] = []
            for (column, field) in fields[2..<8].enumerated() {
                guard let value = Double(field) else {
                    throw ModelError("\(path):\(index + 1): \(DailyMeasures.measureNames[column]) \"\(field)\" is not a number")
                }
                measures.append(value.isNaN ? -1 : value)
            }
            let vehicle = fields[0]
            if days[vehicle] == nil { order.append(vehicle) }
            days[vehicle, default: [:]][day] = (measures, Double(fields[8]) == 1)
        }
        for vehicle in order {
            let table = days[vehicle]!
            guard let first = table.keys.min(), let last = table.keys.max() else { continue }
            var day = first + 14
            while day + 13 <= last {
                var inputs: [Double] = []
                inputs.reserveCapacity(84)
                for previous in (day - 14)..<day { inputs += table[previous]?.measures ?? [Double](repeating: -1, count: 6) }
                let label = (day..<(day + 14)).contains { table[$0]?.label == true } ? 1 : 0
                windows.append(Window(vehicle: vehicle, day: day, inputs: inputs, label: label))
                day += 1
            }
        }
    }

    /// The seed's random 4:1 split of the windows (fixed seed): true for the validation fifth.
    public func randomSplit(seed: UInt64) -> [Bool] {
        var generator = SplitMix(seed)
        var indices = Array(windows.indices)
        for index in stride(from: indices.count - 1, to: 0, by: -1) {
            indices.swapAt(index, Int(generator.next() % UInt64(index + 1)))
        }
        var validation = [Bool](repeating: false, count: windows.count)
        for index in indices.prefix(windows.count / 5) { validation[index] = true }
        return validation
    }

    /// A split by vehicle: a fifth of the vehicles (chosen with `seed`) hold out all their windows.
    public func vehicleSplit(seed: UInt64) -> [Bool] {
        var vehicles = Array(Set(windows.map(\.vehicle))).sorted()
        var generator = SplitMix(seed)
        for index in stride(from: vehicles.count - 1, to: 0, by: -1) {
            vehicles.swapAt(index, Int(generator.next() % UInt64(index + 1)))
        }
        let held = Set(vehicles.prefix(vehicles.count / 5))
        return windows.map { held.contains($0.vehicle) }
    }
}

/// A mistake in a model file or its training data, naming the file and what is wrong.
public struct ModelError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// SplitMix64: a small deterministic generator, so a split or a training run repeats exactly.
public struct SplitMix: RandomNumberGenerator {
    private var state: UInt64
    public init(_ seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\r" }.reversed().drop { $0 == " " || $0 == "\r" }.reversed())
    }
}
