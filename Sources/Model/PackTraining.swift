#if canImport(Glibc)
import Glibc
#endif

/// Classification figures of scores against labels.
public struct Metrics: Sendable {
    public let auc: Double
    public let precision: Double, recall: Double, f1: Double
    public let threshold: Double

    /// Area under the ROC curve, ties counted half (the Mann-Whitney statistic).
    public static func auc(_ scores: [Double], _ labels: [Int]) -> Double {
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var ranks = [Double](repeating: 0, count: scores.count)
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count, scores[order[end + 1]] == scores[order[start]] { end += 1 }
            for position in start...end { ranks[order[position]] = Double(start + end) / 2 + 1 }
            start = end + 1
        }
        let positives = Double(labels.filter { $0 == 1 }.count), negatives = Double(labels.count) - positives
        guard positives > 0, negatives > 0 else { return .nan }
        let rankSum = zip(ranks, labels).filter { $0.1 == 1 }.reduce(0) { $0 + $1.0 }
        return (rankSum - positives * (positives + 1) / 2) / (positives * negatives)
    }

    /// Precision, recall and F1 when a score at or above `threshold` says 1.
    public init(_ scores: [Double], _ labels: [Int], threshold: Double) {
        var truePositives = 0.0, falsePositives = 0.0, falseNegatives = 0.0
        for (score, label) in zip(scores, labels) {
            if score >= threshold { if label == 1 { truePositives += 1 } else { falsePositives += 1 } } else if label == 1 { falseNegatives += 1 }
        }
        auc = Self.auc(scores, labels)
        precision = truePositives + falsePositives > 0 ? truePositives / (truePositives + falsePositives) : 0
        recall = truePositives + falseNegatives > 0 ? truePositives / (truePositives + falseNegatives) : 0
        f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        self.threshold = threshold
    }

    /// The threshold among the scores with the highest F1.
    public static func bestF1(_ scores: [Double], _ labels: [Int]) -> Metrics {
        var best = Metrics(scores, labels, threshold: 0.5)
        for threshold in Set(scores) {
            let candidate = Metrics(scores, labels, threshold: threshold)
            if candidate.f1 > best.f1 { best = candidate }
        }
        return best
    }
}

/// Trains the pack model on some windows and quantizes it: normalization from the training windows,
/// an MLP of `hidden` units trained with Adam, int8 scales calibrated on the training windows.
public struct PackTraining {
    public var hidden = 32
    public var epochs = 100
    public var weightDecay = 1e-3
    public var rate = 0.003
    public var seed: UInt64 = 1
    /// Networks trained from different seeds and averaged (their logits): stored as one wider network.
    public var members = 1
    /// Boosted trees (the default, with `trees`' settings) or the MLP above.
    public var kind = Kind.trees
    public var trees = BoostedTreesTraining()

    public enum Kind: String, Sendable, CaseIterable { case trees, mlp }

    public init() {}

    /// The float twin and the int8 model, which scores exactly as the model written to a file does.
    public struct Result {
        public let floatProbability: ([Double]) -> Double
        public let model: PackModel

        public func int8Probability(_ inputs: [Double]) -> Double { model.probability(inputs) }
    }

    public func train(_ windows: [PackWindows.Window]) -> Result {
        let rows = windows.map { PackModel.features($0.inputs) }, labels = windows.map(\.label)
        switch kind {
        case .trees:
            var settings = trees
            settings.seed = seed
            let model = settings.train(rows, labels)
            return Result(floatProbability: { model.floatProbability(PackModel.features($0)) },
                          model: PackModel(scorer: model, bestThreshold: 0.15, training: "{}"))
        case .mlp:
            let trained = NormalizedNetwork.train(rows, labels, hidden: hidden, epochs: epochs, members: members, rate: rate,
                                                  weightDecay: weightDecay, seed: seed)
            let float = trained.float, network = trained.model
            return Result(floatProbability: { 1 / (1 + exp(-float.logit(network.normalized(PackModel.features($0))))) },
                          model: PackModel(scorer: network, bestThreshold: 0.15, training: "{}"))
        }
    }
}
