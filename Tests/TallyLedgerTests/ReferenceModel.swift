import TallyLedger

/// A deliberately naive re-statement of the Ledger's rules, for the property tests to compare
/// against: plain dictionaries keyed by UTF-8 bytes, Int128 arithmetic, no shared code with
/// the Ledger.
struct ReferenceModel {
    typealias Bytes = [UInt8]

    enum Answer: Equatable, CustomStringConvertible {
        case accepted
        case refused(Refusal.Code, String)

        var description: String {
            switch self {
            case .accepted: "accepted"
            case .refused(let code, let reason): "refused \(code) \(reason)"
            }
        }
    }

    struct Result {
        var answer: Answer
        var replayed: Bool
        var changed: Bool
        /// Whether expired keys were dropped on the way.
        var purged = false
        /// For INSUFFICIENT_TOKENS: the numbers the refusal must carry.
        var insufficient: (available: Int64, requested: Int64)?
        /// For AMOUNT_OVERFLOW: which total would overflow ("user", "mint" or "burn").
        var overflowing: String?
    }

    struct AccountModel: Equatable {
        var available: Int64 = 0
        var earned: Int64 = 0
        var spent: Int64 = 0
    }

    struct KeyEntry {
        var request: Command
        var answer: Answer
        var insufficient: (available: Int64, requested: Int64)?
        var expiresAt: Int64
    }

    let ttl: Int64
    var accounts: [Bytes: AccountModel] = [:]
    var issued: Int128 = 0  // total credited: the mint is -issued
    var burned: Int128 = 0  // total spent
    var transactionCount = 0
    var keys: [Bytes: KeyEntry] = [:]

    init(ttl: Int64) { self.ttl = ttl }

    static let maxInt64 = Int128(Int64.max)

    func account(_ user: String) -> AccountModel? { accounts[Array(user.utf8)] }

    mutating func apply(_ command: Command, at now: Int64) -> Result {
        if let reason = Self.invalidReason(command) {
            return Result(answer: .refused(.invalidArgument, reason), replayed: false, changed: false)
        }
        let countBefore = keys.count
        keys = keys.filter { $0.value.expiresAt > now }
        let purged = keys.count != countBefore

        let key = Array(Self.fields(command).key.utf8)
        if !key.isEmpty, let entry = keys[key] {
            if Self.sameRequest(entry.request, command) {
                return Result(answer: entry.answer, replayed: true, changed: purged, purged: purged, insufficient: entry.insufficient)
            }
            return Result(answer: .refused(.alreadyExists, "IDEMPOTENCY_KEY_CONFLICT"), replayed: false, changed: purged, purged: purged)
        }

        var answer = Answer.accepted
        var insufficient: (available: Int64, requested: Int64)?
        var overflowing: String?
        switch command {
        case .credit(let c):
            var a = accounts[Array(c.userID.utf8)] ?? AccountModel()
            if Int128(a.available) + Int128(c.amount) > Self.maxInt64 || Int128(a.earned) + Int128(c.amount) > Self.maxInt64 {
                answer = .refused(.outOfRange, "AMOUNT_OVERFLOW")
                overflowing = "user"
            } else if issued + Int128(c.amount) > Self.maxInt64 {  // at most Int64.max tokens issued in total
                answer = .refused(.outOfRange, "AMOUNT_OVERFLOW")
                overflowing = "mint"
            } else {
                a.available += c.amount
                a.earned += c.amount
                accounts[Array(c.userID.utf8)] = a
                issued += Int128(c.amount)
                transactionCount += 1
            }
        case .spend(let s):
            var a = accounts[Array(s.userID.utf8)] ?? AccountModel()
            if a.available < s.amount {
                answer = .refused(.failedPrecondition, "INSUFFICIENT_TOKENS")
                insufficient = (a.available, s.amount)
            } else if burned + Int128(s.amount) > Self.maxInt64 {
                answer = .refused(.outOfRange, "AMOUNT_OVERFLOW")
                overflowing = "burn"
            } else {
                a.available -= s.amount
                a.spent += s.amount
                accounts[Array(s.userID.utf8)] = a
                burned += Int128(s.amount)
                transactionCount += 1
            }
        default: preconditionFailure("the model covers credits and spends (UsageBookTests cover usage)")
        }
        if !key.isEmpty {
            let expiresAt = Int64(min(Int128(now) + Int128(ttl), Self.maxInt64))
            keys[key] = KeyEntry(request: command, answer: answer, insufficient: insufficient, expiresAt: expiresAt)
        }
        return Result(
            answer: answer, replayed: false, changed: purged || answer == .accepted || !key.isEmpty,
            purged: purged, insufficient: insufficient, overflowing: overflowing)
    }

    /// Every field of a command; `kind` is nil for a spend.
    static func fields(_ command: Command)
        -> (isCredit: Bool, user: String, amount: Int64, kind: CreditKind?, reference: String, memo: String, key: String)
    {
        switch command {
        case .credit(let c): (true, c.userID, c.amount, c.kind, c.reference, c.memo, c.idempotencyKey)
        case .spend(let s): (false, s.userID, s.amount, nil, s.reference, s.memo, s.idempotencyKey)
        default: preconditionFailure("credits and spends only")
        }
    }

    /// The same request: every field equal, strings byte for byte.
    static func sameRequest(_ a: Command, _ b: Command) -> Bool {
        let x = fields(a), y = fields(b)
        return x.isCredit == y.isCredit && Array(x.user.utf8) == Array(y.user.utf8) && x.amount == y.amount
            && x.kind == y.kind && Array(x.reference.utf8) == Array(y.reference.utf8)
            && Array(x.memo.utf8) == Array(y.memo.utf8) && Array(x.key.utf8) == Array(y.key.utf8)
    }

    static func invalidReason(_ command: Command) -> String? {
        let f = fields(command)
        if f.user == "" { return "USER_ID_EMPTY" }
        if Array(f.user.utf8).count > 128 { return "FIELD_TOO_LONG" }
        for scalar in f.user.unicodeScalars where scalar.value < 32 || scalar.value == 127 { return "USER_ID_INVALID" }
        if f.amount < 1 { return "AMOUNT_NOT_POSITIVE" }
        if f.isCredit && f.kind == nil { return "CREDIT_KIND_MISSING" }
        if Array(f.reference.utf8).count > 256 || Array(f.memo.utf8).count > 1024 || Array(f.key.utf8).count > 128 {
            return "FIELD_TOO_LONG"
        }
        return nil
    }
}
