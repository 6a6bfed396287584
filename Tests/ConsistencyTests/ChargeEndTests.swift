import Testing
@testable import Consistency

/// A leak on an LFP-like pack: its cells rest on a flat plateau, where nothing moves, and are charged to
/// the top every day, where a cell behind the others reads lower the further behind it is.
@Suite struct ChargeEndTests {
    /// `days` of: 8 h of rest, a charge at C/2 for 40 min then tapering to C/20 over 20 min (or, with
    /// `taper` false, at C/2 to its end), 15 h of rest, 1 Hz; on a day `top` says no, the taper comes on
    /// the plateau (the knee not reached). Each cell reads at the charge's end its
    /// `place(cell, day)` (V from the median) reached along the taper, flat elsewhere, in 1 mV steps.
    static func run(days: Int = 3, taper: Bool = true, top: (Int) -> Bool = { _ in true },
                    place: (Int, Int) -> Double) -> [(time: Double, detection: Detection)] {
        let cells = 12, capacity = 15.0
        var settings = DetectionSettings()
        settings.capacity = capacity
        let detectors = CellDetectors(cells: cells, sensors: 1, settings: settings)
        let deviation = UnsafeMutableBufferPointer<Double>.allocate(capacity: cells)
        defer { deviation.deallocate() }
        var random = SplitMix(seed: 5)
        var raised: [(Double, Detection)] = []
        for day in 0..<days {
            for second in 0..<86_400 {
                let time = Double(day * 86_400 + second)
                let intoCharge = Double(second - 8 * 3600)
                var current = 0.0, knee = 0.0
                if intoCharge >= 0, intoCharge < 3600 {
                    let taperShare = max(0, (intoCharge - 2400) / 1200)
                    knee = top(day) ? taperShare : 0
                    current = -capacity / 2 * (taper ? 1 - 0.9 * taperShare : 1)
                }
                let median = 3.33 + 0.1 * knee
                var readings = [Double](repeating: 0, count: cells)
                for cell in 0..<cells {
                    let reading = median + knee * place(cell, day) + 0.0003 * random.normal()
                    readings[cell] = (reading * 1000).rounded() / 1000
                }
                let middle = readings.sorted()[cells / 2]
                for cell in 0..<cells { deviation[cell] = readings[cell] - middle }
                [25.0].withUnsafeBufferPointer { temperatures in
                    detectors.update(time: time, deviation: deviation, median: middle, spread: readings.max()! - readings.min()!,
                                     temperatures: temperatures, current: current * (1 + 0.002 * random.normal()), soc: .nan) {
                        raised.append((time, $0))
                    }
                }
            }
        }
        return raised.map { (time: $0.0, detection: $0.1) }
    }

    /// Cell 5 falls 25 mV further behind at each top: named at the second charge's end, unsized, with a
    /// time to the rule from its pace (25 mV a day, 25 mV from the rule: about a day).
    @Test func aCellFallingBehindAtEachTopIsALeak() throws {
        let raised = Self.run { cell, day in cell == 5 ? -0.025 * Double(day) : 0 }
        #expect(raised.map { ($0.detection.kind, $0.detection.evidence, $0.detection.cell) }.elementsEqual([(.leak, .chargeEnds, 5)]) { $0 == $1 },
                "\(raised.map { ($0.detection.kind, $0.detection.evidence, $0.detection.cell ?? -1) })")
        let leak = try #require(raised.first)
        #expect(leak.time >= 86_400 + 9 * 3600 && leak.time < 86_400 + 9.1 * 3600, "raised at \(leak.time / 3600) h")
        #expect(leak.detection.magnitude.isNaN)
        #expect(leak.detection.timeToRule > 0.5 * 86_400 && leak.detection.timeToRule < 1.5 * 86_400, "\(leak.detection.timeToRule / 3600) h")
    }

    /// A high cell the BMS bleeds down falls as far, towards the pack: no leak. Nor a fall at the end of
    /// charges that stop before the top (no taper), nor one shared by four cells of twelve (a module).
    @Test func aCellBledDownOrChargesShortOfTheTopOrAModuleFallingIsNoLeak() {
        let bledDown = Self.run { cell, day in cell == 5 ? 0.030 * [1, 0.3, 0.1][day] : 0 }
        // (Its rise along the first charge's taper reads as a resistance to the steady-load test here.)
        #expect(!bledDown.contains { $0.detection.kind == .leak }, "\(bledDown.map { ($0.detection.kind, $0.detection.cell ?? -1) })")
        let noTop = Self.run(taper: false) { cell, day in cell == 5 ? -0.025 * Double(day) : 0 }
        #expect(noTop.isEmpty, "\(noTop.map { ($0.detection.kind, $0.detection.cell ?? -1) })")
        let module = Self.run { cell, day in cell < 4 ? -0.025 * Double(day) : 0 }
        #expect(module.isEmpty, "\(module.map { ($0.detection.kind, $0.detection.cell ?? -1) })")
    }

    /// A healthy cell built 20 mV low at the top, and a charge between two tops that tapered on the
    /// plateau (where it reads with the others): compared with that end, the next top would be a fall.
    @Test func aTaperOnThePlateauIsNoTopToCompareWith() {
        let raised = Self.run(top: { $0 != 1 }) { cell, _ in cell == 5 ? -0.020 : 0 }
        #expect(!raised.contains { $0.detection.kind == .leak }, "\(raised.map { ($0.detection.kind, $0.detection.cell ?? -1) })")
    }

    /// Cell 5 climbs 25 mV further ahead at each top (less capacity: it fills first): named short of
    /// capacity at the second charge's end, unsized, with a time to the rule from its pace. A low cell that
    /// comes up 25 mV towards the pack (the BMS bleeding the others down to it) is not: it stays below.
    @Test func aCellClimbingAheadAtEachTopIsShortOfCapacity() throws {
        let raised = Self.run { cell, day in cell == 5 ? 0.025 * Double(day) : 0 }
        // (Its climb along the third charge's taper reads as a resistance to the steady-load test here, after.)
        #expect(raised.allSatisfy { $0.detection.cell == 5 }, "\(raised.map { ($0.detection.kind, $0.detection.cell ?? -1) })")
        let weak = try #require(raised.first)
        #expect(weak.detection.kind == .capacityLow && weak.detection.evidence == .chargeEnds, "\(weak.detection.kind)")
        #expect(weak.time >= 86_400 + 9 * 3600 && weak.time < 86_400 + 9.1 * 3600, "raised at \(weak.time / 3600) h")
        #expect(weak.detection.magnitude.isNaN)
        #expect(weak.detection.timeToRule > 0.5 * 86_400 && weak.detection.timeToRule < 1.5 * 86_400, "\(weak.detection.timeToRule / 3600) h")
        let comingUp = Self.run { cell, day in cell == 5 ? -0.030 + 0.0125 * Double(day) : 0 }
        #expect(comingUp.isEmpty, "\(comingUp.map { ($0.detection.kind, $0.detection.cell ?? -1) })")
    }
}
