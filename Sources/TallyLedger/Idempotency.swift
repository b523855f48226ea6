import DequeModule
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

/// Idempotency keys with expiry. Expired records are purged in expiry order as commands arrive,
/// so memory stays proportional to the keys used within one time-to-live.
public struct IdempotencyTable: Sendable {
    public private(set) var records: TreeDictionary<ExactString, IdempotencyRecord> = [:]
    /// Keys in order of expiry. A derived index: rebuilt from `records` on load.
    private var expiryOrder: Deque<(expiresAt: Timestamp, key: ExactString)> = []

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
        // TTL is configurable, so a new record may expire before older ones; keep the deque
        // sorted by inserting from the back (almost always an append).
        var index = expiryOrder.endIndex
        while index > expiryOrder.startIndex, expiryOrder[index - 1].expiresAt > record.expiresAt {
            index -= 1
        }
        expiryOrder.insert((record.expiresAt, key), at: index)
    }

    /// Drops every record expired at `now`. Returns whether anything was dropped.
    mutating func purge(at now: Timestamp) -> Bool {
        var purged = false
        while let first = expiryOrder.first, first.expiresAt <= now {
            expiryOrder.removeFirst()
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
