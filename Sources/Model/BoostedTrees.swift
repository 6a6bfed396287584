#if canImport(Glibc)
import Glibc
#endif

/// Gradient-boosted trees over binned features: each feature's value becomes a bin (how many of its cut
/// points lie below it, at most 255), every split asks "bin ≤ t", and leaves are int8 with one scale, summed
/// in int32: integer comparisons and additions only, once the features are binned. The float leaves are
/// the training twin. Scoring allocates nothing (a scratch row of bins); one instance per thread.
public final class BoostedTrees: PackScorer {
    public let cuts: [[Double]]
    /// Internal nodes, all trees: split feature, bin threshold, children (a negative child −k−1 is leaf k).
    public let feature: [Int32], threshold: [Int32], left: [Int32], right: [Int32]
    /// Each tree's root (negative when the tree is a single leaf).
    public let roots: [Int32]
    public let leaves: [Int8]
    public let leafScale: Double
    public let baseLogit: Double
    /// The leaves before quantization (training only; nil for a model read from a file).
    public let floatLeaves: [Double]?
    private let bins: UnsafeMutableBufferPointer<Int32>

    public init(cuts: [[Double]], feature: [Int32], threshold: [Int32], left: [Int32], right: [Int32], roots: [Int32],
                leaves: [Int8], leafScale: Double, baseLogit: Double, floatLeaves: [Double]? = nil) {
        self.cuts = cuts
        (self.feature, self.threshold, self.left, self.right, self.roots) = (feature, threshold, left, right, roots)
        (self.leaves, self.leafScale, self.baseLogit, self.floatLeaves) = (leaves, leafScale, baseLogit, floatLeaves)
        bins = .allocate(capacity: cuts.count)
        bins.initialize(repeating: 0)
    }

    deinit { bins.deallocate() }

    public var featureCount: Int { cuts.count }

    public func copyScorer() -> PackScorer {
        BoostedTrees(cuts: cuts, feature: feature, threshold: threshold, left: left, right: right, roots: roots, leaves: leaves,
                     leafScale: leafScale, baseLogit: baseLogit, floatLeaves: floatLeaves)
    }

    /// How many of `cuts` lie below `value`: a value on a cut goes to the lower bin.
    @inline(__always) static func bin(_ value: Double, _ cuts: [Double]) -> Int32 {
        var low = 0, high = cuts.count
        while low < high {
            let middle = (low + high) / 2
            if cuts[middle] < value { low = middle + 1 } else { high = middle }
        }
        return Int32(low)
    }

    /// The leaf each tree gives a row of bins, summed: int8 leaves in int32, or the float twin's.
    @inline(__always) private func leafSum(_ row: (Int) -> Int32, float: Bool) -> Double {
        var total: Int32 = 0
        var floatTotal = 0.0
        for root in roots {
            var node = root
            while node >= 0 {
                let index = Int(node)
                node = row(Int(feature[index])) <= threshold[index] ? left[index] : right[index]
            }
            let leaf = Int(-node - 1)
            if float { floatTotal += floatLeaves![leaf] } else { total &+= Int32(leaves[leaf]) }
        }
        return baseLogit + (float ? floatTotal : Double(total) * leafScale)
    }

    public func probability(_ features: UnsafeBufferPointer<Double>) -> Double {
        for index in 0..<cuts.count { bins[index] = Self.bin(features[index], cuts[index]) }
        let logit = leafSum({ self.bins[$0] }, float: false)
        return 1 / (1 + exp(-logit))
    }

    /// The float twin's probability (training only).
    public func floatProbability(_ features: [Double]) -> Double {
        let row = features.indices.map { Self.bin(features[$0], cuts[$0]) }
        return 1 / (1 + exp(-leafSum({ row[$0] }, float: true)))
    }
}

/// Trains `BoostedTrees` with the logistic loss, as XGBoost's `hist` method does: per round the
/// gradients and hessians of the current logits, a row subsample, and one tree grown level by level to
/// `maxDepth`, each split the one with the largest gain G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ) above
/// `gamma`, with at least `minChildWeight` of hessian on each side; leaves −G/(H+λ) × `eta`.
public struct BoostedTreesTraining: Sendable {
    public var rounds = 200
    public var maxDepth = 7
    public var eta = 0.1
    public var gamma = 4.0
    public var minChildWeight = 6.0
    public var lambda = 1.0
    public var subsample = 0.8
    public var maximumBins = 256
    public var seed: UInt64 = 1

    public init() {}

    /// Cut points per feature: midpoints between its distinct values when there are few enough, else
    /// the values at evenly spaced quantiles.
    func cuts(_ rows: [[Double]]) -> [[Double]] {
        (0..<(rows.first?.count ?? 0)).map { column in
            let values = rows.map { $0[column] }.sorted()
            var distinct: [Double] = []
            for value in values where distinct.last != value { distinct.append(value) }
            if distinct.count <= maximumBins { return zip(distinct, distinct.dropFirst()).map { ($0 + $1) / 2 } }
            var cuts: [Double] = []
            for step in 1..<maximumBins {
                let value = values[step * values.count / maximumBins]
                if cuts.last != value { cuts.append(value) }
            }
            return cuts
        }
    }

    public func train(_ rows: [[Double]], _ labels: [Int]) -> BoostedTrees {
        let cuts = cuts(rows)
        let columns = cuts.count
        let binned = rows.map { row in (0..<columns).map { BoostedTrees.bin(row[$0], cuts[$0]) } }
        var logits = [Double](repeating: 0, count: rows.count)
        var gradients = logits, hessians = logits
        var feature: [Int32] = [], threshold: [Int32] = [], left: [Int32] = [], right: [Int32] = []
        var leafValues: [Double] = [], roots: [Int32] = []
        var generator = SplitMix(seed)

        /// Grows a node over `members` (row indices); returns its reference (node index, or −leaf−1).
        func grow(_ members: [Int], depth: Int) -> Int32 {
            var total = (g: 0.0, h: 0.0)
            for row in members { total.g += gradients[row]; total.h += hessians[row] }
            func leaf() -> Int32 {
                leafValues.append(-total.g / (total.h + lambda) * eta)
                return -Int32(leafValues.count)
            }
            guard depth < maxDepth, total.h >= 2 * minChildWeight else { return leaf() }
            let parent = total.g * total.g / (total.h + lambda)
            var best = (gain: gamma, feature: -1, bin: Int32(0))
            var histogram = [Double](repeating: 0, count: 2 * (maximumBins + 1))
            for column in 0..<columns {
                let binCount = cuts[column].count + 1
                guard binCount > 1 else { continue }
                for index in 0..<(2 * binCount) { histogram[index] = 0 }
                for row in members {
                    let bin = Int(binned[row][column])
                    histogram[2 * bin] += gradients[row]
                    histogram[2 * bin + 1] += hessians[row]
                }
                var leftSum = (g: 0.0, h: 0.0)
                for bin in 0..<(binCount - 1) {
                    leftSum.g += histogram[2 * bin]
                    leftSum.h += histogram[2 * bin + 1]
                    let rightSum = (g: total.g - leftSum.g, h: total.h - leftSum.h)
                    guard leftSum.h >= minChildWeight, rightSum.h >= minChildWeight else { continue }
                    let gain = leftSum.g * leftSum.g / (leftSum.h + lambda) + rightSum.g * rightSum.g / (rightSum.h + lambda) - parent
                    if gain > best.gain { best = (gain, column, Int32(bin)) }
                }
            }
            guard best.feature >= 0 else { return leaf() }
            let node = feature.count
            feature.append(Int32(best.feature))
            threshold.append(best.bin)
            left.append(0)
            right.append(0)
            let goesLeft = members.filter { binned[$0][best.feature] <= best.bin }
            let goesRight = members.filter { binned[$0][best.feature] > best.bin }
            let leftChild = grow(goesLeft, depth: depth + 1)
            let rightChild = grow(goesRight, depth: depth + 1)
            left[node] = leftChild
            right[node] = rightChild
            return Int32(node)
        }

        func evaluate(_ root: Int32, _ row: Int) -> Double {
            var node = root
            while node >= 0 { node = binned[row][Int(feature[Int(node)])] <= threshold[Int(node)] ? left[Int(node)] : right[Int(node)] }
            return leafValues[Int(-node - 1)]
        }

        for _ in 0..<rounds {
            for row in rows.indices {
                let probability = 1 / (1 + exp(-logits[row]))
                gradients[row] = probability - Double(labels[row])
                hessians[row] = max(probability * (1 - probability), 1e-16)
            }
            let sample = rows.indices.filter { _ in Double(generator.next() >> 11) / Double(1 << 53) < subsample }
            let root = grow(sample, depth: 0)
            roots.append(root)
            for row in rows.indices { logits[row] += evaluate(root, row) }
        }
        let largest = leafValues.map(abs).max() ?? 0
        let scale = largest > 0 ? largest / 127 : 1
        let quantized = leafValues.map { Int8(max(-127, min(127, ($0 / scale).rounded(.toNearestOrAwayFromZero)))) }
        return BoostedTrees(cuts: cuts, feature: feature, threshold: threshold, left: left, right: right, roots: roots,
                            leaves: quantized, leafScale: scale, baseLogit: 0, floatLeaves: leafValues)
    }
}
