#if canImport(Glibc)
import Glibc
#endif

/// A small multilayer perceptron in floating point: the training twin of `QuantizedNetwork`.
/// Layers are dense, ReLU between them, the last one's single output a logit.
public struct FloatNetwork {
    public struct Layer {
        public var weights: [Double]  // outputs × inputs, row-major
        public var biases: [Double]
        public let inputs: Int, outputs: Int
    }
    public var layers: [Layer]

    public init(sizes: [Int], seed: UInt64) {
        var generator = SplitMix(seed)
        layers = zip(sizes, sizes.dropFirst()).map { inputs, outputs in
            // He initialization, from uniform numbers: deterministic across platforms.
            let bound = (6.0 / Double(inputs)).squareRoot()
            let weights = (0..<(inputs * outputs)).map { _ in (Double(generator.next() >> 11) / Double(1 << 53) * 2 - 1) * bound }
            return Layer(weights: weights, biases: [Double](repeating: 0, count: outputs), inputs: inputs, outputs: outputs)
        }
    }

    /// Activations of every layer for one input (the last: the logit).
    public func forward(_ input: [Double]) -> [[Double]] {
        var activations = [input]
        for (index, layer) in layers.enumerated() {
            let previous = activations[activations.count - 1]
            var output = layer.biases
            for row in 0..<layer.outputs {
                var sum = output[row]
                for column in 0..<layer.inputs { sum += layer.weights[row * layer.inputs + column] * previous[column] }
                output[row] = index == layers.count - 1 ? sum : max(0, sum)
            }
            activations.append(output)
        }
        return activations
    }

    public func logit(_ input: [Double]) -> Double { forward(input).last![0] }

    /// Trains with Adam on the logistic loss; `weightDecay` is L2 on the weights.
    public mutating func train(_ inputs: [[Double]], _ labels: [Int], epochs: Int, batch: Int = 128, rate: Double = 0.003,
                               weightDecay: Double = 1e-3, seed: UInt64) {
        var generator = SplitMix(seed)
        var firstMoment = layers.map { ([Double](repeating: 0, count: $0.weights.count), [Double](repeating: 0, count: $0.biases.count)) }
        var secondMoment = firstMoment
        var step = 0.0
        var order = Array(inputs.indices)
        for _ in 0..<epochs {
            for index in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(index, Int(generator.next() % UInt64(index + 1))) }
            for start in stride(from: 0, to: order.count, by: batch) {
                let members = order[start..<min(start + batch, order.count)]
                var gradients = layers.map { ([Double](repeating: 0, count: $0.weights.count), [Double](repeating: 0, count: $0.biases.count)) }
                for member in members {
                    let activations = forward(inputs[member])
                    let probability = 1 / (1 + exp(-activations.last![0]))
                    var delta = [(probability - Double(labels[member])) / Double(members.count)]
                    for layerIndex in stride(from: layers.count - 1, through: 0, by: -1) {
                        let layer = layers[layerIndex], below = activations[layerIndex]
                        var next = [Double](repeating: 0, count: layer.inputs)
                        for row in 0..<layer.outputs where delta[row] != 0 {
                            gradients[layerIndex].1[row] += delta[row]
                            for column in 0..<layer.inputs {
                                gradients[layerIndex].0[row * layer.inputs + column] += delta[row] * below[column]
                                next[column] += delta[row] * layer.weights[row * layer.inputs + column]
                            }
                        }
                        if layerIndex > 0 { for column in 0..<layer.inputs where below[column] <= 0 { next[column] = 0 } }
                        delta = next
                    }
                }
                step += 1
                let correction1 = 1 - pow(0.9, step), correction2 = 1 - pow(0.999, step)
                for layerIndex in layers.indices {
                    for index in layers[layerIndex].weights.indices {
                        let gradient = gradients[layerIndex].0[index] + weightDecay * layers[layerIndex].weights[index]
                        firstMoment[layerIndex].0[index] = 0.9 * firstMoment[layerIndex].0[index] + 0.1 * gradient
                        secondMoment[layerIndex].0[index] = 0.999 * secondMoment[layerIndex].0[index] + 0.001 * gradient * gradient
                        layers[layerIndex].weights[index] -= rate * (firstMoment[layerIndex].0[index] / correction1)
                            / ((secondMoment[layerIndex].0[index] / correction2).squareRoot() + 1e-8)
                    }
                    for index in layers[layerIndex].biases.indices {
                        let gradient = gradients[layerIndex].1[index]
                        firstMoment[layerIndex].1[index] = 0.9 * firstMoment[layerIndex].1[index] + 0.1 * gradient
                        secondMoment[layerIndex].1[index] = 0.999 * secondMoment[layerIndex].1[index] + 0.001 * gradient * gradient
                        layers[layerIndex].biases[index] -= rate * (firstMoment[layerIndex].1[index] / correction1)
                            / ((secondMoment[layerIndex].1[index] / correction2).squareRoot() + 1e-8)
                    }
                }
            }
        }
    }
}

/// The int8 network the gateway runs: int8 weights with a scale per output channel, int8 activations
/// with a scale per layer input, int32 accumulation and int32 biases. Scratch space is allocated once,
/// so an inference allocates nothing; one instance per thread.
public final class QuantizedNetwork {
    public struct Layer: Sendable {
        public let inputs: Int, outputs: Int
        public let weights: [Int8]
        public let biases: [Int32]
        /// The scale of this layer's int8 input.
        public let inputScale: Double
        public let weightScales: [Double]
    }
    public let layers: [Layer]
    private let buffers: [UnsafeMutableBufferPointer<Int8>]
    private let weightPointers: [UnsafeMutableBufferPointer<Int8>]

    public init(layers: [Layer]) {
        self.layers = layers
        buffers = layers.map { layer in
            let buffer = UnsafeMutableBufferPointer<Int8>.allocate(capacity: layer.inputs)
            buffer.initialize(repeating: 0)
            return buffer
        }
        weightPointers = layers.map { layer in
            let buffer = UnsafeMutableBufferPointer<Int8>.allocate(capacity: layer.weights.count)
            _ = buffer.initialize(from: layer.weights)
            return buffer
        }
    }

    deinit {
        for buffer in buffers + weightPointers { buffer.deallocate() }
    }

    /// Quantizes a float network: per-channel weight scales from each row's largest |weight|, activation
    /// scales from the largest activation seen on `calibration` inputs.
    public convenience init(_ network: FloatNetwork, calibration: [[Double]]) {
        var largest = [Double](repeating: 1e-9, count: network.layers.count)
        for input in calibration {
            for (index, activation) in network.forward(input).prefix(network.layers.count).enumerated() {
                largest[index] = max(largest[index], activation.map { abs($0) }.max() ?? 0)
            }
        }
        let layers = network.layers.enumerated().map { index, layer -> Layer in
            let inputScale = largest[index] / 127
            var weights: [Int8] = [], scales: [Double] = [], biases: [Int32] = []
            for row in 0..<layer.outputs {
                let slice = layer.weights[(row * layer.inputs)..<((row + 1) * layer.inputs)]
                let scale = max(slice.map { abs($0) }.max() ?? 0, 1e-12) / 127
                scales.append(scale)
                weights += slice.map { Int8(max(-127, min(127, ($0 / scale).rounded()))) }
                biases.append(Int32(max(-2e9, min(2e9, (layer.biases[row] / (inputScale * scale)).rounded()))))
            }
            return Layer(inputs: layer.inputs, outputs: layer.outputs, weights: weights, biases: biases, inputScale: inputScale,
                         weightScales: scales)
        }
        self.init(layers: layers)
    }

    /// The logit for one float input (already normalized), quantized on entry.
    public func logit(_ input: UnsafeBufferPointer<Double>) -> Double {
        let first = layers[0]
        for index in 0..<first.inputs { buffers[0][index] = Self.quantize(input[index] / first.inputScale) }
        var output = 0.0
        for (index, layer) in layers.enumerated() {
            let source = buffers[index], weights = weightPointers[index]
            let last = index == layers.count - 1
            for row in 0..<layer.outputs {
                var sum = layer.biases[row]
                let base = row * layer.inputs
                for column in 0..<layer.inputs { sum &+= Int32(weights[base + column]) &* Int32(source[column]) }
                let value = Double(sum) * layer.inputScale * layer.weightScales[row]
                if last { output = value } else { buffers[index + 1][row] = Self.quantize(max(0, value) / layers[index + 1].inputScale) }
            }
        }
        return output
    }

    @inline(__always) static func quantize(_ value: Double) -> Int8 { Int8(max(-127, min(127, value.rounded()))) }
}
