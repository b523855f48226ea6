import HashTreeCollections

/// What the Ledger remembers about an idempotency key: the first command seen with it and the
/// first answer, refusals included, so a retry never flips an outcome.
public struct IdempotencyRecord: Equatable, Sendable {
    public var command: Command
    public var firstSeenAt: Timestamp
    public var expiresAt: Timestamp
    public var outcome: Outcome

    public init(command: Command, firstSeenAt: Timestamp, expiresAt: Timestamp, outcome: Outcome) {
        self.command = command
        self.firstSeenAt = firstSeenAt
        self.expiresAt = expiresAt
        self.outcome = outcome
    }
}

/// Idempotency keys with expiry. Expired records are purged in order as commands arrive, so
/// memory stays proportional to the keys used within one time-to-live.
///
/// Both parts are persistent collections: the Writer copies the Ledger per batch in flight and
/// for every snapshot, and a plain Deque or Array would copy itself whole on the next write.
public struct IdempotencyTable: Sendable {
    public private(set) var records: TreeDictionary<ExactString, IdempotencyRecord> = [:]
    /// Keys in the order they were recorded, as a FIFO (positions `head..<tail`). A derived
    /// index: rebuilt from `records` on load. The TTL is fixed while tallyd runs, so this is
    /// also expiry order; after a restart with a shorter TTL a few records may wait behind
    /// older ones for their purge (lookups check expiry themselves, so answers are unaffected).
    private var expiryOrder: TreeDictionary<UInt64, (expiresAt: Timestamp, key: ExactString)> = [:]
    private var head: UInt64 = 0
    private var tail: UInt64 = 0

    public init() {}

    public init(records: [ExactString: IdempotencyRecord]) {
        for (key, record) in records.sorted(by: { ($0.value.expiresAt, $0.key) < ($1.value.expiresAt, $1.key) }) {
            insert(key: key, record)
        }
    }

    /// The live record for `key` at time `now`, if any.
    public func record(for key: ExactString, at now: Timestamp) -> IdempotencyRecord? {
        guard let record = records[key], record.expiresAt > now else { return nil }
        return record
    }

    mutating func insert(key: ExactString, _ record: IdempotencyRecord) {
        records[key] = record
        expiryOrder[tail] = (record.expiresAt, key)
        tail += 1
    }

    /// Drops every record expired at `now`. Returns whether anything was dropped.
    mutating func purge(at now: Timestamp) -> Bool {
        var purged = false
        while head < tail, let first = expiryOrder[head], first.expiresAt <= now {
            expiryOrder[head] = nil
            head += 1
            // The key may have been used again after expiring; only drop the record this entry was for.
            if let record = records[first.key], record.expiresAt == first.expiresAt {
                records[first.key] = nil
                purged = true
            }
        }
        return purged
    }
}

extension IdempotencyTable: Equatable {
    /// Equal when the records are; the expiry order is an index derived from them.
    public static func == (lhs: IdempotencyTable, rhs: IdempotencyTable) -> Bool {
        lhs.records == rhs.records
    }
}
