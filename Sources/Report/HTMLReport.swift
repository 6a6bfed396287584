import CAN
import Outbox

/// The channels of a vehicle's `TimeBuckets`, as the report command fills them.
public enum ReportChannel {
    public static let spread = 0, current = 1, soc = 2, highestTemperature = 3, lowestTemperature = 4
    /// Cell `i`'s deviation from the pack median is channel `firstCell + i`.
    public static let firstCell = 5
    public static func count(cells: Int) -> Int { firstCell + cells }
}

/// What the report shows of one vehicle: the downsampled series of its logs (if any were given) and
/// its outbox records.
public struct VehicleReport {
    public let vehicle: String
    public let buckets: TimeBuckets?
    public let cells: Int
    public let records: [OutboxRecord]
    /// The spread rule's threshold (V), drawn on the spread chart.
    public let spreadThreshold: Double?
    /// The largest spread of any snapshot (V), exact rather than read off the buckets.
    public let largestSpread: Double?
    public let snapshots: Int
    /// Each cell at the end of the log, with its DBC name and the user's number (empty without a log).
    public let cellSummaries: [CellSummary]

    public init(vehicle: String, buckets: TimeBuckets?, cells: Int, records: [OutboxRecord], spreadThreshold: Double?,
                largestSpread: Double?, snapshots: Int, cellSummaries: [CellSummary] = []) {
        self.cellSummaries = cellSummaries
        self.vehicle = vehicle
        self.buckets = buckets
        self.cells = cells
        self.records = records
        self.spreadThreshold = spreadThreshold
        self.largestSpread = largestSpread
        self.snapshots = snapshots
    }
}

/// One self-contained HTML page: inline SVG and CSS, no script, nothing fetched.
public enum HTMLReport {
    public static func render(title: String, generated: Double, vehicles: [VehicleReport]) -> String {
        var page = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>\(HTML.escape(title))</title>"
            + "<style>\(style)</style></head><body><h1>\(HTML.escape(title))</h1>"
            + "<p class=\"meta\">Generated \(HTML.utc(generated, seconds: true)) UTC by celldrift report. \(vehicles.count) "
            + "vehicle\(vehicles.count == 1 ? "" : "s"). Times are UTC; hover a marker for its alarm.</p>"
        for vehicle in vehicles { page += section(vehicle) }
        return page + "</body></html>\n"
    }

    static func section(_ report: VehicleReport) -> String {
        // An alarm is marked where it was raised; its updates and clear are the same alarm.
        let alarms = report.records.filter { $0.type == .alarm && ($0.transition == nil || $0.transition == "raised") }
        // Each alarm spans from its raise to the clear of the same alarm_id, if one came.
        var clears: [String: Double] = [:]
        for record in report.records where record.transition == "cleared" {
            if let id = alarmID(record) { clears[id] = record.eventTime }
        }
        let markers = alarms.map {
            Marker(time: $0.eventTime, end: clears[$0.id], color: severityColor($0.severity), title: recordTitle($0))
        }
        var text = "<section class=\"vehicle\" data-vehicle=\"\(HTML.escape(report.vehicle))\"><h2>\(HTML.escape(report.vehicle))</h2>"
        var facts: [String] = []
        if report.snapshots > 0 { facts.append("\(report.snapshots) snapshots of \(report.cells) cells") }
        if let buckets = report.buckets, buckets.count > 0 {
            facts.append("from \(HTML.utc(buckets.origin, seconds: true)) to \(HTML.utc(buckets.time(buckets.count), seconds: true))")
        }
        if let largest = report.largestSpread {
            facts.append("largest spread <b class=\"largest-spread\" data-value=\"\(largest)\">\(SVG.label(largest * 1000)) mV</b>")
        }
        let kinds = Dictionary(grouping: alarms, by: \.kind).map { "\($0.value.count) \(HTML.escape($0.key))" }.sorted()
        facts.append(alarms.isEmpty ? "no alarms" : "alarms: " + kinds.joined(separator: ", "))
        text += "<p>" + facts.joined(separator: "; ") + ".</p>"
        if let buckets = report.buckets, buckets.count > 0 {
            text += seriesCharts(report, buckets, markers)
            text += HeatMap.render(buckets, cells: report.cells, numbers: report.cellSummaries.map(\.number))
            text += CellTable.render(report.cellSummaries)
        } else if !alarms.isEmpty {
            text += "<p class=\"note\">No log given for this vehicle (--log): the charts show the outbox only.</p>"
        }
        text += scoreChart(report.records, markers)
        return text + RecordTable.render(report.records) + "</section>"
    }

    static func seriesCharts(_ report: VehicleReport, _ buckets: TimeBuckets, _ markers: [Marker]) -> String {
        let t0 = buckets.origin, t1 = buckets.time(buckets.count)
        var text = ""
        let charts: [(String, String, [BandSeries], Double?)] = [
            ("spread", "Cell voltage spread (mV)", [BandSeries(channel: ReportChannel.spread, scale: 1000, color: "#c0392b", label: "spread")],
             report.spreadThreshold.map { $0 * 1000 }),
            ("current", "Pack current (A, + discharge)", [BandSeries(channel: ReportChannel.current, color: "#2c3e50", label: "current")], nil),
            ("soc", "State of charge (%)", [BandSeries(channel: ReportChannel.soc, color: "#27ae60", label: "soc")], nil),
            ("temperature", "Temperature (°C): highest and lowest sensor",
             [BandSeries(channel: ReportChannel.highestTemperature, color: "#e67e22", label: "highest"),
              BandSeries(channel: ReportChannel.lowestTemperature, color: "#2980b9", label: "lowest")], nil),
        ]
        for (name, title, series, threshold) in charts {
            let ranges = series.compactMap { band in buckets.range(band.channel).map { ($0.minimum * band.scale, $0.maximum * band.scale) } }
            guard !ranges.isEmpty else { continue }
            var low = ranges.map(\.0).min()!, high = ranges.map(\.1).max()!
            if let threshold { low = min(low, threshold); high = max(high, threshold) }
            if name == "spread" { low = 0 }
            let pad = max((high - low) * 0.05, 0.5)
            let frame = ChartFrame(t0: t0, t1: t1, v0: name == "spread" ? 0 : low - pad, v1: high + pad,
                                   height: name == "spread" ? 220 : 140)
            text += "<h3>\(HTML.escape(title))</h3><svg class=\"chart\" data-chart=\"\(name)\" \(frame.attributes) "
                + "width=\"\(Int(frame.width))\" height=\"\(Int(frame.height))\" viewBox=\"0 0 \(Int(frame.width)) \(Int(frame.height))\" "
                + "xmlns=\"http://www.w3.org/2000/svg\">" + SVG.axes(frame, unit: "")
            for band in series { text += SVG.band(buckets, band, frame) }
            if let threshold { text += SVG.threshold(threshold, frame, title: "rule threshold \(SVG.label(threshold)) mV") }
            text += SVG.markers(markers, frame) + "</svg>"
        }
        return text
    }

    static func scoreChart(_ records: [OutboxRecord], _ markers: [Marker]) -> String {
        let scored = records.filter { $0.score != nil }.sorted { $0.eventTime < $1.eventTime }
        guard let first = scored.first, let last = scored.last else {
            return "<p class=\"note\">No model scores in the outbox for this vehicle.</p>"
        }
        let frame = ChartFrame(t0: first.eventTime - 1, t1: last.eventTime + 1, v0: 0, v1: 1, height: 140)
        var text = "<h3>Model scores</h3><svg class=\"chart\" data-chart=\"scores\" \(frame.attributes) width=\"\(Int(frame.width))\" "
            + "height=\"\(Int(frame.height))\" viewBox=\"0 0 \(Int(frame.width)) \(Int(frame.height))\" xmlns=\"http://www.w3.org/2000/svg\">"
            + SVG.axes(frame, unit: "")
        for record in scored {
            text += "<circle class=\"score\" data-score=\"\(record.score!)\" cx=\"\(SVG.number(frame.x(record.eventTime)))\" "
                + "cy=\"\(SVG.number(frame.y(record.score!)))\" r=\"3\"><title>\(HTML.escape(recordTitle(record)))</title></circle>"
        }
        return text + SVG.markers(markers, frame) + "</svg>"
    }

    /// The `alarm_id` at the head of a lifecycle record's payload.
    static func alarmID(_ record: OutboxRecord) -> String? {
        guard let range = record.payload.firstRange(of: "\"alarm_id\": \"") else { return nil }
        return String(record.payload[range.upperBound...].prefix { $0 != "\"" })
    }

    static func recordTitle(_ record: OutboxRecord) -> String {
        "\(HTML.utc(record.eventTime, seconds: true)) \(record.kind)" + (record.cellLabel.map { " \($0)" } ?? "")
            + (record.score.map { " score \(SVG.label($0))" } ?? "") + " (severity \(record.severity))"
    }

    static func severityColor(_ severity: Int) -> String {
        ["#7f8c8d", "#f39c12", "#e74c3c", "#8e44ad"][min(max(severity, 0), 3)]
    }

    static let style = """
        body{font:14px/1.4 "DejaVu Sans",Arial,sans-serif;margin:24px;color:#222;max-width:1000px}
        h2{border-bottom:2px solid #ccc;margin-top:32px}h3{margin:14px 0 2px;font-size:14px}
        .meta,.note{color:#666}svg{display:block}.grid{stroke:#e5e5e5}.tick,.unit{font-size:10px;fill:#555}
        .band{opacity:.35}.mean{fill:none;stroke-width:1}.threshold{stroke:#000;stroke-dasharray:6 4}
        .marker{stroke-width:1.5;opacity:.8}.alarm-span{opacity:.7}table{border-collapse:collapse;font-size:12px;margin-top:12px}
        td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}th{background:#f3f3f3}
        """
}

enum HTML {
    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }

    /// `YYYY-MM-DD HH:MM` (with `:SS` when asked), UTC.
    static func utc(_ seconds: Double, seconds withSeconds: Bool) -> String {
        guard seconds.isFinite else { return "?" }
        let time = CivilTime(epochNanoseconds: Int64((seconds * 1e9).rounded(.down)))
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(time.isoDate) \(two(time.hour)):\(two(time.minute))" + (withSeconds ? ":\(two(time.second))" : "")
    }
}
