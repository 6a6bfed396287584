import Consistency
import Model
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct CellDriftModelTests {
    /// A small model learning "cell 0 deviates": rows whose first input is large are positive.
    private func model() -> CellDriftModel {
        var generator = SplitMix(3)
        func uniform() -> Double { Double(generator.next() >> 11) / Double(1 << 53) }
        var rows: [[Double]] = [], labels: [Int] = []
        for _ in 0..<400 {
            let positive = uniform() < 0.3
            var row = (0..<CellDriftFeatures.count).map { _ in uniform() * 4 - 2 }
            row[0] = positive ? 20 + uniform() * 10 : uniform() * 6 - 3
            rows.append(row)
            labels.append(positive ? 1 : 0)
        }
        let trained = NormalizedNetwork.train(rows, labels, hidden: 6, epochs: 30, members: 1, rate: 0.01, weightDecay: 1e-4, seed: 1)
        return CellDriftModel(scorer: trained.model, threshold: 0.8, holdSeconds: 600, scoreInterval: 60, training: "{\"test\": true}")
    }

    private func temporaryPath(_ name: String) -> String { "/tmp/celldrift-test-\(getpid())-\(name)" }

    /// Every cell scored by the shared network; the pack score is the highest and names its cell.
    @Test func packScoreIsTheHighestCell() {
        let model = model()
        let features = ConsistencyFeatures(cells: 8, window: 4)
        let drift = CellDriftFeatures(features: features)
        var voltages = [Double](repeating: 3.7, count: 8)
        voltages[5] = 3.73
        for time in stride(from: 0.0, through: 60, by: 10) {
            voltages.withUnsafeBufferPointer { features.update(time: time, voltages: $0, temperatures: UnsafeBufferPointer(start: nil, count: 0), current: 0) }
            drift.update(time: time, temperatures: UnsafeBufferPointer(start: nil, count: 0), current: 0)
        }
        var scores = [Double](repeating: 0, count: 8)
        let best = scores.withUnsafeMutableBufferPointer { model.score(drift, into: $0) }
        #expect(best.cell == 5 && best.score == scores.max())
        for cell in 0..<8 { #expect(scores[cell] == model.probability(drift.inputs(cell: cell))) }
        #expect(scores[5] > 0.9 && scores[0] < 0.5)
    }

    /// Written and read back: same scores, thresholds and training summary; a pack-model reader refuses it.
    @Test func fileRoundTripAndKindCheck() throws {
        let model = model()
        let path = temporaryPath("cell.safetensors")
        defer { unlink(path) }
        try ModelFile.write(model, to: path)
        let loaded = try ModelFile.loadCellDrift(path)
        #expect(loaded.threshold == 0.8 && loaded.holdSeconds == 600 && loaded.scoreInterval == 60)
        #expect(loaded.training.contains("\"test\": true"))
        let row = [25.0] + [Double](repeating: 0.5, count: CellDriftFeatures.count - 1)
        #expect(loaded.probability(row) == model.probability(row))
        #expect(throws: ModelError.self) { try ModelFile.load(path) }
        do { _ = try ModelFile.load(path) } catch { #expect(error.description.contains("not a celldrift pack model (format celldrift-model, kind cell-drift)")) }
    }
}
