/// Microseconds since the Unix epoch (UTC). The Ledger never reads a clock: every command
/// arrives with the timestamp the Writer stamped on it, strictly increasing.
public typealias Timestamp = Int64

/// Lengths of time in the Ledger's unit (named apart from Swift.Duration, which the Ledger
/// does not use: its time is plain microseconds).
public enum Microseconds {
    public static let perSecond: Int64 = 1_000_000
    public static let perHour: Int64 = 3_600 * perSecond
}

/// "2026-11-23T05:00:00Z": a timestamp in UTC to the second, for messages (pure arithmetic).
public func utcDescription(_ moment: Timestamp) -> String {
    let day = UsageDay.utc(containing: moment)
    let seconds = (moment - day.startsAt) / Microseconds.perSecond  // 0..<86_400
    func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
    return "\(day.date)T\(two(seconds / 3_600)):\(two(seconds / 60 % 60)):\(two(seconds % 60))Z"
}
