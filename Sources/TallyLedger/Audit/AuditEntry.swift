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

/// One mutation attempt, accepted or refused (seed 004's audit log): who, what, for which user,
/// and how it ended.
public struct AuditEntry: Equatable, Sendable {
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
    /// The refusal's message, or what an accepted attempt did.
    public var message: String
    /// An idempotent retry (or already-done purchase or settlement) answered from memory.
    public var replayed: Bool
    /// The transactions it recorded, if any.
    public var transactionIDs: [UInt64]

    public init(
        id: UInt64, at: Timestamp, origin: AuditOrigin, userID: String, code: Int32, reason: String, message: String,
        replayed: Bool = false, transactionIDs: [UInt64] = []
    ) {
        self.id = id
        self.at = at
        self.origin = origin
        self.userID = userID
        self.code = code
        self.reason = reason
        self.message = message
        self.replayed = replayed
        self.transactionIDs = transactionIDs
    }

    public var accepted: Bool { code == 0 }
}

/// A mutation refused before it reached the Ledger (the caller's role forbids the method, the
/// payload did not decode, the user's rate limit, the deadline): applied only to audit it.
public struct RefusedAttempt: Equatable, Sendable {
    public var userID: String
    public var refusal: Refusal

    public init(userID: String, refusal: Refusal) {
        self.userID = userID
        self.refusal = refusal
    }

    public static func == (a: RefusedAttempt, b: RefusedAttempt) -> Bool {
        same(a.userID, b.userID) && a.refusal == b.refusal
    }
}
