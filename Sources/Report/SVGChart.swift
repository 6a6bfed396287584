/// The pixel geometry of one plot: time across, value up. Its numbers go into the SVG as data
/// attributes (`data-t0` … `data-v1`), so a reader (or a test) can turn any drawn point back into data.
public struct ChartFrame: Sendable {
    public let t0: Double, t1: Double
    public let v0: Double, v1: Double
    public let width: Double, height: Double
    public let left = 64.0, right = 16.0, top = 10.0, bottom = 24.0

    public init(t0: Double, t1: Double, v0: Double, v1: Double, width: Double = 960, height: Double = 180) {
        self.t0 = t0
        self.t1 = t1 > t0 ? t1 : t0 + 1
        self.v0 = v0
        self.v1 = v1 > v0 ? v1 : v0 + 1
        self.width = width
        self.height = height
    }

    public func x(_ time: Double) -> Double { left + (time - t0) / (t1 - t0) * (width - left - right) }
    public func y(_ value: Double) -> Double { height - bottom - (value - v0) / (v1 - v0) * (height - top - bottom) }

    var attributes: String {
        "data-t0=\"\(t0)\" data-t1=\"\(t1)\" data-v0=\"\(v0)\" data-v1=\"\(v1)\" data-x0=\"\(x(t0))\" data-x1=\"\(x(t1))\" "
            + "data-y0=\"\(y(v0))\" data-y1=\"\(y(v1))\""
    }
}

/// One series drawn from a bucket channel: a band from each bucket's minimum to its maximum, and its mean.
public struct BandSeries {
    public let channel: Int
    public let scale: Double
    public let color: String
    public let label: String
    public init(channel: Int, scale: Double = 1, color: String, label: String) {
        self.channel = channel
        self.scale = scale
        self.color = color
        self.label = label
    }
}

/// A moment marked on a chart: an alarm, with what a hover shows.
/// An alarm on a chart: from its raise (`time`) to its clear (`end`; nil while still active).
public struct Marker {
    public let time: Double
    public let end: Double?
    public let color: String
    public let title: String
    public init(time: Double, end: Double? = nil, color: String, title: String) {
        self.time = time
        self.end = end
        self.color = color
        self.title = title
    }
}

enum SVG {
    static func number(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? "\(Int(rounded))" : "\(rounded)"
    }

    /// Axes, grid and tick labels of a frame.
    static func axes(_ frame: ChartFrame, unit: String, valueTicks: Bool = true) -> String {
        var text = ""
        for value in valueTicks ? niceTicks(frame.v0, frame.v1) : [] {
            let y = number(frame.y(value))
            text += "<line class=\"grid\" x1=\"\(number(frame.left))\" x2=\"\(number(frame.width - frame.right))\" y1=\"\(y)\" y2=\"\(y)\"/>"
                + "<text class=\"tick\" x=\"\(number(frame.left - 6))\" y=\"\(y)\" text-anchor=\"end\" dy=\"4\">\(label(value))</text>"
        }
        for (time, name) in timeTicks(frame.t0, frame.t1) {
            let x = number(frame.x(time))
            text += "<line class=\"grid\" x1=\"\(x)\" x2=\"\(x)\" y1=\"\(number(frame.top))\" y2=\"\(number(frame.height - frame.bottom))\"/>"
                + "<text class=\"tick\" x=\"\(x)\" y=\"\(number(frame.height - 6))\" text-anchor=\"middle\">\(name)</text>"
        }
        text += "<text class=\"unit\" x=\"4\" y=\"\(number(frame.top + 10))\">\(HTML.escape(unit))</text>"
        return text
    }

    /// The band and mean line of a series, broken where buckets have no data.
    static func band(_ buckets: TimeBuckets, _ series: BandSeries, _ frame: ChartFrame) -> String {
        var text = "", upper: [String] = [], lower: [String] = [], means: [String] = []
        func flush() {
            if !upper.isEmpty {
                text += "<polygon class=\"band\" data-series=\"\(series.label)\" fill=\"\(series.color)\" points=\""
                    + (upper + lower.reversed()).joined(separator: " ") + "\"/>"
                text += "<polyline class=\"mean\" stroke=\"\(series.color)\" points=\"" + means.joined(separator: " ") + "\"/>"
            }
            upper = []; lower = []; means = []
        }
        for bucket in 0..<buckets.count {
            guard let low = buckets.minimum(bucket, series.channel), let high = buckets.maximum(bucket, series.channel),
                  let mean = buckets.mean(bucket, series.channel) else { flush(); continue }
            for edge in [buckets.time(bucket), buckets.time(bucket) + buckets.width] {
                let x = number(frame.x(min(edge, frame.t1)))
                upper.append("\(x),\(number(frame.y(high * series.scale)))")
                lower.append("\(x),\(number(frame.y(low * series.scale)))")
            }
            means.append("\(number(frame.x(buckets.time(bucket) + buckets.width / 2))),\(number(frame.y(mean * series.scale)))")
        }
        flush()
        return text
    }

    /// Each alarm as a span along the chart's top, from its raise to its clear (to the chart's end while
    /// active), with a short tick at the raise: the data under it stays visible.
    static func markers(_ markers: [Marker], _ frame: ChartFrame) -> String {
        markers.filter { $0.time >= frame.t0 && $0.time <= frame.t1 }.enumerated().map { index, marker in
            let x0 = frame.x(marker.time), x1 = frame.x(min(marker.end ?? frame.t1, frame.t1))
            let y = frame.top + Double(index % 3) * 5
            let title = "<title>\(HTML.escape(marker.title))</title>"
            return "<line class=\"marker\" data-time=\"\(marker.time)\" stroke=\"\(marker.color)\" x1=\"\(number(x0))\" x2=\"\(number(x0))\" "
                + "y1=\"\(number(frame.top))\" y2=\"\(number(frame.top + 16))\">\(title)</line>"
                + "<rect class=\"alarm-span\" data-time=\"\(marker.time)\" data-end=\"\(marker.end.map { "\($0)" } ?? "active")\" "
                + "x=\"\(number(x0))\" y=\"\(number(y))\" width=\"\(number(max(x1 - x0, 2)))\" height=\"4\" fill=\"\(marker.color)\">\(title)</rect>"
        }.joined()
    }

    static func threshold(_ value: Double, _ frame: ChartFrame, title: String) -> String {
        let y = number(frame.y(value))
        return "<line class=\"threshold\" data-value=\"\(value)\" x1=\"\(number(frame.left))\" x2=\"\(number(frame.width - frame.right))\" "
            + "y1=\"\(y)\" y2=\"\(y)\"><title>\(HTML.escape(title))</title></line>"
    }

    /// About five round values spanning `low`...`high`.
    static func niceTicks(_ low: Double, _ high: Double) -> [Double] {
        let span = max(high - low, 1e-9), raw = span / 5
        var base = 1.0
        while base > raw { base /= 10 }
        while base * 10 <= raw { base *= 10 }
        // The round step (1, 2 or 5 times a power of ten) that gives the closest to five intervals.
        let step = [base, 2 * base, 5 * base, 10 * base].min { abs(span / $0 - 5) < abs(span / $1 - 5) }!
        var ticks: [Double] = [], value = (low / step).rounded(.up) * step
        while value <= high + step * 1e-9 { ticks.append(value); value += step }
        return ticks
    }

    static func label(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude >= 100 || value == value.rounded() { return "\(Int(value.rounded()))" }
        return magnitude >= 10 ? "\((value * 10).rounded() / 10)" : "\((value * 100).rounded() / 100)"
    }

    /// Ticks at round UTC times, labelled `MM-DD HH:MM` (or `HH:MM:SS` under a minute apart).
    static func timeTicks(_ t0: Double, _ t1: Double) -> [(Double, String)] {
        let steps: [Double] = [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400, 2 * 86_400, 7 * 86_400]
        let step = steps.first { (t1 - t0) / $0 <= 8 } ?? 30 * 86_400
        var ticks: [(Double, String)] = [], time = (t0 / step).rounded(.up) * step
        while time <= t1 {
            ticks.append((time, HTML.utc(time, seconds: step < 60)))
            time += step
        }
        return ticks
    }
}
