import CAN
import Consistency
import DBC
import JSON
import Model
import Outbox
import Pack

/// The pipeline of one vehicle, the same for a replayed log and a live source: decoded frames (or
/// whole snapshots) into the pack state, complete snapshots into the features, the features into the
/// rules, and each raised rule out as an alarm record for the outbox. Storage is sized at creation;
/// a frame that completes no snapshot touches only the pack state.
public final class VehiclePipeline {
    public let vehicle: String
    public let state: PackState
    public let features: ConsistencyFeatures
    public let daily = DailyMeasures()
    /// UTC day numbers on which a rule was active: the daily table's Label.
    public private(set) var alarmDays: Set<Int> = []
    public private(set) var snapshots = 0
    public private(set) var incompleteSnapshots = 0
    /// Frames and snapshots dropped for a time outside `takesTime`.
    public private(set) var rejectedTimes = 0
    /// Of the latest complete snapshot: pack current (A, + discharge) and the highest and lowest
    /// temperature (°C); NaN when not known.
    public private(set) var latestCurrent = Double.nan
    public private(set) var latestHighestTemperature = Double.nan
    public private(set) var latestLowestTemperature = Double.nan
    /// Called with the time of every complete snapshot once the feature window is full, after
    /// `cellFeatures` took it (training reads the cells' inputs here); set before the first frame.
    public var onCellInputs: ((Double) -> Void)?
    /// The cell-drift model's inputs (updated only while a cell model or `onCellInputs` is set) and its latest
    /// score of every cell, with the highest (the pack score) and its cell; NaN before the first scoring.
    public let cellFeatures: CellDriftFeatures
    public let cellScores: UnsafeMutableBufferPointer<Double>
    public private(set) var packCellScore = (score: Double.nan, cell: -1, time: Double.nan)
    /// The pack model's latest daily score.
    public private(set) var packModelScore = (probability: Double.nan, exceeded: false, time: Double.nan)
    /// Counts scorings of either model: the daemon republishes the scores when it moves.
    public private(set) var scoresRevision = 0
    private var rules: [ConfiguredRule]
    /// The per-cell estimators and sensor watch with their sequential tests (`[detection]`).
    public let detectors: CellDetectors
    private let cellNames: [String], sensorNames: [String]
    private let cellNumberBase: Int, sensorNumberBase: Int
    private var packModel: PackModel?
    private var cellModel: CellDriftModel?
    private var cellAlarm: RuleAlarm?
    private var nextCellScoring = -Double.infinity
    private var openDay: Int?
    private let wallClock: () -> Double
    private let onAlarm: (OutboxRecord) -> Void
    /// Every alarm from raise to clear (`[alarms]`): its transitions are the records `onAlarm` gets.
    private let lifecycle: AlarmLifecycle

    /// `onAlarm` receives each raised alarm (to commit to the outbox); `wallClock` stamps its wall time.
    public init(config: PipelineConfig, vehicle: String, wallClock: @escaping () -> Double,
                onAlarm: @escaping (OutboxRecord) -> Void) {
        self.vehicle = vehicle
        state = PackState(mapping: config.mapping, staleAfter: config.staleAfter, tick: config.tick)
        features = ConsistencyFeatures(cells: config.mapping.cells, window: config.window, trends: config.trends)
        detectors = CellDetectors(cells: config.mapping.cells, sensors: config.mapping.temperatureSensors, settings: config.detection)
        cellFeatures = CellDriftFeatures(features: features, detectors: detectors)
        cellScores = .allocate(capacity: config.mapping.cells)
        cellScores.initialize(repeating: .nan)
        rules = config.rules
        cellNames = config.mapping.cellNames
        (cellNumberBase, sensorNumberBase) = (config.mapping.cellNumberBase, config.mapping.sensorNumberBase)
        sensorNames = config.mapping.sensorNames
        packModel = config.packModel?.copy()
        self.wallClock = wallClock
        self.onAlarm = onAlarm
        lifecycle = AlarmLifecycle(vehicle: vehicle, settings: config.alarms, wallClock: wallClock, emit: onAlarm)
        setCellModel(config.cellModel, keepingAlarm: false)
    }

    deinit { cellScores.deallocate() }

    private func setCellModel(_ model: CellDriftModel?, keepingAlarm: Bool) {
        cellModel = model?.copy()
        let wasActive = keepingAlarm && cellAlarm?.isActive == true
        cellAlarm = model?.alarm()
        if wasActive { cellAlarm?.assumeActive() }
    }

    /// Takes a reloaded config's rules and model (SIGHUP), keeping the pack state, the features and the
    /// daily measures; a rule that keeps its name keeps whether it is raised, so a reload raises nothing
    /// twice. The DBC, the mapping and the window need a restart (their storage is sized at start).
    public func reload(_ config: PipelineConfig) {
        rules = config.rules.map { rule in
            guard let old = rules.first(where: { $0.alarm.name == rule.alarm.name }), old.alarm.isActive else { return rule }
            var kept = rule
            kept.alarm.assumeActive()
            return kept
        }
        packModel = config.packModel?.copy()
        setCellModel(config.cellModel, keepingAlarm: true)
    }

    /// Event times in seconds from 1970 (a log's own clock may start at 0) to 2100: what the day and hour
    /// arithmetic downstream is sized for. Anything else (milliseconds, nanoseconds, NaN, garbage) is not
    /// a time in seconds.
    @inline(__always)
    public static func takesTime(_ time: Double) -> Bool { time >= 0 && time < 4_102_444_800 }

    /// Takes the frame the decoder has just decoded, at `time` (event time, seconds). True when it
    /// completed a snapshot with every cell fresh, which then went through features and rules.
    @inline(__always)
    public func frame(_ decoder: FrameDecoder, time: Double) -> Bool {
        guard Self.takesTime(time) else {
            rejectedTimes += 1
            return false
        }
        guard state.apply(decoder, time: time) else { return false }
        snapshots += 1
        guard state.takeSnapshot(at: time) == 0 else {
            // Stale cells are never reused: no features and no rules on an incomplete snapshot.
            incompleteSnapshots += 1
            return false
        }
        process(time: time, voltages: UnsafeBufferPointer(state.voltages),
                 temperatures: UnsafeBufferPointer(state.temperatures), packVoltage: state.voltage, current: state.current,
                 soc: state.soc, periodStartCurrent: state.periodStartCurrent, balancing: state.balancing,
                 cellBleeding: state.cellBalancingKnown(at: time) ? UnsafeBufferPointer(state.cellBalancing) : nil)
        return true
    }

    /// Takes a JSON snapshot (the MQTT payload) already checked with `requireCells`.
    public func take(_ snapshot: Snapshot) {
        snapshot.voltages.withUnsafeBufferPointer { cells in
            snapshot.temperatures.withUnsafeBufferPointer { temperatures in
                // Without the field, no flags (nil): a snapshot carries them whole or not at all.
                let flags = snapshot.cellBalancing ?? []
                flags.withUnsafeBufferPointer {
                    self.snapshot(time: snapshot.time, voltages: cells, temperatures: temperatures, packVoltage: snapshot.voltage ?? .nan,
                                  current: snapshot.current ?? .nan, soc: snapshot.soc ?? .nan, balancing: snapshot.balancing ?? false,
                                  cellBleeding: snapshot.cellBalancing == nil ? nil : $0)
                }
            }
        }
    }

    /// Takes a whole snapshot: one voltage per mapped cell, and where the BMS reports them its balancing
    /// flag and per-cell flags (one per cell).
    public func snapshot(time: Double, voltages: UnsafeBufferPointer<Double>, temperatures: UnsafeBufferPointer<Double>,
                         packVoltage: Double, current: Double, soc: Double = .nan, balancing: Bool = false,
                         cellBleeding: UnsafeBufferPointer<Bool>? = nil) {
        guard Self.takesTime(time) else {
            rejectedTimes += 1
            return
        }
        snapshots += 1
        process(time: time, voltages: voltages, temperatures: temperatures, packVoltage: packVoltage, current: current, soc: soc,
                balancing: balancing, cellBleeding: cellBleeding)
    }

    /// `periodStartCurrent`: the current when the snapshot's first cell frame came (PackState); a JSON
    /// snapshot has one current. `balancing`: the BMS's balancing flag, where the mapping names it;
    /// `cellBleeding`: its per-cell flags, where the mapping names them and they are not stale.
    private func process(time: Double, voltages: UnsafeBufferPointer<Double>, temperatures: UnsafeBufferPointer<Double>,
                         packVoltage: Double, current: Double, soc: Double, periodStartCurrent: Double? = nil, balancing: Bool = false,
                         cellBleeding: UnsafeBufferPointer<Bool>? = nil) {
        features.update(time: time, voltages: voltages, temperatures: temperatures, current: current)
        detectors.update(time: time, deviation: features.deviation, median: features.median, spread: features.spread,
                         temperatures: temperatures, current: current, periodStartCurrent: periodStartCurrent, soc: soc,
                         balancing: balancing, cellBleeding: cellBleeding) { detection in
            raise(detection, time: time, current: current)
        }
        latestCurrent = current
        latestHighestTemperature = temperatures.max() ?? .nan
        latestLowestTemperature = temperatures.min() ?? .nan
        var active = false
        for index in rules.indices {
            let (value, cell) = rules[index].feature.value(in: features)
            let transition = rules[index].alarm.observe(value, at: time)
            active = active || rules[index].alarm.isActive
            let rule = rules[index]
            switch transition {
            case .raised(let since)?:
                lifecycle.raise(kind: rule.alarm.name, subject: subject(cell: cell), cell: cell, severity: rule.alarm.severity, time: time,
                                magnitude: value, body: payload(rule, value: value, cell: cell, since: since, current: current))
            case .cleared?:
                lifecycle.clear(kind: rule.alarm.name, time: time)
            case nil where rule.alarm.isActive && value >= rule.alarm.clearBelow:
                // Updates while the value holds beyond the clear threshold: below it the rule is on its way to a clear.
                lifecycle.observe(kind: rule.alarm.name, magnitude: value, time: time) {
                    payload(rule, value: value, cell: cell, since: time, current: current)
                }
            case nil:
                break
            }
        }
        if cellModel != nil || onCellInputs != nil {
            cellFeatures.update(time: time, temperatures: temperatures, current: current)
            active = scoreCells(time: time, current: current) || active
            if features.count == features.window { onCellInputs?(time) }
        }
        lifecycle.expire(time: time) { episode in "{" + (episode.cell.map { String(cellIdentity($0).dropFirst(2)) } ?? "") + "}" }
        let day = Int((time / 86_400).rounded(.down))
        if active { alarmDays.insert(day) }
        daily.add(time: time, packVoltage: packVoltage.isNaN ? voltages.reduce(0, +) : packVoltage, current: current,
                  highestCell: voltages.max() ?? .nan, lowestCell: voltages.min() ?? .nan,
                  highestTemperature: latestHighestTemperature, lowestTemperature: latestLowestTemperature)
        if let open = openDay, day > open { scorePackModel(day: day, time: time) }
        openDay = day
    }

    /// At the first snapshot of a day the previous days are complete: the pack model scores the day on
    /// the 14 before it, as the seed's daily batch did, and the inference event goes into the outbox.
    private func scorePackModel(day: Int, time: Double) {
        guard let packModel else { return }
        let inputs = daily.inputs(forDay: day)
        let probability = packModel.probability(inputs)
        let exceeded = probability >= packModel.threshold
        notePackScore(probability, exceeded: exceeded, time: time)
        let date = CivilTime(epochNanoseconds: Int64(day) * 86_400_000_000_000).isoDate
        let id = OutboxRecord.id(vehicle: vehicle, kind: InferenceEvent.kind, subject: date, eventTime: time)
        guard let record = try? InferenceEvent.record(vin: vehicle, date: date, probability: probability, inputs: inputs,
                                                      eventTime: time, wallTime: wallClock(),
                                                      severity: exceeded ? 1 : 0, id: id) else { return }
        onAlarm(record)
    }

    /// A pack-model score of this vehicle (its daily scoring, or one asked through the local API).
    public func notePackScore(_ probability: Double, exceeded: Bool, time: Double) {
        packModelScore = (probability, exceeded, time)
        scoresRevision += 1
    }

    /// The latest scores of both models as JSON (the daemon's retained scores topic); null where a model
    /// is not configured or has not scored yet.
    public func scoresJSON() -> String {
        func rounded(_ value: Double, _ scale: Double = 1e6) -> String { value.isFinite ? "\((value * scale).rounded() / scale)" : "null" }
        var text = "{\"pack_model\": "
        text += packModelScore.time.isNaN ? "null" : "{\"event_time\": \(rounded(packModelScore.time, 1000)), "
            + "\"score\": \(rounded(packModelScore.probability)), \"threshold_exceeded\": \(packModelScore.exceeded)}"
        text += ", \"cell_model\": "
        if let cellModel, packCellScore.time.isFinite {
            text += "{\"event_time\": \(rounded(packCellScore.time, 1000)), \"pack_score\": \(rounded(packCellScore.score)), "
                + "\"cell\": \(packCellScore.cell), \"threshold\": \(cellModel.threshold), \"alarm\": \(cellAlarm?.isActive == true), "
                + "\"cell_scores\": [" + (0..<cellScores.count).map { rounded(cellScores[$0], 1e4) }.joined(separator: ", ") + "]}"
        } else {
            text += "null"
        }
        return text + "}"
    }

    /// Every `scoreInterval` seconds once the window is full: every cell through the cell-drift model, the
    /// highest score into its alarm. True while that alarm is raised.
    private func scoreCells(time: Double, current: Double) -> Bool {
        guard let cellModel, features.count == features.window, time >= nextCellScoring else { return cellAlarm?.isActive == true }
        nextCellScoring = time + cellModel.scoreInterval
        let best = cellModel.score(cellFeatures, into: cellScores)
        packCellScore = (best.score, best.cell, time)
        scoresRevision += 1
        guard let transition = cellAlarm?.observe(best.score, at: time), let cellAlarm else {
            if cellAlarm?.isActive == true, let name = cellAlarm?.name {
                lifecycle.observe(kind: name, magnitude: best.score, time: time) { "{\"model\": \"cell-drift\"" + cellIdentity(best.cell) + "}" }
            }
            return cellAlarm?.isActive == true
        }
        guard case .raised(let since) = transition else {
            lifecycle.clear(kind: cellAlarm.name, time: time)
            return false
        }
        let inputs = cellFeatures.inputs(cell: best.cell)
        let named = zip(CellDriftFeatures.names, inputs).map { "\"\($0)\": \(number($1))" }.joined(separator: ", ")
        let payload = "{\"model\": \"cell-drift\"" + cellIdentity(best.cell)
            + ", \"score\": \(number(best.score)), \"threshold\": \(number(cellModel.threshold)), "
            + "\"above_since\": \(number(since)), \"hold_s\": \(number(cellModel.holdSeconds)), \"spread_v\": \(number(features.spread)), "
            + "\"current_a\": \(number(current)), \"cell_inputs\": {\(named)}}"
        lifecycle.raise(kind: cellAlarm.name, subject: subject(cell: best.cell), cell: best.cell, severity: cellAlarm.severity, time: time,
                        magnitude: best.score, scored: true, body: payload)
        return true
    }

    /// A detector's alarm: the cell (or sensor) by position and by its DBC name, the estimate and its unit,
    /// how sure, and how far from the BMS's rule.
    private func raise(_ detection: Detection, time: Double, current: Double) {
        var payload = "{\"detector\": \"\(detection.kind.rawValue)\", \"evidence\": \"\(detection.evidence.rawValue)\""
        if let cell = detection.cell {
            payload += cellIdentity(cell) + ", \"cell_deviation_v\": \(number(features.deviation[cell]))"
        }
        if let sensor = detection.sensor {
            payload += ", \"sensor\": \(sensor), \"sensor_number\": \(sensor + sensorNumberBase), \"sensor_name\": \(quotedName(sensorNames, sensor))"
            let covered = detectors.cellsCovered(bySensor: sensor)
            payload += ", \"cells_covered\": [\(covered.lowerBound), \(covered.upperBound)]"
        }
        switch detection.kind {
        case .resistanceRise:
            payload += ", \"delta_r_ohm\": \(number(detection.magnitude)), \"delta_r_share\": \(number(detection.relative))"
                + ", \"median_resistance_ohm\": \(number(detectors.medianResistance))"
                + ", \"deviation_at_recent_peak_v\": \(number(detection.deviationAtPeak))"
        case .leak:
            payload += ", \"leak_a\": \(number(detection.magnitude)), \"leak_c\": \(number(detection.relative))"
                + ", \"time_to_rule_s\": \(number(detection.timeToRule))"
            // What the size rests on (the sizes above are null on a plateau and before the slope is learned,
            // when these are null too: docs/features.md).
            let basis = detection.ocvSlope
            let secant = detectors.scale.ocvSlopeBasis
            payload += ", \"ocv_slope_v\": \(number(basis?.slope ?? secant?.slope ?? .nan))"
                + ", \"ocv_slope_reach_soc\": \(number(basis?.reach ?? secant?.reach ?? .nan))"
                + ", \"ocv_slope_rise_v\": \(number(basis?.rise ?? secant?.rise ?? .nan))"
                + ", \"ocv_slope_from\": \(basis?.fromChargeClimb == true ? "\"charge_climb\"" : secant != nil ? "\"rest_bins\"" : "null")"
                + ", \"ocv_plateau_seen\": \(detectors.scale.plateauSeen)"
            if let steady = detection.fallSteady {
                payload += ", \"fall_steady\": \(steady)"
            }
            if detection.evidence == .chargeEnds, let cell = detection.cell {
                let ends = detectors.chargeEndFall(cell)
                payload += ", \"charge_end_fall_v\": \(number(ends.fall)), \"charge_end_below_median_v\": \(number(ends.belowMedian))"
                    + ", \"charge_end_interval_s\": \(number(ends.seconds))"
            }
        case .sensor:
            payload += ", \"shift_k\": \(number(detection.magnitude))"
        case .readingStep:
            payload += ", \"step_v\": \(number(detection.magnitude)), \"step_readings\": \(number(detection.relative))"
        case .capacityLow:
            let estimate = detectors.capacityEstimate(detection.cell ?? 0, spread: features.spread)
            payload += ", \"capacity_loss_ah\": \(number(detection.magnitude)), \"capacity_loss_share\": \(number(detection.relative))"
                + ", \"soc_span\": \(number(estimate.socSpan)), \"rest_points\": \(estimate.restPoints)"
                + ", \"soc_swing_to_rule\": \(number(estimate.socSwingToRule))"
            if detection.evidence == .chargeEnds, let cell = detection.cell {
                let ends = detectors.chargeEndFall(cell)
                payload += ", \"time_to_rule_s\": \(number(detection.timeToRule)), \"charge_end_rise_v\": \(number(-ends.fall))"
                    + ", \"charge_end_above_median_v\": \(number(-ends.belowMedian)), \"charge_end_interval_s\": \(number(ends.seconds))"
            }
        }
        payload += ", \"confidence\": \(number(detection.confidence)), \"capacity_ah\": \(number(detectors.scale.capacity))"
            + ", \"spread_v\": \(number(features.spread)), \"current_a\": \(number(current))}"
        alarmDays.insert(Int((time / 86_400).rounded(.down)))
        let subject = detection.sensor.map { "sensor-\($0 + sensorNumberBase)" } ?? subject(cell: detection.cell)
        lifecycle.raise(kind: detection.kind.rawValue, subject: subject, cell: detection.cell, severity: 1, time: time,
                        magnitude: detection.magnitude, body: payload)
    }

    /// A rule alarm's payload: the feature's value, the pack's features, and the cell's when it names one.
    private func payload(_ rule: ConfiguredRule, value: Double, cell: Int?, since: Double, current: Double) -> String {
        var payload = "{\"feature\": \"\(rule.feature.rawValue)\", \"value\": \(number(value)), "
            + "\"raise_above\": \(number(rule.alarm.raiseAbove)), \"above_since\": \(number(since)), "
            + "\"spread_v\": \(number(features.spread)), \"median_v\": \(number(features.median)), \"std_v\": \(number(features.standardDeviation)), "
            + "\"max_modified_z\": \(number(features.maximumModifiedZ)), \"temperature_range_c\": \(number(features.temperatureRange)), "
            + "\"current_a\": \(number(current))"
        if let cell {
            payload += cellIdentity(cell) + ", \"cell_deviation_v\": \(number(features.deviation[cell])), "
                + "\"cell_deviation_slope_v_per_h\": \(number(features.deviationSlope[cell])), "
                + "\"cell_correlation\": \(number(features.correlation[cell])), \"cell_resistance_ratio\": \(number(features.resistanceRatio[cell])), "
                + "\"cell_rest_drift_v_per_h\": \(number(features.restDrift[cell])), "
                + "\"cell_capacity_ratio\": \(number(detectors.relativeCapacity(cell)))"
        }
        return payload + "}"
    }
}

extension VehiclePipeline {
    /// The alarm's subject: `cell-<user number>` or `pack`.
    fileprivate func subject(cell: Int?) -> String { cell.map { "cell-\($0 + cellNumberBase)" } ?? "pack" }

    /// A cell as the user's DBC names it: `, "cell_number": <position + the mapping's index base>,
    /// "cell_name": "<signal>"` (the record's `cell` stays the 0-based position).
    fileprivate func cellIdentity(_ cell: Int) -> String {
        ", \"cell_number\": \(cell + cellNumberBase), \"cell_name\": \(quotedName(cellNames, cell))"
    }
}

private func quotedName(_ names: [String], _ index: Int) -> String {
    index < names.count ? String(decoding: JSONText.quoted(names[index]), as: UTF8.self) : "null"
}

/// A number in an alarm's JSON payload: null when it is not finite.
private let number = JSONText.number
