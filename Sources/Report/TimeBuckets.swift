/// Downsamples several series that share a time axis into at most `capacity` buckets of equal width,
/// keeping per bucket and channel the minimum, maximum and mean, so that a plot drawn from it shows every
/// peak of the raw data however long it is. Memory is fixed at creation: when a sample falls past the
/// last bucket, neighbouring buckets are merged in pairs and the width doubles.
public final class TimeBuckets {
    public let channels: Int
    public let capacity: Int
    public private(set) var origin = Double.nan
    /// Seconds per bucket.
    public private(set) var width: Double
    /// Buckets in use (the last one with data, plus one).
    public private(set) var count = 0
    private let minimums: UnsafeMutableBufferPointer<Double>
    private let maximums: UnsafeMutableBufferPointer<Double>
    private let sums: UnsafeMutableBufferPointer<Double>
    private let samples: UnsafeMutableBufferPointer<Int>

    /// `initialWidth`: seconds per bucket until the data outgrows `capacity` buckets.
    public init(channels: Int, capacity: Int, initialWidth: Double = 1) {
        precondition(channels > 0 && capacity >= 2 && capacity % 2 == 0 && initialWidth > 0)
        self.channels = channels
        self.capacity = capacity
        width = initialWidth
        minimums = .allocate(capacity: channels * capacity)
        maximums = .allocate(capacity: channels * capacity)
        sums = .allocate(capacity: channels * capacity)
        samples = .allocate(capacity: channels * capacity)
        clear(from: 0)
    }

    deinit {
        minimums.deallocate()
        maximums.deallocate()
        sums.deallocate()
        samples.deallocate()
    }

    /// Adds one sample per channel at `time`; a NaN value is no sample for its channel. Samples must come in
    /// time order (an earlier one goes into the first bucket).
    public func add(time: Double, _ values: UnsafeBufferPointer<Double>) {
        precondition(values.count == channels)
        if origin.isNaN { origin = time }
        var index = max(0, Int(((time - origin) / width).rounded(.down)))
        while index >= capacity {
            mergePairs()
            index = max(0, Int(((time - origin) / width).rounded(.down)))
        }
        count = max(count, index + 1)
        let base = index * channels
        for channel in 0..<channels where !values[channel].isNaN {
            let value = values[channel]
            minimums[base + channel] = min(minimums[base + channel], value)
            maximums[base + channel] = max(maximums[base + channel], value)
            sums[base + channel] += value
            samples[base + channel] += 1
        }
    }

    public func minimum(_ bucket: Int, _ channel: Int) -> Double? { has(bucket, channel) ? minimums[bucket * channels + channel] : nil }
    public func maximum(_ bucket: Int, _ channel: Int) -> Double? { has(bucket, channel) ? maximums[bucket * channels + channel] : nil }
    public func mean(_ bucket: Int, _ channel: Int) -> Double? {
        has(bucket, channel) ? sums[bucket * channels + channel] / Double(samples[bucket * channels + channel]) : nil
    }
    /// The start time of a bucket.
    public func time(_ bucket: Int) -> Double { origin + Double(bucket) * width }

    /// The extremes of a channel over every bucket, or nil without data.
    public func range(_ channel: Int) -> (minimum: Double, maximum: Double)? {
        var result: (minimum: Double, maximum: Double)?
        for bucket in 0..<count {
            guard let low = minimum(bucket, channel), let high = maximum(bucket, channel) else { continue }
            result = (min(result?.minimum ?? low, low), max(result?.maximum ?? high, high))
        }
        return result
    }

    private func has(_ bucket: Int, _ channel: Int) -> Bool { bucket < count && samples[bucket * channels + channel] > 0 }

    private func mergePairs() {
        for target in 0..<(capacity / 2) {
            for channel in 0..<channels {
                let into = target * channels + channel, first = 2 * target * channels + channel, second = first + channels
                minimums[into] = min(minimums[first], minimums[second])
                maximums[into] = max(maximums[first], maximums[second])
                sums[into] = sums[first] + sums[second]
                samples[into] = samples[first] + samples[second]
            }
        }
        clear(from: capacity / 2)
        width *= 2
        count = (count + 1) / 2
    }

    private func clear(from bucket: Int) {
        for slot in (bucket * channels)..<(capacity * channels) {
            minimums[slot] = .infinity
            maximums[slot] = -.infinity
            sums[slot] = 0
            samples[slot] = 0
        }
    }
}
