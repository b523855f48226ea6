/// Who made a mutation attempt, and through which method: the Writer knows it (the kernel's
/// peer credentials, the role they map to, the wire method), journals it with the command, and
/// the Ledger records it in the audit log.
public struct AuditOrigin: Equatable, Sendable {
    public var uid: UInt32
    public var gid: UInt32
    /// The caller's role ("admin", "app", ...), or "tallyd" for tallyd's own commands.
    public var role: String
    /// The wire method ("/tally.v1.Ledger/Spend"), or what tallyd did ("tallyd/ExpireReservations").
    public var method: String

    public init(uid: UInt32, gid: UInt32, role: String, method: String) {
        self.uid = uid
        self.gid = gid
        self.role = role
        self.method = method
    }
}

/// One mutation attempt, accepted or refused: who, what, for which user,
/// and how it ended.
public struct AuditEntry: Sendable {
    public var id: UInt64
    public var at: Timestamp
    public var origin: AuditOrigin
    /// The user the attempt concerned ("" when none: an admin's price change, a refusal before
    /// the payload was read).
    public var userID: String
    /// gRPC status code: 0 for OK, else the refusal's.
    public var code: Int32
    /// The refusal's reason ("" when accepted).
    public var reason: String
    /// What the message is written from: an entry is written on every audited call and read
    /// rarely, so the numbers are kept and the text made when read.
    public var note: AuditNote
    /// An idempotent retry (or already-done purchase or settlement) answered from memory.
    public var replayed: Bool
    private var transactions: TransactionIDs

    public init(
        id: UInt64, at: Timestamp, origin: AuditOrigin, userID: String, code: Int32, reason: String, message: String,
        replayed: Bool = false, transactionIDs: [UInt64] = []
    ) {
        self.init(
            id: id, at: at, origin: origin, userID: userID, code: code, reason: reason, note: .text(message),
            replayed: replayed, transactions: TransactionIDs(transactionIDs))
    }

    init(
        id: UInt64, at: Timestamp, origin: AuditOrigin, userID: String, code: Int32, reason: String, note: AuditNote,
        replayed: Bool, transactions: TransactionIDs
    ) {
        self.id = id
        self.at = at
        self.origin = origin
        self.userID = userID
        self.code = code
        self.reason = reason
        self.note = note
        self.replayed = replayed
        self.transactions = transactions
    }

    public var accepted: Bool { code == 0 }

    /// The refusal's message, or what an accepted attempt did.
    public var message: String {
        get { note.message }
        set { note = .text(newValue) }
    }

    /// The transactions it recorded, if any.
    public var transactionIDs: [UInt64] {
        get {
            switch transactions {
            case .span(let span): Array(span)
            case .list(let ids): ids
            }
        }
        set { transactions = TransactionIDs(newValue) }
    }
}

extension AuditEntry: Equatable {
    /// Equal when they read the same: a note kept as numbers equals its text (a snapshot keeps text).
    public static func == (a: AuditEntry, b: AuditEntry) -> Bool {
        a.id == b.id && a.at == b.at && a.origin == b.origin && a.userID == b.userID && a.code == b.code
            && a.reason == b.reason && a.replayed == b.replayed && a.transactionIDs == b.transactionIDs
            && (a.note == b.note || a.message == b.message)
    }
}

/// What an audited attempt did, as the numbers its message is written from.
public enum AuditNote: Equatable, Sendable {
    case text(String)
    /// A transaction recorded: its type, amount, and the available balance before and after.
    case transaction(TransactionType, amount: Int64, before: Int64, after: Int64)
    /// A usage call counted (with per-call usage auditing on).
    case usage(used: Int64, reserved: Int64, limit: Int64, date: CivilDay)

    public var message: String {
        switch self {
        case .text(let text): text
        case .transaction(let type, let amount, let before, let after): "\(type) \(amount): available \(before) -> \(after)"
        case .usage(let used, let reserved, let limit, let date): "used \(used), reserved \(reserved) of \(limit) on \(date)"
        }
    }
}

/// The ids of the transactions an attempt recorded: a command's are consecutive, so a range
/// (no array to allocate per entry); any other list as it is.
enum TransactionIDs: Equatable, Sendable {
    case span(Range<UInt64>)
    case list([UInt64])

    init(_ ids: [UInt64]) {
        // Read from a snapshot, ids can be anything: no arithmetic that could trap on UInt64.max.
        guard let first = ids.first, let last = ids.last else {
            self = .span(0..<0)
            return
        }
        let consecutive = last < .max && zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 && $1 - $0 == 1 }
        self = consecutive ? .span(first..<(last + 1)) : .list(ids)
    }
}

/// A mutation refused before it reached the Ledger (the caller's role forbids the method, the
/// payload did not decode, the user's rate limit, the deadline): applied only to audit it.
public struct RefusedAttempt: Equatable, Sendable {
    @ExactString public var userID: String
    public var refusal: Refusal

    public init(userID: String, refusal: Refusal) {
        self.userID = userID
        self.refusal = refusal
    }
}
