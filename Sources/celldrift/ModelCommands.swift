import Agent
import ArgumentParser
import CAN
import JSON
import Model
import Outbox

/// The training data and the model's settings, shared by `train pack` and `evaluate pack`.
struct PackTrainingOptions: ParsableArguments {
    @Option(help: "The seed's daily table (VIN,Date,6 measures,Label).")
    var data = "firmware-samples/seed/series_samples.csv"
    @Option(help: "Seed of the splits and of the training.")
    var seed: UInt64 = 1
    @Option(help: "trees (gradient-boosted, integer thresholds, int8 leaves) or mlp.")
    var kind: PackTraining.Kind = .trees
    @Option(help: "Trees: boosting rounds (XGBoost's settings otherwise: depth 7, eta 0.1, gamma 4, min_child_weight 6, subsample 0.8).")
    var rounds = 200
    @Option(help: "MLP: hidden units.")
    var hidden = 16
    @Option(help: "MLP: training epochs.")
    var epochs = 15
    @Option(help: "MLP: networks trained from different seeds and averaged into one.")
    var members = 8

    /// The windows of the data file, and the file's SHA-256 for the model's training summary.
    func windows() throws -> (windows: PackWindows, sha256: String) {
        guard let bytes = readFile(data) else { throw CommandError("\(data): cannot read the file") }
        let windows = try PackWindows(csv: String(decoding: bytes, as: UTF8.self), path: data)
        guard !windows.windows.isEmpty else { throw CommandError("\(data): no vehicle has 28 days of data: no windows") }
        return (windows, SHA256.hex(bytes))
    }

    var training: PackTraining {
        var training = PackTraining()
        training.hidden = hidden
        training.epochs = epochs
        training.seed = seed
        training.members = members
        training.kind = kind
        training.trees.rounds = rounds
        return training
    }
}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train a model and write it, quantized to int8 (docs/models.md).", subcommands: [Pack.self, Cell.self])

    struct Pack: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train the pack model on the seed's daily table: 84 inputs, alarm within 14 days.",
            discussion: "Trains on the training part of the split (--split random: the seed's 4:1 split of the windows; vehicle: "
                + "a fifth of the vehicles held out; none: every window) and picks the best-F1 threshold on the held-out part.")
        @OptionGroup var options: PackTrainingOptions
        @Option(name: [.short, .customLong("output")], help: "The model file to write.")
        var output = "pack-model.safetensors"
        @Option(help: "random, vehicle or none.")
        var split = "random"
        @Option(help: "Also write the windows as CSV (vin,date,label,random_validation,vehicle_validation,84 inputs).")
        var windowsOut: String?

        func validate() throws {
            guard ["random", "vehicle", "none"].contains(split) else { throw ValidationError("--split must be random, vehicle or none") }
        }

        func run() throws {
            let (windows, dataDigest) = try options.windows()
            let random = windows.randomSplit(seed: options.seed), byVehicle = windows.vehicleSplit(seed: options.seed)
            if let windowsOut { try writeWindows(windows, random, byVehicle, windowsOut) }
            let held = split == "random" ? random : split == "vehicle" ? byVehicle : [Bool](repeating: false, count: random.count)
            let trainingWindows = zip(windows.windows, held).filter { !$0.1 }.map(\.0)
            let validation = zip(windows.windows, held).filter { $0.1 }.map(\.0)
            let result = options.training.train(trainingWindows)
            let scores = validation.map { result.int8Probability($0.inputs) }
            let best = validation.isEmpty ? 0.15 : Metrics.bestF1(scores, validation.map(\.label)).threshold
            let positives = trainingWindows.filter { $0.label == 1 }.count
            let sizes = options.kind == .trees ? "--rounds \(options.rounds)"
                : "--hidden \(options.hidden) --epochs \(options.epochs) --members \(options.members)"
            let summary = "{\"command\": \"celldrift train pack --data \(options.data) --seed \(options.seed) --kind \(options.kind.rawValue) "
                + "\(sizes) --split \(split)\", \"data\": \(quoted(options.data)), \"kind\": \"\(options.kind.rawValue)\", \"rounds\": \(options.rounds), "
                + "\"data_sha256\": \"\(dataDigest)\", \"windows\": \(windows.windows.count), "
                + "\"training_windows\": \(trainingWindows.count), \"training_positives\": \(positives), "
                + "\"vehicles\": \(Set(windows.windows.map(\.vehicle)).count), \"seed\": \(options.seed), \"hidden\": \(options.hidden), "
                + "\"epochs\": \(options.epochs), \"split\": \"\(split)\"}"
            let model = PackModel(scorer: result.model.scorer, bestThreshold: best, training: summary)
            try ModelFile.write(model, to: output)
            print("\(output): \(windows.windows.count) windows (\(trainingWindows.count) trained on, \(positives) positive), "
                + "best-F1 threshold \(best)")
        }
    }
}

private func quoted(_ text: String) -> String { String(decoding: JSONText.quoted(text), as: UTF8.self) }

private func writeWindows(_ windows: PackWindows, _ random: [Bool], _ byVehicle: [Bool], _ path: String) throws {
    let file = try createOutput(path)
    file.append("vin,date,label,random_validation,vehicle_validation," + InferenceEvent.columns.dropFirst(4).joined(separator: ",") + "\n")
    for (index, window) in windows.windows.enumerated() {
        let date = CivilTime(epochNanoseconds: Int64(window.day) * 86_400_000_000_000).isoDate
        file.append("\(window.vehicle),\(date),\(window.label),\(random[index] ? 1 : 0),\(byVehicle[index] ? 1 : 0),"
            + window.inputs.map { "\($0)" }.joined(separator: ",") + "\n")
    }
    try finishOutput(file, path)
}

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate", abstract: "Evaluate models and the whole pipeline: AUC, precision, recall and F1, float against int8; a labelled fleet.",
        subcommands: [Pack.self, Cell.self, Fleet.self])

    struct Pack: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The pack model on the seed's random 4:1 split and on a split by vehicle, float and int8.",
            discussion: "For each split, trains on its training part (as `train pack` does) and scores the held-out windows: "
                + "AUC, and precision, recall and F1 at the seed's threshold 0.15 and at the best-F1 threshold. --model scores "
                + "a model file on the random split's held-out windows instead.")
        @OptionGroup var options: PackTrainingOptions
        @Option(help: "Evaluate this model file (int8) instead of training.")
        var model: String?
        @Flag(help: "Print JSON.")
        var json = false

        func run() throws {
            let windows = try options.windows().windows
            var parts: [String] = []
            for (name, held) in [("random", windows.randomSplit(seed: options.seed)), ("vehicle", windows.vehicleSplit(seed: options.seed))] {
                if model != nil && name != "random" { continue }
                let validation = zip(windows.windows, held).filter { $0.1 }.map(\.0)
                let labels = validation.map(\.label)
                var scored: [(String, [Double])] = []
                if let model {
                    let loaded = try ModelFile.load(model)
                    scored.append(("int8", validation.map { loaded.probability($0.inputs) }))
                } else {
                    let result = options.training.train(zip(windows.windows, held).filter { !$0.1 }.map(\.0))
                    scored.append(("float", validation.map { result.floatProbability($0.inputs) }))
                    scored.append(("int8", validation.map { result.int8Probability($0.inputs) }))
                }
                for (precision, scores) in scored {
                    let seed = Metrics(scores, labels, threshold: 0.15), best = Metrics.bestF1(scores, labels)
                    parts.append(json ? "\"\(name)_\(precision)\": {\"windows\": \(labels.count), \"positives\": \(labels.filter { $0 == 1 }.count), "
                        + "\"auc\": \(jsonNumber(seed.auc)), \"at_0.15\": \(figures(seed)), \"best_f1\": \(figures(best))}"
                        : "\(name) split, \(precision): \(labels.count) windows (\(labels.filter { $0 == 1 }.count) positive), AUC "
                        + "\(rounded(seed.auc)); at 0.15: \(text(seed)); best F1 at \(rounded(best.threshold)): \(text(best))")
                }
            }
            print(json ? "{" + parts.joined(separator: ", ") + "}" : parts.joined(separator: "\n"))
        }

        private func figures(_ metrics: Metrics) -> String {
            "{\"threshold\": \(jsonNumber(metrics.threshold)), \"precision\": \(jsonNumber(metrics.precision)), "
                + "\"recall\": \(jsonNumber(metrics.recall)), \"f1\": \(jsonNumber(metrics.f1))}"
        }
        /// JSON has no NaN: an undefined figure (an AUC of one class, a precision of no positives) is null.
        private func jsonNumber(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }
        private func text(_ metrics: Metrics) -> String {
            "precision \(rounded(metrics.precision)), recall \(rounded(metrics.recall)), F1 \(rounded(metrics.f1))"
        }
        private func rounded(_ value: Double) -> String { "\((value * 10_000).rounded() / 10_000)" }
    }
}
extension PackTraining.Kind: ExpressibleByArgument {}
