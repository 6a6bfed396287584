/// The tests read from the charge the cells hold rather than from their resistance or a rest's fall: a
/// weak cell from its SOC offsets at settled rests, a leak balancing hides from the bleeds, and a cell
/// falling behind or climbing ahead at the top of each charge.
extension CellDetectors {
    /// A weak cell: its capacity ratio `capacityScore` cross-cell deviations (never below 1 %, nor below
    /// what the readings' steps over the OCV slope put into the ratio) or more above the pack's and
    /// at least `minimumCapacityLoss` short of the median cell's; none when more than max(2, 5 %) of the
    /// cells stand apart together (a module's cells, a rest point the BMS's SOC got wrong). Not a cell
    /// raised for a leak: a leak of C/100 takes a cell hundreds of millivolts off by the next morning,
    /// where its offset through the median's OCV slope is no SOC (the slope there is not the median's),
    /// and two of heldout-leaks' leaking cells read as 13 % and 35 % weak the next day.
    func checkCapacities(raise: (Detection) -> Void) {
        guard !CrossCellTest.manyApart(capacities.score) else { return }
        for cell in 0..<capacities.cells where raised[cell] & (8 | 2) == 0 {
            let score = capacities.score[cell], loss = capacities.loss[cell]
            guard score >= Self.capacityScore, loss >= Self.minimumCapacityLoss else { continue }
            raised[cell] |= 8
            raise(Detection(kind: .capacityLow, evidence: .restOffsets, cell: cell, sensor: nil,
                            magnitude: loss * scale.capacity, relative: loss,
                            confidence: min(score / Self.capacityScore, loss / Self.minimumCapacityLoss),
                            timeToRule: .nan, deviationAtPeak: .nan))
        }
    }

    /// A cell's capacity estimate: Cₘ/Cᵢ − 1 (NaN while not estimable), the SOC range and the number of
    /// the rest points behind it, and the swing of the pack's SOC (unit SOC) over which this cell alone
    /// would take the spread from `spread` to the rule's 50 mV at the pack's present OCV slope (NaN where
    /// that slope is unknown, would not size a leak's fall either, or the cell is not weaker than the pack).
    public func capacityEstimate(_ cell: Int, spread: Double) -> (ratio: Double, socSpan: Double, restPoints: Int, socSwingToRule: Double) {
        let ratio = capacities.ratio[cell]
        // Volts its offset moves from the median cell's per unit of the pack's SOC swing. Not off a plateau's
        // slope, as the leak's time to the rule is not: there it promised more than a whole swing
        // (HELDOUTCAPACITY001, LFP: 1.05) where the rule fires at the next knee.
        let drift = scale.ocvSlopeSizesAFall(resolution: voltageResolution)
            ? (ratio - capacities.medianRatio) * scale.ocvSlope : .nan
        return (ratio, capacities.socSpan, capacities.points, drift > 0 ? max(0, 0.050 - spread) / drift : .nan)
    }

    /// Rests of `restSettle` a capacity's rest point waits (the cells' relaxation, CapacityWatch.settle), the
    /// cross-cell deviations and the capacity share (of the median cell's) a weak cell is raised at: the
    /// cells of a pack are made within about 1 % of each other, the simulators' within 0.8 % (one standard
    /// deviation), and fade of 5 % and more is what both fleets' capacity faults put in.
    static let capacitySettleRests = 2.0
    static let capacityScore = 5.0
    static let minimumCapacityLoss = 0.05

    /// A leak balancing hides: both days of the bleed accounting at or above `minimumBleedLeak` (a C-rate:
    /// none before the capacity is known), and not more than max(2, 5 %) of the cells so together. Not a
    /// cell raised for a reading step: the BMS spares a cell that reads low as it spares a leaking one
    /// (our simulator's 8 mV offset was spared 20-46 mA).
    func checkBleeds(_ bleeds: BleedWatch, raise: (Detection) -> Void) {
        let floor = settings.minimumBleedLeak * scale.capacity
        // A leak at the floor itself counts: whatever is above the largest value under it.
        guard floor > 0, !CrossCellTest.manyApart(bleeds.leak, above: floor.nextDown) else { return }
        for cell in 0..<bleeds.cells where raised[cell] & (2 | 4) == 0 && bleeds.leak[cell] >= floor {
            raised[cell] |= 2
            raise(Detection(kind: .leak, evidence: .bleeds, cell: cell, sensor: nil, magnitude: bleeds.recent[cell],
                            relative: bleeds.recent[cell] / scale.capacity, confidence: bleeds.leak[cell] / floor,
                            timeToRule: .nan, deviationAtPeak: .nan))
        }
    }

    /// What a cell's last two top-of-charge ends showed (ChargeEndWatch): how far it fell (V, < 0 a rise),
    /// how far it stands below the median (V, < 0 above it), and the seconds between the two ends.
    public func chargeEndFall(_ cell: Int) -> (fall: Double, belowMedian: Double, seconds: Double) {
        (chargeEnds.fall[cell], -chargeEnds.standing[cell], chargeEnds.interval)
    }

    /// A cell that fell behind at the top of a charge (ChargeEndWatch): a leak, unsized (the knee's slope
    /// is not the OCV slope the pack learned at rest), its time to the rule from its fall's pace and the
    /// spread at the top (where the rule fires: after the charge the pack may rest on a plateau). Not a
    /// cell raised for a reading step (an offset taken between two charge ends falls as far), nor when
    /// more than max(2, 5 %) of the cells fell together.
    func checkChargeEnds(raise: (Detection) -> Void) {
        let pace = chargeEnds.interval > 0 ? chargeEnds.interval : .nan
        func raiseAtEnd(_ cell: Int, _ kind: Detection.Kind, confidence: Double, moved: Double) {
            let perSecond = moved / pace
            raise(Detection(kind: kind, evidence: .chargeEnds, cell: cell, sensor: nil, magnitude: .nan, relative: .nan,
                            confidence: confidence,
                            timeToRule: perSecond > 0 ? max(0, 0.050 - chargeEnds.spreadAtEnd) / perSecond : .nan,
                            deviationAtPeak: .nan))
        }
        if !CrossCellTest.manyApart(chargeEnds.behind, above: Double(1).nextDown) {
            for cell in 0..<chargeEnds.cells where raised[cell] & (2 | 4) == 0 && chargeEnds.behind[cell] >= 1 {
                raised[cell] |= 2
                raiseAtEnd(cell, .leak, confidence: chargeEnds.behind[cell], moved: chargeEnds.fall[cell])
            }
        }
        // The mirror: a cell that climbed ahead at the top is short of capacity, unsized likewise. Not a cell
        // raised for its resistance (a loose connection's drop climbs at the charge's end too) or a reading step.
        guard !CrossCellTest.manyApart(chargeEnds.ahead, above: Double(1).nextDown) else { return }
        for cell in 0..<chargeEnds.cells where raised[cell] & (8 | 1 | 4) == 0 && chargeEnds.ahead[cell] >= 1 {
            raised[cell] |= 8
            raiseAtEnd(cell, .capacityLow, confidence: chargeEnds.ahead[cell], moved: -chargeEnds.fall[cell])
        }
    }
}
