import Glibc

/// Stamps commands with strictly increasing timestamps (microseconds since the Unix epoch):
/// the wall clock when it moves forward, one past the last stamp when it does not (a burst
/// within one microsecond, or the clock stepping back).
struct WriterClock {
    private(set) var last: Int64

    init(after last: Int64) {
        self.last = last
    }

    mutating func stamp() -> Int64 {
        let now = Self.wallClockMicros()
        last = max(now, last + 1)
        return last
    }

    static func wallClockMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000
    }
}
