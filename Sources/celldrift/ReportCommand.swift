import Agent
import ArgumentParser
import Outbox
import Report

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML report: spread, cell deviations, current, SOC, temperature, scores, alarms.",
        discussion: """
            Per vehicle: the cell voltage spread over time with the rule's threshold, each cell's deviation \
            from the pack median as a heat map, pack current, SOC and temperatures, model scores with the \
            alarms marked, and a table of the outbox's alarms and inference events. The series come from the \
            logs (--log, CAN or JSON snapshots, through the same pipeline as `replay`, with --config); \
            without logs the report shows the outbox only. Long inputs are downsampled to the minimum and \
            maximum per pixel column. Inline SVG and CSS only: no script, nothing fetched (docs/report.md).
            """
    )

    @Option(help: "The outbox database.")
    var db: String

    @Option(help: "A log of a vehicle (repeat for several); needs --config.")
    var log: [String] = []

    @Option(help: "The configuration file (TOML) the logs are read with.")
    var config: String?

    @Option(help: "Vehicle id of the logs (default: the config's `vehicle`, else each log's file name).")
    var vehicle: String?

    @Option(name: [.short, .customLong("output")], help: "The HTML file to write.")
    var output = "report.html"

    @Option(help: "The report's title.")
    var title = "celldrift report"

    /// Plot columns: each chart is 960 px wide, so two buckets per pixel column at most.
    static let buckets = 1_800

    func validate() throws {
        guard log.isEmpty || config != nil else { throw ValidationError("--log needs --config (the DBC and pack mapping)") }
    }

    func run() throws {
        let records: [OutboxRecord]
        try requireOutbox(db)
        do { records = try Outbox(path: db).records() } catch { throw CommandError(error.description) }
        var reports: [String: VehicleReport] = [:]
        var order: [String] = []
        if let config {
            let settings = try PipelineConfig(path: config)
            for path in log {
                let report = try series(of: path, settings)
                if reports[report.vehicle] == nil { order.append(report.vehicle) }
                reports[report.vehicle] = report
            }
        }
        let byVehicle = Dictionary(grouping: records, by: \.vehicle)
        for name in byVehicle.keys.sorted() where reports[name] == nil && (vehicle == nil || name == vehicle) {
            order.append(name)
        }
        let vehicles = order.map { name in
            let logged = reports[name]
            return VehicleReport(vehicle: name, buckets: logged?.buckets, cells: logged?.cells ?? 0, records: byVehicle[name] ?? [],
                                 spreadThreshold: logged?.spreadThreshold, largestSpread: logged?.largestSpread,
                                 snapshots: logged?.snapshots ?? 0, cellSummaries: logged?.cellSummaries ?? [])
        }
        let file = try createOutput(output)
        file.append(HTMLReport.render(title: title, generated: wallSeconds(), vehicles: vehicles))
        try finishOutput(file, output)
        StandardError.line("\(output): \(vehicles.count) vehicle\(vehicles.count == 1 ? "" : "s"), \(records.count) outbox records")
    }

    /// One log through the pipeline, every complete snapshot into the buckets; alarms are not stored
    /// again (the outbox already has them).
    private func series(of path: String, _ settings: PipelineConfig) throws -> VehicleReport {
        let cells = settings.mapping.cells
        let name = vehicleName(of: path, given: vehicle, config: settings)
        let pipeline = VehiclePipeline(config: settings, vehicle: name, wallClock: wallSeconds) { _ in }
        let buckets = TimeBuckets(channels: ReportChannel.count(cells: cells), capacity: Self.buckets)
        let values = UnsafeMutableBufferPointer<Double>.allocate(capacity: buckets.channels)
        defer { values.deallocate() }
        var largest = -Double.infinity
        var pacer: Pacer?
        let counts = try feed(log: path, into: pipeline, config: settings, progress: nil, pacer: &pacer) { time, soc in
            let features = pipeline.features
            largest = max(largest, features.spread)
            values[ReportChannel.spread] = features.spread
            values[ReportChannel.current] = pipeline.latestCurrent
            values[ReportChannel.soc] = soc
            values[ReportChannel.highestTemperature] = pipeline.latestHighestTemperature
            values[ReportChannel.lowestTemperature] = pipeline.latestLowestTemperature
            for cell in 0..<cells { values[ReportChannel.firstCell + cell] = features.deviation[cell] }
            buckets.add(time: time, UnsafeBufferPointer(values))
        }
        if counts.unreadableFiles > 0 { throw CommandError("\(path): cannot be read") }
        let threshold = settings.rules.first { $0.feature == .spread }?.alarm.raiseAbove
        let features = pipeline.features
        let summaries = (0..<cells).map { cell in
            var sum = 0.0, count = 0.0
            for bucket in 0..<buckets.count {
                if let mean = buckets.mean(bucket, ReportChannel.firstCell + cell) { sum += mean; count += 1 }
            }
            return CellSummary(number: cell + settings.mapping.cellNumberBase, name: settings.mapping.cellNames[cell],
                               deviation: features.deviation[cell], meanDeviation: count > 0 ? sum / count : .nan,
                               resistanceRatio: pipeline.detectors.relativeResistance(cell),
                               capacityRatio: pipeline.detectors.relativeCapacity(cell), restDrift: features.restDrift[cell],
                               score: pipeline.cellScores[cell])
        }
        return VehicleReport(vehicle: name, buckets: buckets, cells: cells, records: [], spreadThreshold: threshold,
                             largestSpread: largest.isFinite ? largest : nil, snapshots: pipeline.snapshots - pipeline.incompleteSnapshots,
                             cellSummaries: summaries)
    }
}
