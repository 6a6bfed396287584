/// Each cell's deviation from the pack median over time as a heat map, cells down and time across: a
/// cell drifting away shows as a row turning blue (below the median) or red (above). Colours are
/// quantized in steps of a symmetric scale; equal neighbours merge into one rectangle, which keeps a
/// month of 200 cells to a few hundred kilobytes.
import Outbox

enum HeatMap {
    static let levels = 8

    /// `numbers`: each cell's number as the user counts (the mapping's index base); positions without.
    static func render(_ buckets: TimeBuckets, cells: Int, numbers: [Int] = []) -> String {
        guard cells > 0, buckets.count > 0 else { return "" }
        // Rows of 2 to 16 px: 16 cells make a 256 px map, 216 cells 432 px.
        let rowPixels = max(2, min(16, 480 / Double(cells)))
        let frame = ChartFrame(t0: buckets.origin, t1: buckets.time(buckets.count), v0: 0, v1: Double(cells), width: 960,
                               height: 24 + 10 + rowPixels * Double(cells))
        // A label every so many rows that labels stand at least 12 px apart.
        let labelEvery = max(1, Int((12 / rowPixels).rounded(.up)))
        // Scale: the largest mean deviation of any cell, in mV, at least 1 mV.
        var scale = 1.0
        for bucket in 0..<buckets.count {
            for cell in 0..<cells {
                if let mean = buckets.mean(bucket, ReportChannel.firstCell + cell) { scale = max(scale, abs(mean) * 1000) }
            }
        }
        let rowHeight = (frame.height - frame.top - frame.bottom) / Double(cells)
        var text = "<h3>Deviation of each cell from the pack median (mV): cells down (numbered as in the DBC), time across</h3>"
            + "<svg class=\"heatmap\" data-scale-mv=\"\(scale)\" data-levels=\"\(levels)\" data-cells=\"\(cells)\" \(frame.attributes) "
            + "width=\"\(Int(frame.width))\" height=\"\(Int(frame.height))\" viewBox=\"0 0 \(Int(frame.width)) \(Int(frame.height))\" "
            + "xmlns=\"http://www.w3.org/2000/svg\">" + SVG.axes(frame, unit: "", valueTicks: false)
        for cell in 0..<cells {
            let y = SVG.number(frame.top + Double(cell) * rowHeight)
            var runStart = 0, runLevel: Int?
            func flush(_ end: Int) {
                guard let level = runLevel, level != 0 else { return }
                let x0 = frame.x(buckets.time(runStart)), x1 = frame.x(buckets.time(end))
                text += "<rect data-cell=\"\(cell)\" data-level=\"\(level)\" x=\"\(SVG.number(x0))\" y=\"\(y)\" "
                    + "width=\"\(SVG.number(max(x1 - x0, 0.5)))\" height=\"\(SVG.number(rowHeight))\" fill=\"\(color(level))\"/>"
            }
            for bucket in 0..<buckets.count {
                let level = buckets.mean(bucket, ReportChannel.firstCell + cell).map { quantize($0 * 1000 / scale) }
                if level != runLevel {
                    flush(bucket)
                    runStart = bucket
                    runLevel = level
                }
            }
            flush(buckets.count)
            if cell % labelEvery == 0 {
                let number = cell < numbers.count ? numbers[cell] : cell
                text += "<text class=\"tick\" x=\"\(SVG.number(frame.left - 6))\" y=\"\(SVG.number(frame.top + (Double(cell) + 0.5) * rowHeight))\" "
                    + "dy=\"3.5\" text-anchor=\"end\">\(number)</text>"
            }
        }
        text += "</svg><p class=\"note\">Scale: ±\(SVG.label(scale)) mV in \(levels) steps each way; "
            + legend() + " white within ±\(SVG.label(scale / Double(levels) / 2)) mV.</p>"
        return text
    }

    /// −levels…levels: the step of a value on the scale −1…1.
    static func quantize(_ share: Double) -> Int { max(-levels, min(levels, Int((share * Double(levels)).rounded()))) }

    static func color(_ level: Int) -> String {
        let strength = Double(abs(level)) / Double(levels)
        let fade = Int((255 * (1 - strength)).rounded())
        let (red, green, blue) = level < 0 ? (fade, Int(90 + 165 * (1 - strength)), 255) : (255, fade, fade)
        return "#" + [red, green, blue].map { value in
            let hex = String(value, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }

    static func legend() -> String {
        "<svg width=\"\(16 * (2 * levels + 1))\" height=\"10\" class=\"legend\" xmlns=\"http://www.w3.org/2000/svg\">"
            + (-levels...levels).map { "<rect x=\"\(16 * ($0 + levels))\" y=\"0\" width=\"16\" height=\"10\" fill=\"\(color($0))\"/>" }.joined()
            + "</svg> below … above the median,"
    }
}

/// The alarms and inference events of a vehicle as a table, newest last.
enum RecordTable {
    static func render(_ records: [OutboxRecord]) -> String {
        guard !records.isEmpty else { return "<p class=\"note\">No alarms or inference events in the outbox.</p>" }
        var text = "<table class=\"records\"><tr><th>event time (UTC)</th><th>type</th><th>kind</th><th>severity</th><th>cell</th>"
            + "<th>score</th><th>state</th><th>id</th></tr>"
        for record in records.sorted(by: { $0.eventTime < $1.eventTime }) {
            text += "<tr data-id=\"\(HTML.escape(record.id))\" data-event-time=\"\(record.eventTime)\"><td>\(HTML.utc(record.eventTime, seconds: true))</td>"
                + "<td>\(record.type.rawValue)\(record.transition.map { " (\($0))" } ?? "")</td><td>\(HTML.escape(record.kind))</td><td>\(record.severity)</td>"
                + "<td>\(HTML.escape(record.cellLabel.map { String($0.dropFirst(5)) } ?? ""))</td><td>\(record.score.map { SVG.label($0) } ?? "")</td>"
                + "<td>\(record.state.rawValue)</td><td><code>\(HTML.escape(record.id))</code></td></tr>"
        }
        return text + "</table>"
    }
}

/// What each cell was at the end of a log, for the per-cell table.
public struct CellSummary: Sendable {
    public let number: Int
    public let name: String
    /// V: the deviation from the median at the last snapshot, and its mean over the log.
    public let deviation: Double, meanDeviation: Double
    /// The cell's resistance and capacity against the median cell's (1: as the median), and its drift at
    /// rest (V/h).
    public let resistanceRatio: Double, capacityRatio: Double, restDrift: Double
    /// The cell-drift model's last score (NaN without the model).
    public let score: Double

    public init(number: Int, name: String, deviation: Double, meanDeviation: Double, resistanceRatio: Double,
                capacityRatio: Double, restDrift: Double, score: Double) {
        (self.number, self.name, self.deviation, self.meanDeviation) = (number, name, deviation, meanDeviation)
        (self.resistanceRatio, self.capacityRatio, self.restDrift, self.score) = (resistanceRatio, capacityRatio, restDrift, score)
    }
}

/// The cells ranked by how far they stand from the median at the end, furthest first.
enum CellTable {
    static func render(_ cells: [CellSummary]) -> String {
        guard !cells.isEmpty else { return "" }
        func cell(_ value: Double, _ scale: Double, _ digits: Int) -> String {
            guard value.isFinite else { return "<td>-</td>" }
            let scaled = (value * scale * pow10(digits)).rounded() / pow10(digits)
            return "<td data-value=\"\(value)\">\(scaled)</td>"
        }
        var text = "<h3>Cells, furthest from the median first</h3><table class=\"cells\"><tr><th>rank</th><th>cell</th><th>signal</th>"
            + "<th>deviation now (mV)</th><th>mean deviation (mV)</th><th>resistance / median</th><th>capacity / median</th><th>drift at rest (mV/h)</th>"
            + "<th>model score</th></tr>"
        let ranked = cells.sorted { abs($0.deviation.isFinite ? $0.deviation : 0) > abs($1.deviation.isFinite ? $1.deviation : 0) }
        for (rank, summary) in ranked.enumerated() {
            text += "<tr data-cell-number=\"\(summary.number)\"><td>\(rank + 1)</td><td>\(summary.number)</td><td>\(HTML.escape(summary.name))</td>"
                + cell(summary.deviation, 1000, 1) + cell(summary.meanDeviation, 1000, 1) + cell(summary.resistanceRatio, 1, 2) + cell(summary.capacityRatio, 1, 3)
                + cell(summary.restDrift, 1000, 2) + cell(summary.score, 1, 3) + "</tr>"
        }
        return text + "</table>"
    }

    private static func pow10(_ digits: Int) -> Double { [1, 10, 100, 1000][min(digits, 3)] }
}
