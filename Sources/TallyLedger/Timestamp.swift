/// Microseconds since the Unix epoch (UTC). The Ledger never reads a clock: every command
/// arrives with the timestamp the Writer stamped on it, strictly increasing.
public typealias Timestamp = Int64

public enum Duration {
    public static let microsecondsPerSecond: Int64 = 1_000_000
    public static let microsecondsPerHour: Int64 = 3_600 * microsecondsPerSecond
}
