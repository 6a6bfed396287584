#if canImport(Glibc)
import Glibc
#endif

/// Seconds on the monotonic clock: intervals and deadlines, unmoved by the wall clock being set.
public func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Seconds since the epoch on the wall clock: the wall time stamped on records.
public func wallSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
