import CAN
import Consistency
import JSON
import Pack

/// The per-cell summary of each vehicle and day (`replay --cells-out`, the fleet job's `cells` table):
/// over the day's complete snapshots, each cell's deviation from the pack median (mean, lowest, highest,
/// last, in mV) and its resistance over the pack median's at the day's last snapshot (NaN until the
/// detectors have learned it: written nan). Cells are numbered and named as the mapping does.
final class CellDays {
    static let header = "vehicle,date,cell_number,cell_name,snapshots,mean_deviation_mv,min_deviation_mv,max_deviation_mv,"
        + "last_deviation_mv,resistance_ratio\n"

    private let vehicle: String
    private let mapping: PackMapping
    private let file: OutputBuffer
    private var day = Int.min
    private var snapshots = 0
    private var sum: [Double], lowest: [Double], highest: [Double], last: [Double], ratio: [Double]

    init(vehicle: String, mapping: PackMapping, file: OutputBuffer) {
        self.vehicle = vehicle
        self.mapping = mapping
        self.file = file
        let zeros = [Double](repeating: 0, count: mapping.cells)
        (sum, lowest, highest, last, ratio) = (zeros, zeros, zeros, zeros, zeros)
    }

    func add(time: Double, _ features: ConsistencyFeatures) {
        let today = Int((time / 86_400).rounded(.down))
        if today != day {
            finish()
            day = today
        }
        for cell in 0..<mapping.cells {
            let millivolts = features.deviation[cell] * 1000
            sum[cell] += millivolts
            lowest[cell] = snapshots == 0 ? millivolts : min(lowest[cell], millivolts)
            highest[cell] = snapshots == 0 ? millivolts : max(highest[cell], millivolts)
            last[cell] = millivolts
            ratio[cell] = features.resistanceRatio[cell]
        }
        snapshots += 1
    }

    /// Writes the day held so far (and starts afresh).
    func finish() {
        guard snapshots > 0 else { return }
        let date = CivilTime(epochNanoseconds: Int64(day) * 86_400_000_000_000).isoDate
        for cell in 0..<mapping.cells {
            file.append("\(vehicle),\(date),\(cell + mapping.cellNumberBase),\(mapping.cellNames[cell]),\(snapshots),"
                + "\(rounded(sum[cell] / Double(snapshots))),\(rounded(lowest[cell])),\(rounded(highest[cell])),\(rounded(last[cell])),"
                + "\(ratio[cell].isFinite && ratio[cell] > 0 ? "\(rounded(ratio[cell]))" : "nan")\n")
            sum[cell] = 0
        }
        snapshots = 0
    }

    /// Microvolt resolution: the BMS's readings have no more.
    private func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}
