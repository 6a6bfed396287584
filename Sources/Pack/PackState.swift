import DBC

/// The pack as the frames describe it, updated frame by frame without allocating. A snapshot is due
/// when every cell has been refreshed since the last one, or, as a fallback when cells are missing,
/// when `tick` seconds (event time) have passed; `tick` must exceed the BMS's cell refresh period, or
/// snapshots would fire part-way through a refresh and mix two periods. A cell not refreshed for
/// `staleAfter` seconds is stale and is never passed on as current.
///
/// A BMS sends its cell pages in bursts (a page every few milliseconds, then a silence until the next
/// period). A period counted from wherever a log or a gap happened to begin would close on the next
/// burst's first page and pair it with the previous burst's others: under a drive current that differs
/// second to second those cells stand tens of millivolts apart from the rest, in every snapshot of the
/// day. So a frame that would complete the period after a silence longer than twice any gap inside the
/// period opens a new period instead (the burst it starts is the one the snapshot waits for).
public final class PackState {
    public let mapping: PackMapping
    public let staleAfter: Double
    public let tick: Double
    /// Volts and °C, and the event time (s) each was last refreshed.
    public let voltages: UnsafeMutableBufferPointer<Double>
    public let voltageTimes: UnsafeMutableBufferPointer<Double>
    public let temperatures: UnsafeMutableBufferPointer<Double>
    public let temperatureTimes: UnsafeMutableBufferPointer<Double>
    /// Cells refreshed since the last snapshot.
    private let refreshed: UnsafeMutableBufferPointer<Bool>
    // The scalars below are written per frame, on the one thread that feeds the pack: unchecked, as the
    // runtime's exclusivity checks on them were 40 % of `apply`'s instructions (callgrind, daemon bench).
    @exclusivity(unchecked) private var refreshedCount = 0
    /// Starts at the first frame: counting from minus infinity would snapshot on the very first frame and
    /// lock every later snapshot to that frame's place in the refresh cycle.
    @exclusivity(unchecked) private var lastSnapshot: Double?
    /// The event time of the last frame that carried a cell voltage, the longest gap between such frames
    /// in the present period, and how many of them the period has had.
    @exclusivity(unchecked) private var lastCellFrame: Double?
    @exclusivity(unchecked) private var longestGapInPeriod = 0.0
    @exclusivity(unchecked) private var cellFramesInPeriod = 0
    @exclusivity(unchecked) public private(set) var current = Double.nan
    /// The current in force when the period's first cell frame came. A BMS measures its cells together and
    /// sends them page by page while a faster status message goes on carrying each instant's current: by
    /// the last page that current can be most of a period newer than the cells (0.7 s on the held-out
    /// fleet's 10 Hz layouts, in which drive currents move on). The resistance test chooses between the two.
    @exclusivity(unchecked) public private(set) var periodStartCurrent = Double.nan
    @exclusivity(unchecked) public private(set) var voltage = Double.nan
    @exclusivity(unchecked) public private(set) var soc = Double.nan
    /// Whether the BMS said it was bleeding cells (passive balancing) in its latest status; false unmapped.
    @exclusivity(unchecked) public private(set) var balancing = false
    /// Per cell, whether the BMS said it was bleeding it in its latest flag, and the event time (s) the
    /// latest flag came.
    public let cellBalancing: UnsafeMutableBufferPointer<Bool>
    @exclusivity(unchecked) public private(set) var cellBalancingTime = -Double.infinity

    public init(mapping: PackMapping, staleAfter: Double = 5, tick: Double = 2) {
        self.mapping = mapping
        self.staleAfter = staleAfter
        self.tick = tick
        func buffer(_ count: Int, _ value: Double) -> UnsafeMutableBufferPointer<Double> {
            let buffer = UnsafeMutableBufferPointer<Double>.allocate(capacity: max(count, 1))
            buffer.initialize(repeating: value)
            return buffer
        }
        voltages = buffer(mapping.cells, .nan)
        voltageTimes = buffer(mapping.cells, -.infinity)
        temperatures = buffer(mapping.temperatureSensors, .nan)
        temperatureTimes = buffer(mapping.temperatureSensors, -.infinity)
        refreshed = .allocate(capacity: mapping.cells)
        refreshed.initialize(repeating: false)
        cellBalancing = .allocate(capacity: max(mapping.cells, 1))
        cellBalancing.initialize(repeating: false)
    }

    deinit {
        for buffer in [voltages, voltageTimes, temperatures, temperatureTimes] { buffer.deallocate() }
        refreshed.deallocate()
        cellBalancing.deallocate()
    }

    /// Takes the mapped signals of the frame the decoder just decoded; true when a snapshot is due.
    public func apply(_ decoder: FrameDecoder, time: Double) -> Bool {
        let message = decoder.messageIndex
        var carriesCell = false
        for position in 0..<decoder.presentCount {
            let signal = decoder.presentSignal(position)
            let slot = mapping.slot(message: message, signal: signal)
            let role = mapping.roles[slot]
            if role == .none { continue }
            let value = decoder.physical(signal) * mapping.scales[slot]
            switch role {
            case .cellVoltage(let cell):
                voltages[cell] = value
                voltageTimes[cell] = time
                carriesCell = true
                if refreshedCount == 0 { periodStartCurrent = current }
                if !refreshed[cell] {
                    refreshed[cell] = true
                    refreshedCount += 1
                }
            case .cellTemperature(let sensor):
                temperatures[sensor] = value
                temperatureTimes[sensor] = time
            case .current: current = value
            case .voltage: voltage = value
            case .soc: soc = value
            case .balancing: balancing = value != 0
            case .cellBalancing(let cell):
                cellBalancing[cell] = value != 0
                cellBalancingTime = time
            case .cellVoltageMax, .cellVoltageMin, .none: break
            }
        }
        let since = lastSnapshot ?? time
        lastSnapshot = since
        if carriesCell {
            let gap = lastCellFrame.map { time - $0 } ?? 0
            lastCellFrame = time
            if refreshedCount == mapping.cells && cellFramesInPeriod > 0 && gap > 2 * longestGapInPeriod {
                restartPeriod(at: time, gap: gap)
                return false
            }
            longestGapInPeriod = max(longestGapInPeriod, gap)
            cellFramesInPeriod += 1
        }
        return refreshedCount == mapping.cells || (refreshedCount > 0 && time - since >= tick)
    }

    /// The period starts again with the cells of the frame at `time` (the first of a burst).
    private func restartPeriod(at time: Double, gap: Double) {
        refreshedCount = 0
        periodStartCurrent = current
        for cell in 0..<mapping.cells {
            refreshed[cell] = voltageTimes[cell] == time
            if refreshed[cell] { refreshedCount += 1 }
        }
        lastSnapshot = time
        longestGapInPeriod = gap
        cellFramesInPeriod = 1
    }

    /// Starts the next snapshot period; returns how many cells are stale at `time`.
    public func takeSnapshot(at time: Double) -> Int {
        lastSnapshot = time
        refreshedCount = 0
        refreshed.update(repeating: false)
        longestGapInPeriod = 0
        cellFramesInPeriod = 0
        return (0..<mapping.cells).count { isStale(cell: $0, at: time) }
    }

    public func isStale(cell: Int, at time: Double) -> Bool { time - voltageTimes[cell] > staleAfter }

    /// Whether the per-cell bleed flags say what the BMS does at `time`: a flag came within `staleAfter`
    /// (a BMS that stopped sending them, or a log from before them, says nothing).
    public func cellBalancingKnown(at time: Double) -> Bool { time - cellBalancingTime <= staleAfter }
}
