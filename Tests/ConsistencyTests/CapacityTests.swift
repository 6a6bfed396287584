import Testing
@testable import Consistency

/// A weak cell (`cell_capacity_low`): its SOC offset from the pack's at settled rests grows with the
/// pack's SOC swing (docs/features.md).
@Suite struct CapacityTests {
    enum Day { case dischargeChargeDischarge, dischargesOnly }

    /// Half-hour rests between half an hour's drive (a quarter of the SOC), an hour's charge at 0.3C (or a
    /// second drive) and a last drive; a minute of drive at the end closes the last rest. Every cell's capacity within
    /// ±1 % of the pack's unless `change` makes one otherwise. The detections of the day.
    static func day(_ day: Day = .dischargeChargeDischarge, ocvSlope: Double = 0.8,
                    change: (inout SyntheticPack) -> Void) -> [Detection] {
        var pack = SyntheticPack()
        pack.ocvSlope = ocvSlope
        pack.capacities = (0..<pack.cells).map { pack.capacity * (1 + 0.01 * Double($0 % 3 - 1)) }
        change(&pack)
        let detectors = pack.detectorsKnowingCapacity()
        let flat = flatTemperatures(6)
        var time = 0.0, raised: [Detection] = []
        func rest() {
            raised += pack.run(detectors, from: time, seconds: 1800, resting: true, temperatures: flat)
            time += 1800
        }
        func drive(_ seconds: Int = 1800) {
            raised += pack.run(detectors, from: time, seconds: seconds, temperatures: flat)
            time += Double(seconds)
        }
        rest()
        drive()
        rest()
        if day == .dischargesOnly {
            drive()
        } else {
            raised += pack.run(detectors, from: time, seconds: 3600, steadyCurrent: -0.3 * pack.capacity, temperatures: flat)
            time += 3600
        }
        rest()
        drive()
        rest()
        drive(60)
        return raised.filter { $0.kind == .capacityLow }
    }

    @Test func aCellTenPerCentWeakIsNamedWithItsLoss() throws {
        let raised = Self.day { $0.capacities?[5] = 0.9 * $0.capacity }
        #expect(raised.map(\.cell) == [5])
        let detection = try #require(raised.first)
        #expect(abs(detection.relative - 0.1) < 0.03)
        #expect(abs(detection.magnitude - 0.1 * 15) < 0.45)
        #expect(detection.confidence >= 1)
        #expect(detection.evidence == .restOffsets)
    }

    @Test func cellsWithinOnePerCentAreNotNamed() {
        let raised = Self.day { _ in }
        #expect(raised.isEmpty)
    }

    /// A leak (C/50) grows the offset with time, not with the swing: the time regressor takes it.
    @Test func aLeakIsNotReadAsCapacity() {
        let raised = Self.day { $0.leaks[5] = $0.capacity / 50 }
        #expect(raised.isEmpty)
    }

    /// A cell that relaxes slower than the others stands low after a discharge and high after a charge,
    /// as a weak cell would at a rest read too early.
    @Test func aCellRelaxingSlowerIsNotNamed() {
        let raised = Self.day {
            $0.diffusion = (resistance: 0.006, tau: 600)
            $0.diffusionShares[5] = 2.5
        }
        #expect(raised.isEmpty)
    }

    /// Drives of different depths alone (no charge between) still tell the SOC swing from the time.
    @Test func aLeakOnADayOfDischargesOnlyIsNotReadAsCapacity() {
        let raised = Self.day(.dischargesOnly) { $0.leaks[5] = $0.capacity / 50 }
        #expect(raised.isEmpty)
    }

    /// On a plateau a reading step is more than a per cent of SOC: no offsets are taken.
    @Test func onAPlateauNothingIsEstimated() {
        let raised = Self.day(ocvSlope: 0.05) { $0.capacities?[5] = 0.85 * $0.capacity }
        #expect(raised.isEmpty)
    }
}
