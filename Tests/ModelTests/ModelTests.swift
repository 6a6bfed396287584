import Model
import Testing

@Suite struct SHA256Tests {
    /// FIPS 180-4's examples, and a message that spans a padding boundary.
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func knownDigests(message: String, digest: String) {
        #expect(SHA256.hex(Array(message.utf8)) == digest)
    }

    @Test func aMillionAs() {
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

@Suite struct MetricsTests {
    @Test func aucCountsTiesHalfAndF1FollowsTheThreshold() {
        // Positives at 0.9 and 0.5, negatives at 0.5 and 0.1: pairs won 1 + 1 + 0.5 + 1 of 4.
        #expect(Metrics.auc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]) == 0.875)
        let atHalf = Metrics([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0], threshold: 0.5)
        #expect(atHalf.precision == 2.0 / 3 && atHalf.recall == 1)
        #expect(Metrics.bestF1([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]).f1 >= atHalf.f1)
    }
}

@Suite struct NetworkTests {
    private func inputs(_ count: Int, seed: UInt64) -> [[Double]] {
        var generator = SplitMix(seed)
        return (0..<count).map { _ in (0..<10).map { _ in Double(generator.next() >> 11) / Double(1 << 53) * 4 - 2 } }
    }

    /// Averaging members into one network gives the mean of their logits.
    @Test func averagedNetworkIsTheMeanOfItsMembers() {
        let members = (0..<3).map { FloatNetwork(sizes: [10, 6, 1], seed: UInt64($0)) }
        let merged = FloatNetwork(averaging: members)
        for input in inputs(20, seed: 9) {
            let mean = members.map { $0.logit(input) }.reduce(0, +) / 3
            #expect(abs(merged.logit(input) - mean) < 1e-12)
        }
    }

    /// The int8 network follows its float twin to within the quantization steps (logits up to ±6 here).
    @Test func quantizedFollowsFloat() {
        let network = FloatNetwork(sizes: [10, 16, 1], seed: 4)
        let calibration = inputs(500, seed: 5)
        let quantized = QuantizedNetwork(network, calibration: calibration)
        var errors: [Double] = [], spread = 0.0
        for input in inputs(200, seed: 6) {
            let float = network.logit(input)
            errors.append(abs(input.withUnsafeBufferPointer { quantized.logit($0) } - float))
            spread = max(spread, abs(float))
        }
        // Activations past the calibrated 99.9th percentile saturate, so a few inputs err more: the
        // median and the 95th percentile are what quantization alone decides.
        errors.sort()
        #expect(errors[100] < 0.01 * spread && errors[190] < 0.03 * spread)
        #expect(quantized.layers[0].weights.contains(127) || quantized.layers[0].weights.contains(-127))
    }
}
