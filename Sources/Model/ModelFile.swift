import CAN
import Consistency
import JSON

#if canImport(Glibc)
import Glibc
#endif

/// The model file: the safetensors layout (an 8-byte little-endian header length, a JSON header naming
/// each tensor's dtype, shape and byte range, then the tensors), so Python's `safetensors` reads it. The
/// header's `__metadata__` holds `celldrift` (JSON text: schema, normalization, scales, thresholds,
/// training summary) and `sha256`, the SHA-256 of that text followed by every tensor byte; a file whose
/// digest differs, or that is truncated or malformed, is refused with what is wrong.
public enum ModelFile {
    public static let formatVersion = 1

    public static func write(_ model: PackModel, to path: String) throws(ModelError) {
        let schema = "\"inputs\": \(names(DailyMeasures.inputNames)), \"derived\": \(names(PackModel.derivedNames)), "
            + "\"derived_rule\": \"cell_spread_d = cell_max_voltage_d - cell_min_voltage_d, 0 when the day is missing (-1)\""
        let rest = "\"threshold\": \(model.threshold), \"best_f1_threshold\": \(model.bestThreshold), \"training\": \(model.training)"
        if let trees = model.scorer as? BoostedTrees {
            try write(trees, schema: schema, rest: rest, to: path)
        } else {
            try write(kind: "pack", scorer: model.scorer as! NormalizedNetwork, to: path, schema: schema, rest: rest)
        }
    }

    public static func load(_ path: String) throws(ModelError) -> PackModel {
        let (scorer, metadata, text) = try read(path, kind: "pack", inputs: DailyMeasures.inputNames, features: PackModel.featureCount,
                                                schema: "the seed's 84 named inputs")
        return PackModel(scorer: scorer, threshold: metadata["threshold"]?.double ?? 0.15,
                         bestThreshold: metadata["best_f1_threshold"]?.double ?? 0.15, training: text)
    }

    public static func write(_ model: CellDriftModel, to path: String) throws(ModelError) {
        try write(kind: "cell-drift", scorer: model.scorer, to: path,
                  schema: "\"inputs\": \(names(CellDriftFeatures.names)), \"input_rule\": \"one row per cell, every network input is a cell's; "
                    + "the pack score is the highest cell score\"",
                  rest: "\"threshold\": \(model.threshold), \"alarm_hold_s\": \(model.holdSeconds), "
                    + "\"score_interval_s\": \(model.scoreInterval), \"training\": \(model.training)")
    }

    public static func loadCellDrift(_ path: String) throws(ModelError) -> CellDriftModel {
        let (scorer, metadata, text) = try read(path, kind: "cell-drift", inputs: CellDriftFeatures.names,
                                                features: CellDriftFeatures.count, schema: "the cell-drift inputs")
        guard let network = scorer as? NormalizedNetwork else { throw ModelError("\(path): a cell-drift model is a network") }
        guard let threshold = metadata["threshold"]?.double, threshold > 0, threshold < 1,
              let hold = metadata["alarm_hold_s"]?.double, hold >= 0,
              let interval = metadata["score_interval_s"]?.double, interval > 0 else {
            throw ModelError("\(path): threshold (0-1), alarm_hold_s or score_interval_s missing or out of range")
        }
        return CellDriftModel(scorer: network, threshold: threshold, holdSeconds: hold, scoreInterval: interval, training: text)
    }

    /// Writes any model: `schema` and `rest` are JSON members (the inputs; thresholds and training).
    private static func write(kind: String, scorer: NormalizedNetwork, to path: String, schema: String,
                              rest: String) throws(ModelError) {
        let network = scorer.network
        var tensors: [(String, String, [Int], [UInt8])] = []
        for (index, layer) in network.layers.enumerated() {
            tensors.append(("layer\(index).weight", "I8", [layer.outputs, layer.inputs], layer.weights.map { UInt8(bitPattern: $0) }))
            tensors.append(("layer\(index).bias", "I32", [layer.outputs], littleEndianBytes(layer.biases)))
        }
        let layers = network.layers.enumerated().map { index, layer in
            "{\"weight\": \"layer\(index).weight\", \"bias\": \"layer\(index).bias\", \"inputs\": \(layer.inputs), "
                + "\"outputs\": \(layer.outputs), \"activation\": \"\(index == network.layers.count - 1 ? "sigmoid" : "relu")\", "
                + "\"input_scale\": \(layer.inputScale), \"weight_scales\": \(list(layer.weightScales))}"
        }
        let metadata = opening(kind: kind) + "\(schema), \"normalization\": {\"mean\": \(list(scorer.means)), \"std\": \(list(scorer.deviations)), \"clip\": \(NormalizedNetwork.clip)}, "
            + "\"quantization\": \"int8 weights per output channel, int8 activations per layer, int32 biases and accumulation\", "
            + "\"layers\": [\(layers.joined(separator: ", "))], \(rest)}"
        try write(metadata: metadata, tensors: tensors, to: path)
    }

    /// The file: header length, header (metadata, digest, tensor table), tensors.
    private static func write(metadata: String, tensors: [(String, String, [Int], [UInt8])], to path: String) throws(ModelError) {
        var data: [UInt8] = []
        var entries: [String] = []
        for (name, dtype, shape, bytes) in tensors {
            entries.append("\"\(name)\": {\"dtype\": \"\(dtype)\", \"shape\": \(shape), \"data_offsets\": [\(data.count), \(data.count + bytes.count)]}")
            data += bytes
        }
        let digest = SHA256.hex(Array(metadata.utf8) + data)
        var header = Array(("{\"__metadata__\": {\"celldrift\": " + String(decoding: JSONText.quoted(metadata), as: UTF8.self)
            + ", \"sha256\": \"\(digest)\"}, " + entries.joined(separator: ", ") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var file: [UInt8] = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64($0))) }
        file += header + data
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ModelError("\(path): cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = file.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == file.count else { throw ModelError("\(path): write failed: \(String(cString: strerror(errno)))") }
    }

    /// Reads and checks any model of `kind`: digest first, then format, version, input names and layers.
    private static func read(_ path: String, kind: String, inputs: [String], features: Int,
                             schema: String) throws(ModelError) -> (PackScorer, JSONValue, String) {
        guard let file = readFile(path) else { throw ModelError("\(path): cannot read the file") }
        func fail(_ message: String) -> ModelError { ModelError("\(path): \(message)") }
        guard file.count >= 8 else { throw fail("truncated: \(file.count) bytes, not even a header length") }
        let headerLength = (0..<8).reduce(0) { $0 | Int(file[$1]) << (8 * $1) }
        guard headerLength > 0, headerLength <= file.count - 8 else {
            throw fail("truncated or not a model file: header of \(headerLength) bytes in a file of \(file.count)")
        }
        let header: JSONValue
        do { header = try JSONParser.parse(Array(file[8..<(8 + headerLength)])) } catch { throw fail("header: \(error)") }
        guard let metadataText = header["__metadata__"]?["celldrift"]?.string, let digest = header["__metadata__"]?["sha256"]?.string else {
            throw fail("no celldrift metadata: not a celldrift model")
        }
        let data = Array(file[(8 + headerLength)...])
        guard SHA256.hex(Array(metadataText.utf8) + data) == digest else {
            throw fail("SHA-256 mismatch: the file is corrupt (expected \(digest))")
        }
        let metadata: JSONValue
        do { metadata = try JSONParser.parse(metadataText) } catch { throw fail("metadata: \(error)") }
        guard metadata["format"]?.string == "celldrift-model", metadata["kind"]?.string == kind else {
            throw fail("not a celldrift \(kind) model (format \(metadata["format"]?.string ?? "?"), kind \(metadata["kind"]?.string ?? "?"))")
        }
        guard let version = metadata["format_version"]?.double, Int(version) == formatVersion else {
            throw fail("format version \(metadata["format_version"]?.double.map { "\(Int($0))" } ?? "?") is not \(formatVersion)")
        }
        guard metadata["inputs"]?.array?.compactMap(\.string) == inputs else {
            throw fail("inputs do not match \(schema): the model is for another feature schema")
        }
        if metadata["model_type"]?.string == "boosted-trees" {
            return (try trees(header, metadata, data, features: features, fail), metadata, metadataText)
        }
        let means = metadata["normalization"]?["mean"]?.array?.compactMap(\.double) ?? []
        let deviations = metadata["normalization"]?["std"]?.array?.compactMap(\.double) ?? []
        guard means.count == features, deviations.count == features, deviations.allSatisfy({ $0 > 0 }) else {
            throw fail("normalization must have \(features) means and positive deviations")
        }
        var layers: [QuantizedNetwork.Layer] = []
        var expectedInputs = features
        for (index, layer) in (metadata["layers"]?.array ?? []).enumerated() {
            guard let inputs = layer["inputs"]?.double.map(Int.init), let outputs = layer["outputs"]?.double.map(Int.init),
                  let scale = layer["input_scale"]?.double, scale > 0, inputs == expectedInputs,
                  let scales = layer["weight_scales"]?.array?.compactMap(\.double), scales.count == outputs,
                  let weightName = layer["weight"]?.string, let biasName = layer["bias"]?.string else {
                throw fail("layer \(index): inputs, outputs, scales or tensor names missing or inconsistent")
            }
            let weights = try tensor(header, weightName, "I8", [outputs, inputs], data, fail).map { Int8(bitPattern: $0) }
            let biases = littleEndian(try tensor(header, biasName, "I32", [outputs], data, fail), width: 4).map { Int32(truncatingIfNeeded: $0) }
            layers.append(.init(inputs: inputs, outputs: outputs, weights: weights, biases: biases, inputScale: scale, weightScales: scales))
            expectedInputs = outputs
        }
        guard !layers.isEmpty, expectedInputs == 1 else { throw fail("the layers must end in one output") }
        return (NormalizedNetwork(network: QuantizedNetwork(layers: layers), means: means, deviations: deviations), metadata, metadataText)
    }

    private static func tensor(_ header: JSONValue, _ name: String, _ dtype: String, _ shape: [Int], _ data: [UInt8],
                               _ fail: (String) -> ModelError) throws(ModelError) -> [UInt8] {
        guard let entry = header[name], entry["dtype"]?.string == dtype,
              entry["shape"]?.array?.compactMap({ $0.double.map(Int.init) }) == shape,
              let offsets = entry["data_offsets"]?.array?.compactMap({ $0.double.map(Int.init) }), offsets.count == 2,
              offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= data.count,
              offsets[1] - offsets[0] == shape.reduce(1, *) * (dtype == "I32" ? 4 : dtype == "F64" ? 8 : 1) else {
            throw fail("tensor \(name): missing, or not \(dtype) of shape \(shape) within the file")
        }
        return Array(data[offsets[0]..<offsets[1]])
    }

    /// Boosted trees: cut points (F64, every feature's after another, `cut_counts` saying how many), the
    /// nodes' feature, bin threshold and children (I32), each tree's root (I32) and the int8 leaves.
    private static func write(_ trees: BoostedTrees, schema: String, rest: String, to path: String) throws(ModelError) {
        let int32s = littleEndianBytes
        let cuts = trees.cuts.flatMap { $0 }.flatMap { value in (0..<8).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * UInt64($0))) } }
        let nodes = trees.feature.count
        let tensors: [(String, String, [Int], [UInt8])] = [
            ("cuts", "F64", [trees.cuts.reduce(0) { $0 + $1.count }], cuts),
            ("cut_counts", "I32", [trees.cuts.count], int32s(trees.cuts.map { Int32($0.count) })),
            ("node_feature", "I32", [nodes], int32s(trees.feature)), ("node_threshold", "I32", [nodes], int32s(trees.threshold)),
            ("node_left", "I32", [nodes], int32s(trees.left)), ("node_right", "I32", [nodes], int32s(trees.right)),
            ("roots", "I32", [trees.roots.count], int32s(trees.roots)),
            ("leaves", "I8", [trees.leaves.count], trees.leaves.map { UInt8(bitPattern: $0) }),
        ]
        let metadata = opening(kind: "pack") + "\(schema), \"model_type\": \"boosted-trees\", \"trees\": \(trees.roots.count), \"leaf_scale\": \(trees.leafScale), "
            + "\"base_logit\": \(trees.baseLogit), \"rule\": \"bin = how many of the feature's cuts are below its value; "
            + "at a node go left when bin <= threshold; a negative child -k-1 is leaf k; logit = base_logit + leaf_scale * "
            + "(sum of the trees' int8 leaves)\", \(rest)}"
        try write(metadata: metadata, tensors: tensors, to: path)
    }

    private static func trees(_ header: JSONValue, _ metadata: JSONValue, _ data: [UInt8], features: Int,
                              _ fail: (String) -> ModelError) throws(ModelError) -> BoostedTrees {
        func count(_ name: String) -> Int { header[name]?["shape"]?.array?.first?.double.map(Int.init) ?? -1 }
        func int32s(_ name: String) throws(ModelError) -> [Int32] {
            let bytes = try tensor(header, name, "I32", [count(name)], data, fail)
            return littleEndian(bytes, width: 4).map { Int32(truncatingIfNeeded: $0) }
        }
        let counts = try int32s("cut_counts")
        let cutBytes = try tensor(header, "cuts", "F64", [count("cuts")], data, fail)
        let flat = littleEndian(cutBytes, width: 8).map { Double(bitPattern: $0) }
        guard counts.count == features, counts.allSatisfy({ $0 >= 0 && $0 <= 255 }), Int(counts.reduce(0, +)) == flat.count else {
            throw fail("cut_counts: one count (0-255) per feature, adding up to the cuts")
        }
        var cuts: [[Double]] = [], start = 0
        for size in counts.map(Int.init) {
            cuts.append(Array(flat[start..<(start + size)]))
            start += size
        }
        let feature = try int32s("node_feature"), threshold = try int32s("node_threshold")
        let left = try int32s("node_left"), right = try int32s("node_right"), roots = try int32s("roots")
        let leaves = try tensor(header, "leaves", "I8", [count("leaves")], data, fail).map { Int8(bitPattern: $0) }
        let nodes = feature.count
        // A child is a later node (so no walk can loop) or an existing leaf.
        func valid(_ child: Int32, after node: Int) -> Bool { child >= 0 ? Int(child) > node && Int(child) < nodes : Int(-child - 1) < leaves.count }
        var consistent = threshold.count == nodes && left.count == nodes && right.count == nodes
        for node in 0..<nodes where consistent {
            consistent = feature[node] >= 0 && Int(feature[node]) < features && valid(left[node], after: node) && valid(right[node], after: node)
        }
        consistent = consistent && roots.allSatisfy { valid($0, after: -1) }
        guard consistent, let scale = metadata["leaf_scale"]?.double, scale > 0, let base = metadata["base_logit"]?.double else {
            throw fail("trees: a node's feature or child is out of range, or leaf_scale/base_logit missing")
        }
        return BoostedTrees(cuts: cuts, feature: feature, threshold: threshold, left: left, right: right, roots: roots,
                            leaves: leaves, leafScale: scale, baseLogit: base)
    }

    /// The start of every model's metadata.
    private static func opening(kind: String) -> String {
        "{\"format\": \"celldrift-model\", \"format_version\": \(formatVersion), \"kind\": \"\(kind)\", "
    }

    /// Int32 tensors as stored: four little-endian bytes each.
    private static func littleEndianBytes(_ values: [Int32]) -> [UInt8] {
        values.flatMap { value in (0..<4).map { UInt8(truncatingIfNeeded: UInt32(bitPattern: value) >> (8 * UInt32($0))) } }
    }

    /// Unsigned little-endian integers of `width` bytes.
    private static func littleEndian(_ bytes: [UInt8], width: Int) -> [UInt64] {
        (0..<(bytes.count / width)).map { index in
            var value: UInt64 = 0
            for byte in 0..<width { value |= UInt64(bytes[index * width + byte]) << (8 * UInt64(byte)) }
            return value
        }
    }

    private static func list(_ values: [Double]) -> String { "[" + values.map { "\($0)" }.joined(separator: ", ") + "]" }
    private static func names(_ values: [String]) -> String { "[" + values.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
}
