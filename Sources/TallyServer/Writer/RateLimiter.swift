import TallyLedger
import TallyWire

/// A per-user rate for one class of method: `count` calls per `periodSeconds`, with bursts of
/// up to `burst` calls at once.
public struct RateLimit: Sendable, Equatable {
    public var count: Int64
    public var periodSeconds: Int64
    public var burst: Int64

    public init(count: Int64, periodSeconds: Int64 = 1, burst: Int64) {
        self.count = count
        self.periodSeconds = periodSeconds
        self.burst = burst
    }

    /// One line for the start-up banner and `tallyd check-config`.
    public static func summary(_ limits: [RateClass: RateLimit]) -> String {
        let lines = limits.sorted { $0.key.rawValue < $1.key.rawValue }.map {
            "\($0.key.rawValue) \($0.value.count) per \($0.value.periodSeconds) s, burst \($0.value.burst)"
        }
        return lines.isEmpty ? "none" : lines.joined(separator: "; ")
    }

    /// Nanoseconds between calls at the steady rate (at least 1).
    var interval: Int64 { max(1, periodSeconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue / max(1, count)) }
}

/// Token buckets per user and method class, as the generic cell rate algorithm: one number per
/// bucket, the time at which it would be full again, so a bucket costs a dictionary entry and
/// no timer. Buckets that are full are dropped from time to time; they hold nothing.
///
/// Not ledger state and not journaled: a restart forgets every bucket (they all start full).
struct RateLimiter {
    private struct Key: Hashable {
        var user: ExactString
        var rateClass: RateClass
    }

    private let limits: [RateClass: RateLimit]
    /// Per bucket: when it is next full, in monotonic nanoseconds.
    private var fullAt: [Key: Int64] = [:]
    private var sweepAt = 1_024

    init(limits: [RateClass: RateLimit]) {
        self.limits = limits
    }

    var buckets: Int { fullAt.count }

    /// Takes one call from the bucket; nil if admitted, else how many nanoseconds until one is.
    mutating func admit(user: String, _ rateClass: RateClass, now: Int64) -> Int64? {
        guard let limit = limits[rateClass] else { return nil }
        let interval = limit.interval
        let tolerance = interval.multipliedReportingOverflow(by: max(0, limit.burst - 1)).partialValue
        let key = Key(user: ExactString(user), rateClass: rateClass)
        let full = max(fullAt[key] ?? now, now)
        // Admitting this call would leave the bucket full only at full + interval; more than
        // `burst` intervals away means the bucket is empty.
        let earliest = full - tolerance
        if now < earliest { return earliest - now }
        fullAt[key] = full + interval
        if fullAt.count >= sweepAt { sweep(now: now) }
        return nil
    }

    private mutating func sweep(now: Int64) {
        fullAt = fullAt.filter { $0.value > now }
        sweepAt = max(1_024, fullAt.count * 2)
    }
}
