import Testing
@testable import Report

#if canImport(Glibc)
import Glibc
#endif

@Suite struct TimeBucketsTests {
    /// Ten thousand samples into 64 buckets: after the merges, every bucket's minimum, maximum and mean
    /// equal a brute-force pass over the samples that fall in its time span.
    @Test func mergedBucketsKeepExactExtremesAndMeans() {
        let buckets = TimeBuckets(channels: 2, capacity: 64, initialWidth: 1)
        var samples: [(Double, Double, Double)] = []
        var state: UInt64 = 12345
        for index in 0..<10_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let noise = Double(state >> 11) / Double(1 << 53)
            let time = 1_000 + Double(index) * 0.7
            let values = [sin(Double(index) / 300) + noise, index % 97 == 0 ? .nan : Double(index)]
            samples.append((time, values[0], values[1]))
            values.withUnsafeBufferPointer { buckets.add(time: time, $0) }
        }
        #expect(buckets.count <= 64 && buckets.count > 32)
        #expect(buckets.width == 128)  // 7,000 s of data: 1 s doubled until 64 buckets hold it
        for bucket in 0..<buckets.count {
            let start = buckets.time(bucket), end = start + buckets.width
            let inside = samples.filter { $0.0 >= start && $0.0 < end }
            let first = inside.map(\.1), second = inside.map(\.2).filter { !$0.isNaN }
            #expect(buckets.minimum(bucket, 0) == first.min())
            #expect(buckets.maximum(bucket, 0) == first.max())
            #expect(abs((buckets.mean(bucket, 0) ?? 0) - first.reduce(0, +) / Double(first.count)) < 1e-9)
            #expect(buckets.maximum(bucket, 1) == second.max())
        }
        #expect(buckets.range(0)?.maximum == samples.map(\.1).max())
    }

    @Test func emptyChannelsHaveNoValues() {
        let buckets = TimeBuckets(channels: 1, capacity: 4)
        [Double.nan].withUnsafeBufferPointer { buckets.add(time: 10, $0) }
        #expect(buckets.count == 1 && buckets.minimum(0, 0) == nil && buckets.range(0) == nil)
    }

    @Test func textIsEscapedAndTicksAreRound() {
        #expect(HTML.escape("<a & \"b\">") == "&lt;a &amp; &quot;b&quot;&gt;")
        #expect(SVG.niceTicks(0, 57) == [0, 10, 20, 30, 40, 50])
        #expect(SVG.timeTicks(0, 7200).map(\.1) == ["1970-01-01 00:00", "1970-01-01 00:15", "1970-01-01 00:30", "1970-01-01 00:45",
                                                      "1970-01-01 01:00", "1970-01-01 01:15", "1970-01-01 01:30", "1970-01-01 01:45",
                                                      "1970-01-01 02:00"])
    }
}
