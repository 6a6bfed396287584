/// Each cell's deviation from the pack median over time as a heat map, cells down and time across: a
/// cell drifting away shows as a row turning blue (below the median) or red (above). Colours are
/// quantized in steps of a symmetric scale; equal neighbours merge into one rectangle, which keeps a
/// month of 200 cells to a few hundred kilobytes.
import Outbox

enum HeatMap {
    static let levels = 8

    static func render(_ buckets: TimeBuckets, cells: Int) -> String {
        guard cells > 0, buckets.count > 0 else { return "" }
        let frame = ChartFrame(t0: buckets.origin, t1: buckets.time(buckets.count), v0: 0, v1: Double(cells), width: 960,
                               height: 24 + 10 + max(1, min(4, 400 / Double(cells))) * Double(cells))
        // Scale: the largest mean deviation of any cell, in mV, at least 1 mV.
        var scale = 1.0
        for bucket in 0..<buckets.count {
            for cell in 0..<cells {
                if let mean = buckets.mean(bucket, ReportChannel.firstCell + cell) { scale = max(scale, abs(mean) * 1000) }
            }
        }
        let rowHeight = (frame.height - frame.top - frame.bottom) / Double(cells)
        var text = "<h3>Deviation of each cell from the pack median (mV): cells down, time across</h3>"
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
            if cells <= 32 || cell % 16 == 0 {
                text += "<text class=\"tick\" x=\"\(SVG.number(frame.left - 6))\" y=\"\(y)\" dy=\"\(SVG.number(rowHeight))\" "
                    + "text-anchor=\"end\">\(cell)</text>"
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
                + "<td>\(record.type.rawValue)</td><td>\(HTML.escape(record.kind))</td><td>\(record.severity)</td>"
                + "<td>\(record.cell.map(String.init) ?? "")</td><td>\(record.score.map { SVG.label($0) } ?? "")</td>"
                + "<td>\(record.state.rawValue)</td><td><code>\(HTML.escape(record.id))</code></td></tr>"
        }
        return text + "</table>"
    }
}
