import Crypto
import TallyLedger

/// A log of stamped commands that several tallyd nodes share (`--journal postgresql://...`):
/// one total order with no gaps, which every node applies in full, its own commands and the
/// others'. Unlike the file journal, a node does not apply a command and then make it durable:
/// it proposes the command, and applies it (answering its caller) only when the log hands it
/// back in its place, so every node reaches the same state (docs/decisions.md, "Several hosts
/// share one command log").
///
/// The `Journal` side is what the rest of tallyd already asks of durability: snapshots report
/// what they cover through `removeSegments(coveredThrough:)` (the log drops rows every node's
/// snapshot covers), `close` ends the connections, and `append` proposes records no caller
/// waits on.
public protocol CommandLog: Journal {
    /// This node's name in the log: its data directory's id.
    var node: String { get }
    /// This run of the node: proposals are numbered per run.
    var boot: Int64 { get }
    /// The last position this node knows the log to hold (its lag is this minus what it applied).
    var head: UInt64 { get }

    /// Proposes `records` (stamped, not applied; their sequence numbers are ignored) as one
    /// unit at the end of the log, on behalf of proposal `proposal` (non-zero). `failed` runs
    /// when they certainly did not enter the log, or with `OutcomeUnknown` when the log closed
    /// before it could tell; once they did, they come back through `follow` like every other
    /// batch.
    func propose(_ records: [JournalRecord], proposal: UInt64, failed: @escaping @Sendable (any Error) -> Void)

    /// Hands every batch after position `sequence` to `apply`, in log order, and goes on with
    /// each new one; `apply` calls its completion once the batches are applied (the next read
    /// waits for it). `chain` is the log's chain hash through `sequence` as this node applied it:
    /// each row's chain is checked against it (`LogBatch.chain`). A log that no longer holds the
    /// position after `sequence`, or whose rows do not continue the history this node applied,
    /// reports that once through `lost` and stops.
    func follow(
        after sequence: UInt64, chain: [UInt8],
        apply: @escaping @Sendable ([LogBatch], _ applied: @escaping @Sendable () -> Void) -> Void,
        lost: @escaping @Sendable (any Error) -> Void)
}

/// What a proposal's `failed` gets when the log may hold the proposal after all: its append was
/// under way when the connection broke and tallyd stopped (or lost the log) before learning
/// whether it committed. Its callers are told the outcome is unknown (`OUTCOME_UNKNOWN`), not
/// that nothing was applied: if it committed, every node applies it.
public struct OutcomeUnknown: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// One row of the command log: the records one node's group commit carried, at positions
/// `firstSequence`, `firstSequence + 1`, ...
public struct LogBatch: Sendable {
    public var firstSequence: UInt64
    public var node: String
    public var boot: Int64
    /// Per record, the proposal it belongs to (0: none, no caller waits on it).
    public var proposals: [UInt64]
    /// Numbered with their positions in the log.
    public var records: [JournalRecord]
    /// The log's chain hash through this row: `chain(after:_:)` of the row before's and the bytes.
    public var chain: [UInt8]

    public init(firstSequence: UInt64, node: String, boot: Int64, proposals: [UInt64], records: [JournalRecord], chain: [UInt8]) {
        self.firstSequence = firstSequence
        self.node = node
        self.boot = boot
        self.proposals = proposals
        self.records = records
        self.chain = chain
    }

    public var lastSequence: UInt64 { firstSequence + UInt64(records.count) - 1 }

    /// A row's chain hash: SHA-256 of the previous row's chain (empty before the first row) and
    /// the row's records as `encode` wrote them, as PostgreSQL's `sha256(chain || records)`
    /// computes it when the row is appended. Equal chains at one position mean one history of
    /// commands; a node checks each row it follows against the chain it applied so far, so a
    /// node that applied rows its log no longer holds (a failover that lost them) stops instead
    /// of building on a history the others do not share.
    public static func chain(after previous: [UInt8], _ bytes: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: previous)
        hasher.update(data: bytes)
        return Array(hasher.finalize())
    }

    /// Checks that `rows` (each with the bytes it was read as) continue the history whose chain
    /// is `chain`, and moves `chain` to the last of them; the error says where one does not.
    public static func check(_ rows: [(batch: LogBatch, bytes: [UInt8])], continuing chain: inout [UInt8]) -> StoreError? {
        for row in rows {
            let next = Self.chain(after: chain, row.bytes)
            guard next == row.batch.chain else { return historyDiffers(at: row.batch.firstSequence) }
            chain = next
        }
        return nil
    }

    /// Why a node stops following a log whose row at `position` does not continue its history.
    static func historyDiffers(at position: UInt64) -> StoreError {
        StoreError(
            "the command log's row at position \(position) does not continue the history this node applied (its chain hash differs): the log lost rows this node applied (a failover to a standby that lacked them?), or belongs to another deployment; seed this node from a backup of a node of this log (tallyd restore) and start it again")
    }

    /// The records as one byte string: JournalRecord's framing, each numbered with its index in
    /// the batch (the row's place in the log is known only once it is written).
    public static func encode(_ records: [JournalRecord]) throws -> [UInt8] {
        var bytes: [UInt8] = []
        for (index, record) in records.enumerated() {
            var numbered = record
            numbered.sequence = UInt64(index)
            try numbered.encode(into: &bytes)
        }
        return bytes
    }

    /// The records of a row written by `encode`, numbered from `firstSequence`.
    public static func decode(_ bytes: [UInt8], firstSequence: UInt64) throws -> [JournalRecord] {
        var records: [JournalRecord] = []
        var offset = 0
        while offset < bytes.count {
            switch JournalRecord.read(bytes[offset...]) {
            case .record(var record, let size):
                guard record.sequence == UInt64(records.count) else {
                    throw StoreError("log row at \(firstSequence): record \(records.count) is numbered \(record.sequence)")
                }
                record.sequence = firstSequence + UInt64(records.count)
                records.append(record)
                offset += size
            case .truncated:
                throw StoreError("log row at \(firstSequence): record \(records.count) is cut short")
            case .damaged(let why):
                throw StoreError("log row at \(firstSequence): record \(records.count) is damaged: \(why)")
            }
        }
        return records
    }
}
