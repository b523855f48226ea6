import TallyLedger

/// Where accepted mutations become durable before their answers leave the Writer.
///
/// The Writer hands over every state-changing command of a batch as a record with the next
/// sequence number, and answers the batch only when `onDurable` reports success. Callbacks run
/// in the order of the `append` calls.
public protocol Journal: Sendable {
    func append(_ records: [JournalRecord], onDurable: @escaping @Sendable (Result<Void, any Error>) -> Void)
    /// Starts a new segment for the records after those already appended (at a snapshot).
    func rotate()
    /// Removes the segments every record of which has a sequence number up to `sequence`.
    func removeSegments(coveredThrough sequence: UInt64)
    /// fdatasync now (the periodic sync of `--fsync interval`).
    func sync()
    /// Bytes appended since start: the Writer snapshots when enough have accumulated.
    var bytesAppended: Int { get }
    /// Records appended and fdatasyncs done since start (group commit: records per fsync).
    var recordsAppended: Int { get }
    var syncs: Int { get }
    /// Writes and syncs what is queued, then closes. `done` runs when that finished.
    func close(_ done: @escaping @Sendable (Result<Void, any Error>) -> Void)
    /// After a failure, appends again from `nextSequence`, once recovery cut the files back to
    /// the last durable record and left `existingSegments` (FileJournal.reopen).
    func reopen(nextSequence: UInt64, existingSegments: [UInt64], _ done: @escaping @Sendable (Result<Void, any Error>) -> Void)
}
