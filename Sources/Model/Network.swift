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

    /// One network whose logit is the mean of the members' logits (two layers each, same sizes): their
    /// hidden units side by side, the output weights divided by the number of members.
    public init(averaging members: [FloatNetwork]) {
        precondition(!members.isEmpty && members.allSatisfy { $0.layers.count == 2 })
        let scale = 1 / Double(members.count)
        let first = members[0].layers[0], last = members[0].layers[1]
        layers = [
            Layer(weights: members.flatMap { $0.layers[0].weights }, biases: members.flatMap { $0.layers[0].biases },
                  inputs: first.inputs, outputs: first.outputs * members.count),
            Layer(weights: members.flatMap { $0.layers[1].weights.map { $0 * scale } },
                  biases: [members.reduce(0) { $0 + $1.layers[1].biases[0] * scale }],
                  inputs: last.inputs * members.count, outputs: 1),
        ]
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
    /// What the inference loop reads, behind raw pointers: no array, no reference counting per row.
    private struct Plan {
        let inputs: Int, outputs: Int
        let weights: UnsafeMutablePointer<Int8>
        let biases: UnsafeMutablePointer<Int32>
        /// Per output row: input scale × weight scale, the value of one accumulator step.
        let steps: UnsafeMutablePointer<Double>
        /// The int8 input of this layer.
        let input: UnsafeMutablePointer<Int8>
        let inverseInputScale: Double
    }
    private let plans: UnsafeMutableBufferPointer<Plan>

    public init(layers: [Layer]) {
        self.layers = layers
        plans = .allocate(capacity: layers.count)
        for (index, layer) in layers.enumerated() {
            let weights = UnsafeMutablePointer<Int8>.allocate(capacity: layer.weights.count)
            weights.initialize(from: layer.weights, count: layer.weights.count)
            let biases = UnsafeMutablePointer<Int32>.allocate(capacity: layer.outputs)
            biases.initialize(from: layer.biases, count: layer.outputs)
            let steps = UnsafeMutablePointer<Double>.allocate(capacity: layer.outputs)
            steps.initialize(from: layer.weightScales.map { $0 * layer.inputScale }, count: layer.outputs)
            let input = UnsafeMutablePointer<Int8>.allocate(capacity: layer.inputs)
            input.initialize(repeating: 0, count: layer.inputs)
            (plans.baseAddress! + index).initialize(to: Plan(inputs: layer.inputs, outputs: layer.outputs, weights: weights, biases: biases,
                                                             steps: steps, input: input, inverseInputScale: 1 / layer.inputScale))
        }
    }

    deinit {
        for plan in plans {
            plan.weights.deallocate()
            plan.biases.deallocate()
            plan.steps.deallocate()
            plan.input.deallocate()
        }
        plans.deallocate()
    }

    /// Quantizes a float network: per-channel weight scales from each row's largest |weight|, activation
    /// scales from the 99.9th percentile of |activation| on `calibration` inputs. Not the maximum: a
    /// missing day (−1 where a pack voltage is ~370 V) is dozens of deviations out, and a scale wide enough
    /// for it would leave ordinary values a handful of steps; beyond the percentile values saturate at ±127.
    public convenience init(_ network: FloatNetwork, calibration: [[Double]]) {
        var magnitudes = [[Double]](repeating: [], count: network.layers.count)
        for input in calibration {
            for (index, activation) in network.forward(input).prefix(network.layers.count).enumerated() {
                magnitudes[index] += activation.map { abs($0) }
            }
        }
        let largest = magnitudes.map { values -> Double in
            let sorted = values.sorted()
            return max(sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.999))], 1e-9)
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

    /// The logit for one float input (already normalized), quantized on entry. Allocates nothing.
    public func logit(_ input: UnsafeBufferPointer<Double>) -> Double {
        let first = plans[0]
        for index in 0..<first.inputs { first.input[index] = Self.quantize(input[index] * first.inverseInputScale) }
        var output = 0.0
        for index in 0..<plans.count {
            let plan = plans[index]
            let last = index == plans.count - 1
            for row in 0..<plan.outputs {
                var sum = plan.biases[row]
                let weights = plan.weights + row * plan.inputs
                for column in 0..<plan.inputs { sum &+= Int32(weights[column]) &* Int32(plan.input[column]) }
                let value = Double(sum) * plan.steps[row]
                if last {
                    output = value
                } else {
                    let next = plans[index + 1]
                    next.input[row] = Self.quantize(max(0, value) * next.inverseInputScale)
                }
            }
        }
        return output
    }

    /// Round half away from zero and saturate at ±127, without a libm call (x86-64's baseline has no
    /// rounding instruction, and this runs for every activation).
    @inline(__always) static func quantize(_ value: Double) -> Int8 {
        let clamped = max(-127, min(127, value))
        return Int8(truncatingIfNeeded: Int(clamped + (clamped < 0 ? -0.5 : 0.5)))
    }
}
