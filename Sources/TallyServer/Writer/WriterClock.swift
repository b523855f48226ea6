import Glibc
import Synchronization

/// Where tallyd reads the time of day: the system's real-time clock, or (tests) the same
/// clock moved by an offset, so a test can stand a few seconds before midnight.
public final class WallClock: Sendable {
    private let offset: Atomic<Int64>

    public static let system = WallClock(offsetMicroseconds: 0)

    public init(offsetMicroseconds: Int64) {
        offset = Atomic(offsetMicroseconds)
    }

    /// Moves the clock (tests). The Writer never stamps backwards: a clock moved back is
    /// followed one microsecond at a time until it catches up.
    public func move(toOffsetMicroseconds microseconds: Int64) {
        offset.store(microseconds, ordering: .relaxed)
    }

    /// Microseconds since the Unix epoch.
    public func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000 + offset.load(ordering: .relaxed)
    }
}

/// Stamps commands with strictly increasing timestamps (microseconds since the Unix epoch):
/// the wall clock when it moves forward, one past the last stamp when it does not (a burst
/// within one microsecond, or the clock stepping back).
struct WriterClock {
    private(set) var last: Int64
    let wall: WallClock

    init(after last: Int64, wall: WallClock = .system) {
        self.last = last
        self.wall = wall
    }

    mutating func stamp() -> Int64 {
        last = max(wall.now(), last + 1)
        return last
    }

    /// A stamp applied from a log other nodes write to: stamps after it come later still.
    mutating func follow(_ stamp: Int64) {
        last = max(last, stamp)
    }

    /// Now, for reads: not before the last stamp, and without using up a stamp.
    func peek() -> Int64 {
        max(wall.now(), last)
    }

    static func wallClockMicros() -> Int64 { WallClock.system.now() }
}
