extension UnsafeMutableBufferPointer where Element == Double {
    /// Per-cell (or per-sensor) storage of the estimators, allocated once when they are made and set to 0.
    static func zeroed(_ count: Int) -> UnsafeMutableBufferPointer<Double> {
        let buffer = UnsafeMutableBufferPointer<Double>.allocate(capacity: Swift.max(count, 1))
        buffer.initialize(repeating: 0)
        return buffer
    }
}
