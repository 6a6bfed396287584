/// The check the leak and load-level tests both make: each cell's value against the other cells'
/// (median, 1.4826 MAD), then a CUSUM step per cell, skipped when many cells stand apart together.
enum CrossCellTest {
    /// z-scores into `score`: `sign` × (value − median) / spread, the spread never below `floor`; the
    /// values become their difference from the median, which is returned.
    @discardableResult
    static func scores(_ values: UnsafeMutableBufferPointer<Double>, into score: UnsafeMutableBufferPointer<Double>,
                       scratch: UnsafeMutableBufferPointer<Double>, floor: Double, sign: Double) -> Double {
        let (center, robustSpread) = centerAndSpread(UnsafeBufferPointer(values), scratch: scratch)
        let spread = max(robustSpread, floor)
        for cell in 0..<values.count {
            values[cell] -= center
            score[cell] = sign * values[cell] / spread
        }
        return center
    }

    /// The cells' median and their spread about it, 1.4826 × the median absolute deviation (a normal
    /// spread's standard deviation, unmoved by the one cell that stands apart); `scratch` as many as
    /// `values`, not overlapping them.
    static func centerAndSpread(_ values: UnsafeBufferPointer<Double>,
                                scratch: UnsafeMutableBufferPointer<Double>) -> (center: Double, spread: Double) {
        let center = ConsistencyFeatures.median(values, scratch)
        for cell in 0..<values.count { scratch[cell] = abs(values[cell] - center) }
        return (center, 1.4826 * ConsistencyFeatures.median(UnsafeBufferPointer(scratch), scratch))
    }

    /// Adds shift × (z − shift/2), the log-likelihood ratio of N(shift, 1) against N(0, 1), to each cell's
    /// statistic. A fault is one cell: when more than max(2, 5 %) of the cells stand apart (z above
    /// `apartScore`, by default 3) together, that is the pack's doing (balancing, a module, a message) and
    /// nothing is added.
    static func accumulate(_ score: UnsafeMutableBufferPointer<Double>, into statistic: UnsafeMutableBufferPointer<Double>,
                           shift: Double, apartScore: Double = apartScore) {
        guard !manyApart(score, above: apartScore) else { return }
        for cell in 0..<score.count { statistic[cell] = max(0, statistic[cell] + shift * (score[cell] - shift / 2)) }
    }

    /// More than max(2, 5 %) of the cells score above `apartScore`: the pack's doing, not one cell's.
    static func manyApart(_ score: UnsafeMutableBufferPointer<Double>, above apartScore: Double = apartScore) -> Bool {
        var apart = 0
        for cell in 0..<score.count where score[cell] > apartScore { apart += 1 }
        return apart > max(2, score.count / 20)
    }

    static let apartScore = 3.0
}
