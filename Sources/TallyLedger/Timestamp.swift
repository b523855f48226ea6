/// Microseconds since the Unix epoch (UTC). The Ledger never reads a clock: every command
/// arrives with the timestamp the Writer stamped on it, strictly increasing.
public typealias Timestamp = Int64

public enum Duration {
    public static let microsecondsPerSecond: Int64 = 1_000_000
    public static let microsecondsPerHour: Int64 = 3_600 * microsecondsPerSecond
}

/// "2026-11-23T05:00:00Z": a timestamp in UTC to the second, for messages (pure arithmetic).
public func utcDescription(_ moment: Timestamp) -> String {
    let day = UsageDay.utc(containing: moment)
    let seconds = (moment - day.startsAt) / Duration.microsecondsPerSecond  // 0..<86_400
    func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
    return "\(day.date)T\(two(seconds / 3_600)):\(two(seconds / 60 % 60)):\(two(seconds % 60))Z"
}
