/// Settings that shape the Ledger's answers. Part of its inputs, like the timestamps.
public struct LedgerConfig: Equatable, Sendable {
    /// How long an idempotency key is remembered. At least 24 hours by default.
    public var idempotencyTTL: Int64
    /// How long daily usage records and monthly aggregates are kept.
    public var usageRetention: UsageRetention
    /// How long a purchase may stay pending before it fails by itself, so a payment
    /// that never completes does not stay pending for good.
    public var purchaseTimeout: Int64

    /// A TTL below one microsecond is taken as one: a record must outlive the command that made it.
    public init(
        idempotencyTTL: Int64 = 24 * Microseconds.perHour, usageRetention: UsageRetention = UsageRetention(),
        purchaseTimeout: Int64 = Microseconds.perHour
    ) {
        self.idempotencyTTL = max(1, idempotencyTTL)
        self.usageRetention = usageRetention
        self.purchaseTimeout = max(1, purchaseTimeout)
    }
}
