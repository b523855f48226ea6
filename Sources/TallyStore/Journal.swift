import TallyLedger

/// Where accepted mutations become durable before their answers leave the Writer.
///
/// The Writer hands over every state-changing command of a batch, stamped as applied, and
/// answers the batch only when `onDurable` runs. The write-ahead journal (group commit, fsync)
/// implements this next; until then `SnapshotsOnly` makes commands durable only at the next
/// snapshot, which is what `--fsync never` will mean.
public protocol Journal: Sendable {
    func append(_ commands: [(Command, Timestamp)], onDurable: @escaping @Sendable (Result<Void, Error>) -> Void)
}

/// No journal: acknowledges at once. A crash loses what the last snapshot did not hold.
public struct SnapshotsOnly: Journal {
    public init() {}

    public func append(_ commands: [(Command, Timestamp)], onDurable: @escaping @Sendable (Result<Void, Error>) -> Void) {
        onDurable(.success(()))
    }
}
