import HashTreeCollections

/// What archived transactions added up to: once a transaction leaves memory for the archive
/// files, its movement is carried here, so invariants, reconciliation and stats still count
/// every transaction ever made.
public struct ArchivedHistory: Equatable, Sendable {
    /// A user's archived movements: what they added to available, committed, earned, spent.
    public struct Totals: Equatable, Sendable {
        public var available: Int64 = 0
        public var committed: Int64 = 0
        public var earned: Int64 = 0
        public var spent: Int64 = 0
        public var transactions: UInt64 = 0

        public init(available: Int64 = 0, committed: Int64 = 0, earned: Int64 = 0, spent: Int64 = 0, transactions: UInt64 = 0) {
            self.available = available
            self.committed = committed
            self.earned = earned
            self.spent = spent
            self.transactions = transactions
        }
    }

    /// Per type: how many archived transactions, and their tokens (saturating at Int64.max).
    public struct Volume: Equatable, Sendable {
        public var transactions: Int64 = 0
        public var tokens: Int64 = 0

        public init(transactions: Int64 = 0, tokens: Int64 = 0) {
            self.transactions = transactions
            self.tokens = tokens
        }
    }

    public var users: TreeDictionary<ExactString, Totals> = [:]
    public var volume: TreeDictionary<Int, Volume> = [:]
    /// What archived transactions moved through the system accounts.
    public var mint: Int64 = 0
    public var burn: Int64 = 0
    public var house: Int64 = 0
    /// How many transactions were archived, and the last archive batch applied.
    public var count: UInt64 = 0
    public var lastBatch: UInt64 = 0
    /// How many settled commitments were archived, and their last batch applied.
    public var commitments: UInt64 = 0
    public var lastCommitmentBatch: UInt64 = 0

    public init() {}
}

/// Moves transactions `ids` out of memory (they were written to archive batch `batch`).
public struct ArchiveTransactions: Equatable, Sendable {
    public var batch: UInt64
    public var ids: [UInt64]

    public init(batch: UInt64, ids: [UInt64]) {
        self.batch = batch
        self.ids = ids
    }
}

/// Moves settled commitments `ids` out of memory (they were written to commitment archive batch
/// `batch`); their predictions keep their summaries.
public struct ArchiveCommitments: Equatable, Sendable {
    public var batch: UInt64
    public var ids: [UInt64]

    public init(batch: UInt64, ids: [UInt64]) {
        self.batch = batch
        self.ids = ids
    }
}
