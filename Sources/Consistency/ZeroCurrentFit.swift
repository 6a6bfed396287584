/// Each cell's deviation regressed on the pack current over a short window, for its value at zero current
/// (the intercept): a cell's open-circuit deviation read while a load starts, with whatever its
/// resistance is now (known or not) left in the slope.
final class ZeroCurrentFit {
    let cells: Int
    private(set) var count = 0.0
    private var currentSum = 0.0, currentSquares = 0.0
    private var lowest = Double.infinity, highest = -Double.infinity
    private let deviationSums: UnsafeMutableBufferPointer<Double>
    private let crossSums: UnsafeMutableBufferPointer<Double>

    init(cells: Int) {
        self.cells = cells
        deviationSums = .zeroed(cells)
        crossSums = .zeroed(cells)
    }

    deinit {
        deviationSums.deallocate()
        crossSums.deallocate()
    }

    func reset() {
        count = 0
        currentSum = 0
        currentSquares = 0
        lowest = .infinity
        highest = -.infinity
        for cell in 0..<cells { deviationSums[cell] = 0; crossSums[cell] = 0 }
    }

    func add(current: Double, deviation: UnsafeMutableBufferPointer<Double>) {
        count += 1
        currentSum += current
        currentSquares += current * current
        lowest = min(lowest, current)
        highest = max(highest, current)
        for cell in 0..<cells {
            deviationSums[cell] += deviation[cell]
            crossSums[cell] += current * deviation[cell]
        }
    }

    /// The range of currents seen (A).
    var currentRange: Double { count > 0 ? highest - lowest : 0 }

    /// Writes each cell's deviation at zero current into `intercept`; false when the currents seen do not
    /// span enough to extrapolate from.
    func intercepts(into intercept: UnsafeMutableBufferPointer<Double>) -> Bool {
        let spreadOfCurrent = currentSquares - currentSum * currentSum / count
        guard count >= 3, spreadOfCurrent > 0 else { return false }
        let meanCurrent = currentSum / count
        for cell in 0..<cells {
            let slope = (crossSums[cell] - currentSum * deviationSums[cell] / count) / spreadOfCurrent
            intercept[cell] = deviationSums[cell] / count - slope * meanCurrent
        }
        return true
    }
}
