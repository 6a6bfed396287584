/// The seed's six daily measures per vehicle-day (means of pack voltage, current, highest and lowest
/// cell voltage, highest and lowest temperature), kept for the last 14 days in storage sized at
/// creation, and the pack model's 84 inputs built from them the way the seed builds them.
public final class DailyMeasures {
    public static let measures = 6
    public static let days = 14
    /// The seed's names of the six measures, in the order of `means(day:)` and of its CSV columns.
    public static let measureNames = ["total_voltage", "total_current", "cell_max_voltage", "cell_min_voltage",
                                      "max_temperature", "min_temperature"]
    /// The seed's names of the 84 inputs in their order: day 14 (the oldest) first, `_1` the most recent.
    public static let inputNames = stride(from: days, through: 1, by: -1).flatMap { day in measureNames.map { "\($0)_\(day)" } }

    private var currentDay: Int?
    private var sums = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    private var count = 0
    /// Ring of completed days: day number and its six means.
    private let dayNumbers: UnsafeMutableBufferPointer<Int>
    private let means: UnsafeMutableBufferPointer<Double>
    private var next = 0

    public init() {
        dayNumbers = .allocate(capacity: Self.days)
        dayNumbers.initialize(repeating: Int.min)
        means = .allocate(capacity: Self.days * Self.measures)
        means.initialize(repeating: 0)
    }

    deinit {
        dayNumbers.deallocate()
        means.deallocate()
    }

    /// Adds one snapshot at `time` (Unix seconds, UTC days).
    public func add(time: Double, packVoltage: Double, current: Double, highestCell: Double, lowestCell: Double,
                    highestTemperature: Double, lowestTemperature: Double) {
        let day = Int((time / 86_400).rounded(.down))
        if let open = currentDay, open != day { close() }
        currentDay = day
        sums.0 += packVoltage
        sums.1 += current
        sums.2 += highestCell
        sums.3 += lowestCell
        sums.4 += highestTemperature
        sums.5 += lowestTemperature
        count += 1
    }

    /// Ends the day in progress (also done when a snapshot of a later day arrives).
    public func close() {
        guard let day = currentDay, count > 0 else { return }
        let samples = Double(count)
        dayNumbers[next] = day
        let values = [sums.0, sums.1, sums.2, sums.3, sums.4, sums.5]
        for measure in 0..<Self.measures { means[next * Self.measures + measure] = values[measure] / samples }
        next = (next + 1) % Self.days
        sums = (0, 0, 0, 0, 0, 0)
        count = 0
        currentDay = nil
    }

    /// The completed days held, oldest first.
    public var heldDays: [Int] { (0..<Self.days).map { dayNumbers[$0] }.filter { $0 != Int.min }.sorted() }

    /// The six means of a completed day still held, or nil.
    public func means(day: Int) -> [Double]? {
        guard let slot = (0..<Self.days).first(where: { dayNumbers[$0] == day }) else { return nil }
        return (0..<Self.measures).map { means[slot * Self.measures + $0] }
    }

    /// The seed's 84 inputs for day `day`: the six measures of days `day − 14` ... `day − 1`, oldest first,
    /// −1 for each measure of a day without data.
    public func inputs(forDay day: Int) -> [Double] {
        var result: [Double] = []
        result.reserveCapacity(Self.days * Self.measures)
        for previous in (day - Self.days)..<day {
            result += means(day: previous) ?? Array(repeating: -1, count: Self.measures)
        }
        return result
    }
}
