import TallyLedger

/// A plain re-statement of the documented Ledger rules (docs/protocol.md §4, §8, §9 and
/// docs/decisions.md), for MixedCommandPropertyTests. It shares no code with the Ledger: its
/// state is ordinary dictionaries and arrays keyed by UTF-8 bytes, its arithmetic is Int128
/// with the Int64 bounds checked by hand, and it only reads the Ledger's public input types
/// (Command and its payloads) and `Refusal.Code` (the names of gRPC's numbers).
///
/// Memberships, the price table and the audit log (§4.4, §4.5) are in MixedMembershipModel.swift.
///
/// Deliberate simplifications, which the generator respects: usage counts stay far below
/// Int64.max (so the monthly aggregates, which the model does not keep, cannot overflow), the
/// day is always UTC's, the ledger is never damaged (so a reconciliation finds nothing), and
/// the audit log is never trimmed.
struct MixedModel {
    typealias Bytes = [UInt8]
    static let max64 = Int128(Int64.max)
    static let min64 = Int128(Int64.min)
    static let microsPerDay: Int64 = 86_400_000_000

    // MARK: Answers

    /// What the Ledger should answer, at the level the test compares it.
    enum Answer: Error, Equatable, CustomStringConvertible {
        /// A credit or spend: a receipt.
        case receipt
        /// A consume, reserve, settle or release.
        case usage
        case usageLimits
        /// The reservations released by the expiry tick, by id.
        case expired([UInt64])
        case package
        case purchase(id: UInt64, alreadyDone: Bool)
        /// The purchases failed by the purchase tick, by id.
        case expiredPurchases([UInt64])
        case commitment(id: UInt64)
        case predictionSettled(alreadyDone: Bool)
        case prediction
        /// A membership set or ended (SetMembership).
        case membership
        /// An action's price set or removed.
        case actionPrice
        /// A reconciliation's report (clean: the model's ledger is never damaged).
        case reconciled
        case refused(Refusal.Code, String)

        var description: String {
            switch self {
            case .receipt, .usage, .usageLimits, .package, .commitment, .prediction, .membership, .actionPrice, .reconciled: "accepted"
            case .expired(let ids): ids.isEmpty ? "accepted (none due)" : "accepted"
            case .expiredPurchases(let ids): ids.isEmpty ? "accepted (none due)" : "accepted"
            case .purchase(_, let done), .predictionSettled(let done): done ? "already done" : "accepted"
            case .refused(let code, let reason): "refused \(code) \(reason)"
            }
        }

        var isRefusal: Bool { if case .refused = self { true } else { false } }

        /// Whether applying it changes the state (a key's record aside).
        var changesState: Bool {
            switch self {
            case .receipt, .usage, .usageLimits, .package, .commitment, .prediction, .membership, .actionPrice: true
            case .expired(let ids), .expiredPurchases(let ids): !ids.isEmpty
            case .purchase(_, let done), .predictionSettled(let done): !done
            case .reconciled, .refused: false
            }
        }
    }

    /// What one command should do, for the test to compare with the Ledger's Applied.
    struct Expected {
        var answer: Answer
        var replayed = false
        var changed = false
        /// A replay of an idempotency key's remembered answer: the outcome must equal the first.
        var keyReplay = false
        /// Whether expired idempotency records were dropped on the way.
        var purged = false
        /// A credit or spend (or purchase completion, or spend by action) accepted: who, what
        /// type, how much, and for a spend by action the action and the tier whose price it was.
        var transaction: Charge?
        /// The user an accepted answer concerns when the command names none (a settle's or
        /// release's reservation, a purchase's payment, a commitment's id): for the audit entry.
        var subject: Bytes?
        /// A usage answer: whose status it carries.
        var usageUser: Bytes?
        /// INSUFFICIENT_TOKENS: the numbers the refusal must carry.
        var insufficient: (available: Int128, requested: Int64)?
    }

    // MARK: State

    struct Account: Equatable {
        var available: Int128 = 0
        var committed: Int128 = 0
        var earned: Int128 = 0
        var spent: Int128 = 0
        /// Transactions in the user's history (the account's version).
        var transactions: UInt64 = 0
    }

    struct Charge {
        var user: Bytes
        var type: TransactionType
        var amount: Int64
        var action: Bytes = []
        var tier: Bytes = []
    }

    struct KeyRecord {
        var request: Command
        var answer: Answer
        var expiresAt: Int64
        /// What the first answer charged or credited, and whom it concerned.
        var transaction: Charge?
        var subject: Bytes?
    }

    struct UsageUser {
        /// The UTC day number the counts are for; nil before any usage.
        var day: Int64?
        var used: Int128 = 0
        var reserved: Int128 = 0
        var shadowRefusals: Int64 = 0
        var limitOverride: Int64?
        var shadow = false
    }

    struct Hold {
        var user: Bytes
        var tokens: Int64
        var day: Int64
        var expiresAt: Int64
    }

    struct Package {
        var tokens: Int64
        var bonus: Int64
        var active: Bool
    }

    enum BuyStatus: Equatable { case pending, completed, failed }

    struct Buy {
        var id: UInt64
        var user: Bytes
        var package: Bytes
        var payment: Bytes
        var total: Int128
        var status: BuyStatus = .pending
        var failureReason = ""
        var createdAt: Int64
        /// The tokens its completion credited.
        var credited: Int64?
    }

    enum StakeStatus: Equatable { case active, won, lost, refunded }

    struct Stake {
        var id: UInt64
        var user: Bytes
        var prediction: Bytes
        var yes: Bool
        var stake: Int64
        var odds: Int64
        var potential: Int128
        var status: StakeStatus = .active
    }

    struct Summary: Equatable {
        var voided: Bool
        /// nil for a void.
        var winningYes: Bool?
        var winners: Int64 = 0
        var losers: Int64 = 0
        var refunded: Int64 = 0
        var tokensPaid: Int128 = 0
        var tokensCollected: Int128 = 0
        var tokensRefunded: Int128 = 0
        var settledAt: Int64
    }

    struct Question {
        var commitments: [UInt64] = []
        var closesAt: Int64?
        var summary: Summary?
    }

    let ttl: Int64
    let purchaseTimeout: Int64

    var accounts: [Bytes: Account] = [:]
    var issued: Int128 = 0  // the mint is -issued
    var burned: Int128 = 0
    var house: Int128 = 0
    var transactionCount: UInt64 = 0
    var keys: [Bytes: KeyRecord] = [:]

    // Daily limits.
    var tiers: [Bytes: Int64] = [Array("trial".utf8): 10_000, Array("subscribed".utf8): 100_000]
    var defaultTier: Bytes = Array("trial".utf8)
    var shadowTiers: Set<Bytes> = []
    var timeZone = "UTC"
    var usageUsers: [Bytes: UsageUser] = [:]
    var holds: [UInt64: Hold] = [:]
    var nextHoldID: UInt64 = 1

    // Purchases.
    var packages: [Bytes: Package] = [:]
    var buys: [Buy] = []  // id = index + 1
    var buyByPayment: [Bytes: Int] = [:]

    // Predictions.
    var stakes: [Stake] = []  // id = index + 1
    var questions: [Bytes: Question] = [:]

    // Memberships, prices and the audit log (MixedMembershipModel.swift).
    var memberships: [Bytes: Member] = [:]
    /// action → tier → tokens; an action is here only while it has a price.
    var prices: [Bytes: [Bytes: Int64]] = [:]
    var auditLog: [AuditRecord] = []  // id = index + 1

    init(ttl: Int64, purchaseTimeout: Int64) {
        self.ttl = ttl
        self.purchaseTimeout = purchaseTimeout
    }

    static func bytes(_ s: String) -> Bytes { Array(s.utf8) }
    static func day(of now: Int64) -> Int64 { now >= 0 ? now / microsPerDay : (now + 1) / microsPerDay - 1 }
    static func fits(_ value: Int128) -> Bool { value >= min64 && value <= max64 }

    // MARK: Apply

    /// With an `origin`, the attempt, whatever its answer, also gets an audit entry (§4.5),
    /// which is a change of state.
    mutating func apply(_ command: Command, at now: Int64, origin: AuditOrigin?) -> Expected {
        let recordedBefore = transactionCount
        var expected = apply(command, at: now)
        if let origin {
            let (code, reason): (Int32, String) = switch expected.answer {
            case .refused(let code, let reason): (Int32(code.rawValue), reason)
            default: (0, "")
            }
            let named = Self.userOf(command)
            auditLog.append(AuditRecord(
                id: UInt64(auditLog.count + 1), at: now, origin: origin,
                user: !named.isEmpty || expected.answer.isRefusal ? named : expected.subject ?? [], code: code, reason: reason,
                replayed: expected.replayed, transactions: Array(recordedBefore + 1 ..< transactionCount + 1)))
            expected.changed = true
        }
        return expected
    }

    mutating func apply(_ command: Command, at now: Int64) -> Expected {
        // Invalid arguments come first, change nothing, and are not remembered (§9).
        if let (code, reason) = Self.invalid(command) { return Expected(answer: .refused(code, reason)) }
        // Records whose time is over are dropped (live while now < first + TTL).
        let before = keys.count
        keys = keys.filter { $0.value.expiresAt > now }
        let purged = keys.count != before
        let key = Self.idempotencyKey(of: command)
        if !key.isEmpty, let record = keys[key] {
            guard Self.sameRequest(record.request, command) else {
                return Expected(answer: .refused(.alreadyExists, "IDEMPOTENCY_KEY_CONFLICT"), changed: purged, purged: purged)
            }
            var e = Expected(answer: record.answer, replayed: true, changed: purged, keyReplay: true, purged: purged)
            e.subject = record.subject
            return e
        }
        var expected = execute(command, at: now)
        if !expected.answer.isRefusal, expected.subject == nil {
            switch command {
            case .settle, .release: expected.subject = expected.usageUser
            case .settlePurchase(let s): expected.subject = buyByPayment[Self.bytes(s.paymentID)].map { buys[$0].user }
            case .cancelCommitment(let id): expected.subject = stakes[Int(id) - 1].user
            default: break
            }
        }
        expected.purged = purged
        expected.changed = expected.answer.changesState || purged
        switch expected.answer {
        case .purchase(_, true), .predictionSettled(true): expected.replayed = true
        default: break
        }
        if !key.isEmpty {
            keys[key] = KeyRecord(
                request: command, answer: expected.answer, expiresAt: Self.saturatingAdd(now, ttl), transaction: expected.transaction,
                subject: expected.subject)
            expected.changed = true
        }
        return expected
    }

    static func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
        let sum = Int128(a) + Int128(b)
        return sum > max64 ? Int64.max : Int64(sum)
    }

    private mutating func execute(_ command: Command, at now: Int64) -> Expected {
        switch command {
        case .credit(let c):
            let kind: TransactionType = switch c.kind! {
            case .purchase: .purchase
            case .grant: .grant
            case .refund: .refund
            case .adjustment: .adjustment
            }
            return credit(Self.bytes(c.userID), c.amount, type: kind)
        case .spend(let s):
            return debit(Self.bytes(s.userID), s.amount)

        case .consume(let c):
            let user = Self.bytes(c.userID)
            switch admit(user, c.tokens, at: now) {
            case .failure(let refusal): return Expected(answer: refusal)
            case .success(var u):
                u.used += Int128(c.tokens)
                usageUsers[user] = u
                var e = Expected(answer: .usage)
                e.usageUser = user
                return e
            }
        case .reserve(let r):
            let user = Self.bytes(r.userID)
            switch admit(user, r.tokens, at: now) {
            case .failure(let refusal): return Expected(answer: refusal)
            case .success(var u):
                u.reserved += Int128(r.tokens)
                usageUsers[user] = u
                let ttlMs = Int64(r.ttlMilliseconds == 0 ? 60_000 : r.ttlMilliseconds)
                holds[nextHoldID] = Hold(user: user, tokens: r.tokens, day: Self.day(of: now), expiresAt: Self.saturatingAdd(now, ttlMs * 1_000))
                nextHoldID += 1
                var e = Expected(answer: .usage)
                e.usageUser = user
                return e
            }
        case .settle(let s):
            guard let hold = holds[s.reservationID] else { return Expected(answer: .refused(.notFound, "RESERVATION_NOT_FOUND")) }
            end(s.reservationID, counting: s.tokens, at: now)
            var e = Expected(answer: .usage)
            e.usageUser = hold.user
            return e
        case .release(let r):
            guard let hold = holds[r.reservationID] else { return Expected(answer: .refused(.notFound, "RESERVATION_NOT_FOUND")) }
            end(r.reservationID, counting: 0, at: now)
            var e = Expected(answer: .usage)
            e.usageUser = hold.user
            return e
        case .changeUsage(let change):
            switch change {
            case .tierLimit(let tier, let tokens):
                if tokens == nil, Self.bytes(tier) == defaultTier {
                    return Expected(answer: .refused(.failedPrecondition, "DEFAULT_TIER_NEEDS_LIMIT"))
                }
                tiers[Self.bytes(tier)] = tokens
            case .userLimit(let user, let tokens): usageUsers[Self.bytes(user), default: UsageUser()].limitOverride = tokens
            case .tierShadow(let tier, let on):
                if on { shadowTiers.insert(Self.bytes(tier)) } else { shadowTiers.remove(Self.bytes(tier)) }
            case .userShadow(let user, let on): usageUsers[Self.bytes(user), default: UsageUser()].shadow = on
            case .defaultTier(let tier):
                guard tiers[Self.bytes(tier)] != nil else { return Expected(answer: .refused(.failedPrecondition, "TIER_NOT_FOUND")) }
                defaultTier = Self.bytes(tier)
            case .timeZone(let zone): timeZone = zone
            case .userTier(let user, let tier):
                // A membership without expiry (§4.4).
                if let refusal = setMembership(Self.bytes(user), tier.map(Self.bytes), expiresAt: nil, at: now) {
                    return Expected(answer: refusal)
                }
            }
            return Expected(answer: .usageLimits)
        case .expireReservations:
            let due = holds.filter { $0.value.expiresAt <= now }.keys.sorted()
            for id in due { end(id, counting: 0, at: now) }
            return Expected(answer: .expired(due))

        case .savePackage(let save):
            packages[Self.bytes(save.id)] = Package(tokens: save.tokens, bonus: save.bonusTokens, active: save.active)
            return Expected(answer: .package)
        case .deactivatePackage(let id):
            guard packages[Self.bytes(id)] != nil else { return Expected(answer: .refused(.notFound, "PACKAGE_NOT_FOUND")) }
            packages[Self.bytes(id)]!.active = false
            return Expected(answer: .package)
        case .startPurchase(let start):
            let (user, package, payment) = (Self.bytes(start.userID), Self.bytes(start.packageID), Self.bytes(start.paymentID))
            if let index = buyByPayment[payment] {
                // A payment id pays one purchase: the same start again answers it.
                guard buys[index].user == user, buys[index].package == package else {
                    return Expected(answer: .refused(.alreadyExists, "PAYMENT_ID_IN_USE"))
                }
                return Expected(answer: .purchase(id: buys[index].id, alreadyDone: true))
            }
            guard let p = packages[package] else { return Expected(answer: .refused(.notFound, "PACKAGE_NOT_FOUND")) }
            guard p.active else { return Expected(answer: .refused(.failedPrecondition, "PACKAGE_INACTIVE")) }
            let total = Int128(p.tokens) + Int128(p.bonus)
            guard total <= Self.max64 else { return Expected(answer: .refused(.outOfRange, "AMOUNT_OVERFLOW")) }
            let id = UInt64(buys.count + 1)
            buys.append(Buy(id: id, user: user, package: package, payment: payment, total: total, createdAt: now))
            buyByPayment[payment] = buys.count - 1
            return Expected(answer: .purchase(id: id, alreadyDone: false))
        case .settlePurchase(let settle):
            guard let index = buyByPayment[Self.bytes(settle.paymentID)] else {
                return Expected(answer: .refused(.notFound, "PURCHASE_NOT_FOUND"))
            }
            let buy = buys[index]
            switch (settle.result, buy.status) {
            case (.completed, .completed), (.failed, .failed):
                return Expected(answer: .purchase(id: buy.id, alreadyDone: true))
            case (.failed, .completed):
                return Expected(answer: .refused(.failedPrecondition, "PURCHASE_ALREADY_SETTLED"))
            case (.completed, .failed) where buy.failureReason != "EXPIRED":
                return Expected(answer: .refused(.failedPrecondition, "PURCHASE_ALREADY_SETTLED"))
            case (.completed, _):
                // Pending, or failed only by the timeout: the payment was captured, so credit it.
                var e = credit(buy.user, Int64(buy.total), type: .purchase)
                guard !e.answer.isRefusal else { return e }
                buys[index].status = .completed
                buys[index].failureReason = ""
                buys[index].credited = Int64(buy.total)
                e.answer = .purchase(id: buy.id, alreadyDone: false)
                return e
            case (.failed(let reason), .pending):
                buys[index].status = .failed
                buys[index].failureReason = reason.value
                return Expected(answer: .purchase(id: buy.id, alreadyDone: false))
            }
        case .expirePurchases:
            var failed: [UInt64] = []
            for index in buys.indices where buys[index].status == .pending && now - buys[index].createdAt >= purchaseTimeout {
                buys[index].status = .failed
                buys[index].failureReason = "EXPIRED"
                failed.append(buys[index].id)
            }
            return Expected(answer: .expiredPurchases(failed))

        case .commit(let c):
            let (user, prediction) = (Self.bytes(c.userID), Self.bytes(c.predictionID))
            let question = questions[prediction] ?? Question()
            if question.summary != nil { return Expected(answer: .refused(.failedPrecondition, "PREDICTION_SETTLED")) }
            if let closesAt = question.closesAt, now >= closesAt {
                return Expected(answer: .refused(.failedPrecondition, "PREDICTION_CLOSED"))
            }
            // potential winning = floor(stake × odds_micros / 1,000,000), stake included.
            let potential = Int128(c.stake) * Int128(c.oddsMicros) / 1_000_000
            guard potential <= Self.max64 else { return Expected(answer: .refused(.outOfRange, "AMOUNT_OVERFLOW")) }
            var account = accounts[user] ?? Account()
            guard account.available >= Int128(c.stake) else {
                var e = Expected(answer: .refused(.failedPrecondition, "INSUFFICIENT_TOKENS"))
                e.insufficient = (account.available, c.stake)
                return e
            }
            guard account.committed + Int128(c.stake) <= Self.max64 else {
                return Expected(answer: .refused(.outOfRange, "AMOUNT_OVERFLOW"))
            }
            account.available -= Int128(c.stake)
            account.committed += Int128(c.stake)
            record(&account, user)
            let id = UInt64(stakes.count + 1)
            stakes.append(Stake(
                id: id, user: user, prediction: prediction, yes: c.position! == .yes, stake: c.stake, odds: c.oddsMicros,
                potential: potential))
            questions[prediction, default: Question()].commitments.append(id)
            return Expected(answer: .commitment(id: id))
        case .cancelCommitment(let id):
            guard id >= 1, id <= UInt64(stakes.count) else { return Expected(answer: .refused(.notFound, "COMMITMENT_NOT_FOUND")) }
            guard stakes[Int(id) - 1].status == .active else {
                return Expected(answer: .refused(.failedPrecondition, "COMMITMENT_NOT_ACTIVE"))
            }
            refund(Int(id) - 1)
            return Expected(answer: .commitment(id: id))
        case .settlePrediction(let settle):
            let prediction = Self.bytes(settle.predictionID)
            guard let question = questions[prediction] else { return Expected(answer: .refused(.notFound, "PREDICTION_NOT_FOUND")) }
            let winningYes: Bool? = switch settle.result {
            case .resolve(let position): position! == .yes
            case .void: nil
            }
            if let summary = question.summary {
                // Settled once; the same question again answers the same summary.
                let same = summary.voided == (winningYes == nil) && summary.winningYes == winningYes
                return Expected(answer: same ? .predictionSettled(alreadyDone: true) : .refused(.failedPrecondition, "PREDICTION_SETTLED"))
            }
            // All or nothing: settle on a copy, keep it only if nothing overflowed.
            var copy = self
            var summary = Summary(voided: winningYes == nil, winningYes: winningYes, settledAt: now)
            for id in question.commitments where copy.stakes[Int(id) - 1].status == .active {
                let index = Int(id) - 1
                let stake = copy.stakes[index]
                if winningYes == nil {
                    copy.refund(index)
                    summary.refunded += 1
                    summary.tokensRefunded += Int128(stake.stake)
                } else if stake.yes == winningYes {
                    guard copy.win(index) else { return Expected(answer: .refused(.outOfRange, "AMOUNT_OVERFLOW")) }
                    summary.winners += 1
                    summary.tokensPaid += stake.potential
                    guard summary.tokensPaid <= Self.max64 else { return Expected(answer: .refused(.outOfRange, "AMOUNT_OVERFLOW")) }
                } else {
                    guard copy.lose(index) else { return Expected(answer: .refused(.outOfRange, "AMOUNT_OVERFLOW")) }
                    summary.losers += 1
                    summary.tokensCollected += Int128(stake.stake)
                }
            }
            copy.questions[prediction]!.summary = summary
            self = copy
            return Expected(answer: .predictionSettled(alreadyDone: false))
        case .closePrediction(let id, let at):
            let prediction = Self.bytes(id)
            if questions[prediction]?.summary != nil { return Expected(answer: .refused(.failedPrecondition, "PREDICTION_SETTLED")) }
            questions[prediction, default: Question()].closesAt = at
            return Expected(answer: .prediction)
        case .setMembership(let set):
            if let refusal = setMembership(Self.bytes(set.userID), set.tier.map(Self.bytes), expiresAt: set.expiresAt, at: now) {
                return Expected(answer: refusal)
            }
            return Expected(answer: .membership)
        case .setActionPrice(let set):
            if let refusal = setActionPrice(Self.bytes(set.action), Self.bytes(set.tier), cost: set.cost) { return Expected(answer: refusal) }
            return Expected(answer: .actionPrice)
        case .spendAction(let spend):
            return spendAction(spend, at: now)
        case .refusedAttempt(let attempt):
            return Expected(answer: .refused(attempt.refusal.code, attempt.refusal.reason))
        case .reconcile:
            return Expected(answer: .reconciled)
        default:
            preconditionFailure("MixedModel does not know \(command); the mixed generator should not make it")
        }
    }

    /// Spends `amount` of `user`'s tokens to the burn (a spend, or with `action` the price of an
    /// action for `tier`).
    mutating func debit(_ user: Bytes, _ amount: Int64, action: Bytes = [], tier: Bytes = []) -> Expected {
        var account = accounts[user] ?? Account()
        guard account.available >= Int128(amount) else {
            var e = Expected(answer: .refused(.failedPrecondition, "INSUFFICIENT_TOKENS"))
            e.insufficient = (account.available, amount)
            return e
        }
        guard Self.fits(account.spent + Int128(amount)), Self.fits(burned + Int128(amount)) else {
            return Expected(answer: .refused(.outOfRange, "AMOUNT_OVERFLOW"))
        }
        account.available -= Int128(amount)
        account.spent += Int128(amount)
        burned += Int128(amount)
        record(&account, user)
        var e = Expected(answer: .receipt)
        e.transaction = Charge(user: user, type: .spend, amount: amount, action: action, tier: tier)
        return e
    }

    /// Credits `amount` from the mint (a credit, or a purchase's completion).
    private mutating func credit(_ user: Bytes, _ amount: Int64, type: TransactionType) -> Expected {
        var account = accounts[user] ?? Account()
        let amount128 = Int128(amount)
        // The user's balance and lifetime earnings, then the total ever issued, stay within Int64.max.
        guard account.available + amount128 <= Self.max64, account.earned + amount128 <= Self.max64,
            issued + amount128 <= Self.max64
        else { return Expected(answer: .refused(.outOfRange, "AMOUNT_OVERFLOW")) }
        account.available += amount128
        account.earned += amount128
        issued += amount128
        record(&account, user)
        var e = Expected(answer: .receipt)
        e.transaction = Charge(user: user, type: type, amount: amount)
        return e
    }

    /// One more transaction in `user`'s history.
    private mutating func record(_ account: inout Account, _ user: Bytes) {
        account.transactions += 1
        transactionCount += 1
        accounts[user] = account
    }

    private mutating func refund(_ index: Int) {
        let stake = stakes[index]
        var account = accounts[stake.user]!
        account.committed -= Int128(stake.stake)
        account.available += Int128(stake.stake)
        record(&account, stake.user)
        stakes[index].status = .refunded
    }

    /// The stake leaves committed, the potential winning arrives in available, the profit comes
    /// from the house and counts as earned. False on overflow.
    private mutating func win(_ index: Int) -> Bool {
        let stake = stakes[index]
        var account = accounts[stake.user]!
        let profit = stake.potential - Int128(stake.stake)
        account.committed -= Int128(stake.stake)
        account.available += stake.potential
        account.earned += profit
        house -= profit
        guard account.available <= Self.max64, account.earned <= Self.max64, Self.fits(house) else { return false }
        record(&account, stake.user)
        stakes[index].status = .won
        return true
    }

    /// The stake leaves committed for the house and counts as spent. False on overflow.
    private mutating func lose(_ index: Int) -> Bool {
        let stake = stakes[index]
        var account = accounts[stake.user]!
        account.committed -= Int128(stake.stake)
        account.spent += Int128(stake.stake)
        house += Int128(stake.stake)
        guard account.spent <= Self.max64, Self.fits(house) else { return false }
        record(&account, stake.user)
        stakes[index].status = .lost
        return true
    }

    // MARK: Daily limits

    /// A user's counts as of `today`: a later day starts from zero.
    func usageUser(_ user: Bytes, today: Int64) -> UsageUser {
        var u = usageUsers[user] ?? UsageUser()
        if let day = u.day, day < today {
            u.used = 0
            u.reserved = 0
            u.shadowRefusals = 0
        }
        if u.day.map({ $0 < today }) ?? true { u.day = today }
        return u
    }

    /// The tier (the membership's, or the default one: §4.4), limit and shadow mode that apply
    /// to `user` at `now`.
    func standing(_ u: UsageUser, of user: Bytes, at now: Int64) -> (tier: Bytes, limit: Int128, shadow: Bool) {
        let tier = tier(of: user, at: now)
        let limit = Int128(u.limitOverride ?? tiers[tier] ?? 0)
        return (tier, limit, u.shadow || shadowTiers.contains(tier))
    }

    /// The user, rolled to today, if `tokens` more fit: used + reserved + tokens <= limit, or
    /// shadow mode, which admits and counts a would-be refusal.
    private func admit(_ user: Bytes, _ tokens: Int64, at now: Int64) -> Result<UsageUser, Answer> {
        var u = usageUser(user, today: Self.day(of: now))
        let s = standing(u, of: user, at: now)
        let wanted = u.used + u.reserved + Int128(tokens)
        guard wanted <= Self.max64 else { return .failure(.refused(.outOfRange, "AMOUNT_OVERFLOW")) }
        if wanted > s.limit {
            guard s.shadow else { return .failure(.refused(.resourceExhausted, "DAILY_LIMIT_EXCEEDED")) }
            u.shadowRefusals += 1
        }
        return .success(u)
    }

    /// Ends reservation `id`, counting `tokens` on the day it was made (only today's counts are
    /// modelled: an earlier day's tokens go to its record, which this model does not keep).
    private mutating func end(_ id: UInt64, counting tokens: Int64, at now: Int64) {
        let hold = holds.removeValue(forKey: id)!
        var u = usageUser(hold.user, today: Self.day(of: now))
        if hold.day == u.day {
            u.reserved -= Int128(hold.tokens)
            u.used += Int128(tokens)
        }
        usageUsers[hold.user] = u
    }

    // MARK: Requests

    /// The key of the eight keyed requests (§9, and Actions/Spend §4.4), "" for the rest.
    static func idempotencyKey(of command: Command) -> Bytes {
        switch command {
        case .credit(let c): bytes(c.idempotencyKey)
        case .spend(let s): bytes(s.idempotencyKey)
        case .consume(let c): bytes(c.idempotencyKey)
        case .reserve(let r): bytes(r.idempotencyKey)
        case .settle(let s): bytes(s.idempotencyKey)
        case .release(let r): bytes(r.idempotencyKey)
        case .commit(let c): bytes(c.idempotencyKey)
        case .spendAction(let s): bytes(s.idempotencyKey)
        default: []
        }
    }

    /// "Same request": the same method and every field equal, strings byte for byte.
    static func sameRequest(_ a: Command, _ b: Command) -> Bool {
        func eq(_ x: String, _ y: String) -> Bool { bytes(x) == bytes(y) }
        switch (a, b) {
        case (.credit(let x), .credit(let y)):
            return eq(x.userID, y.userID) && x.amount == y.amount && x.kind == y.kind && eq(x.reference, y.reference)
                && eq(x.memo, y.memo) && eq(x.idempotencyKey, y.idempotencyKey)
        case (.spend(let x), .spend(let y)):
            return eq(x.userID, y.userID) && x.amount == y.amount && eq(x.reference, y.reference) && eq(x.memo, y.memo)
                && eq(x.idempotencyKey, y.idempotencyKey)
        case (.consume(let x), .consume(let y)):
            return eq(x.userID, y.userID) && x.tokens == y.tokens && eq(x.idempotencyKey, y.idempotencyKey)
        case (.reserve(let x), .reserve(let y)):
            return eq(x.userID, y.userID) && x.tokens == y.tokens && x.ttlMilliseconds == y.ttlMilliseconds
                && eq(x.idempotencyKey, y.idempotencyKey)
        case (.settle(let x), .settle(let y)):
            return x.reservationID == y.reservationID && x.tokens == y.tokens && eq(x.idempotencyKey, y.idempotencyKey)
        case (.release(let x), .release(let y)):
            return x.reservationID == y.reservationID && eq(x.idempotencyKey, y.idempotencyKey)
        case (.commit(let x), .commit(let y)):
            return eq(x.userID, y.userID) && eq(x.predictionID, y.predictionID) && x.position == y.position
                && x.stake == y.stake && x.oddsMicros == y.oddsMicros && eq(x.idempotencyKey, y.idempotencyKey)
        case (.spendAction(let x), .spendAction(let y)):
            return eq(x.userID, y.userID) && eq(x.action, y.action) && eq(x.reference, y.reference) && eq(x.memo, y.memo)
                && eq(x.idempotencyKey, y.idempotencyKey)
        default:
            return false
        }
    }

    // MARK: Validation (§8 step 10, §10)

    static func invalid(_ command: Command) -> (Refusal.Code, String)? {
        let bad = Refusal.Code.invalidArgument
        func tooLong(_ s: String, _ limit: Int) -> (Refusal.Code, String)? { s.utf8.count > limit ? (bad, "FIELD_TOO_LONG") : nil }
        func hasControl(_ s: String) -> Bool {
            s.unicodeScalars.contains { $0.value < 0x20 || ($0.value >= 0x7F && $0.value <= 0x9F) }
        }
        // user_id: empty → too long → control characters.
        func user(_ s: String) -> (Refusal.Code, String)? {
            if s.isEmpty { return (bad, "USER_ID_EMPTY") }
            if s.utf8.count > 128 { return (bad, "FIELD_TOO_LONG") }
            return hasControl(s) ? (bad, "USER_ID_INVALID") : nil
        }
        // Names (tiers, package and prediction ids): empty → control characters → too long (64).
        func name(_ s: String, _ field: String) -> (Refusal.Code, String)? {
            if s.isEmpty { return (bad, "\(field)_EMPTY") }
            if hasControl(s) { return (bad, "\(field)_INVALID") }
            return tooLong(s, 64)
        }
        func payment(_ s: String) -> (Refusal.Code, String)? {
            if s.isEmpty { return (bad, "PAYMENT_ID_EMPTY") }
            if hasControl(s) { return (bad, "PAYMENT_ID_INVALID") }
            return tooLong(s, 128)
        }
        func positive(_ n: Int64) -> (Refusal.Code, String)? { n > 0 ? nil : (bad, "AMOUNT_NOT_POSITIVE") }
        func key(_ s: String) -> (Refusal.Code, String)? { tooLong(s, 128) }

        switch command {
        case .credit(let c):
            return user(c.userID) ?? positive(c.amount) ?? (c.kind == nil ? (bad, "CREDIT_KIND_MISSING") : nil)
                ?? tooLong(c.reference, 256) ?? tooLong(c.memo, 1_024) ?? key(c.idempotencyKey)
        case .spend(let s):
            return user(s.userID) ?? positive(s.amount) ?? tooLong(s.reference, 256) ?? tooLong(s.memo, 1_024)
                ?? key(s.idempotencyKey)
        case .consume(let c):
            return user(c.userID) ?? positive(c.tokens) ?? key(c.idempotencyKey)
        case .reserve(let r):
            return user(r.userID) ?? positive(r.tokens) ?? key(r.idempotencyKey)
                ?? (r.ttlMilliseconds > 3_600_000 ? (bad, "TTL_OUT_OF_RANGE") : nil)
        case .settle(let s):
            return (s.tokens < 0 ? (bad, "AMOUNT_NEGATIVE") : nil) ?? key(s.idempotencyKey)
        case .release(let r):
            return key(r.idempotencyKey)
        case .changeUsage(let change):
            func limit(_ l: Int64?) -> (Refusal.Code, String)? { (l ?? 0) < 0 ? (bad, "LIMIT_NEGATIVE") : nil }
            switch change {
            case .tierLimit(let tier, let tokens): return name(tier, "TIER") ?? limit(tokens)
            case .userLimit(let u, let tokens): return user(u) ?? limit(tokens)
            case .userTier(let u, let tier): return user(u) ?? tier.flatMap { name($0, "TIER") }
            case .tierShadow(let tier, _): return name(tier, "TIER")
            case .userShadow(let u, _): return user(u)
            case .defaultTier(let tier): return name(tier, "TIER")
            case .timeZone(let zone):
                let allowed = zone.unicodeScalars.allSatisfy {
                    $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "/_+-".unicodeScalars.contains($0))
                }
                return zone.isEmpty || !allowed ? (bad, "TIME_ZONE_INVALID") : tooLong(zone, 64)
            }
        case .expireReservations, .expirePurchases, .cancelCommitment:
            return nil
        case .savePackage(let p):
            if let invalid = name(p.id, "PACKAGE_ID") { return invalid }
            if p.name.isEmpty { return (bad, "PACKAGE_NAME_EMPTY") }
            if let invalid = tooLong(p.name, 256) ?? positive(p.tokens) { return invalid }
            if p.bonusTokens < 0 || p.priceCents < 0 { return (bad, "AMOUNT_NEGATIVE") }
            let iso = p.currency.unicodeScalars.count == 3 && p.currency.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) }
            return iso ? tooLong(p.externalPriceID, 256) : (bad, "CURRENCY_INVALID")
        case .deactivatePackage(let id):
            return name(id, "PACKAGE_ID")
        case .startPurchase(let s):
            return user(s.userID) ?? name(s.packageID, "PACKAGE_ID") ?? payment(s.paymentID)
        case .settlePurchase(let s):
            if let invalid = payment(s.paymentID) { return invalid }
            guard case .failed(let failure) = s.result else { return nil }
            let reason = failure.value
            if reason.isEmpty { return (bad, "REASON_EMPTY") }
            if reason == "EXPIRED" { return (bad, "REASON_RESERVED") }
            return tooLong(reason, 256)
        case .commit(let c):
            return user(c.userID) ?? name(c.predictionID, "PREDICTION_ID") ?? (c.position == nil ? (bad, "POSITION_MISSING") : nil)
                ?? positive(c.stake)
                ?? (c.oddsMicros < 1_000_000 || c.oddsMicros > 1_000_000_000_000 ? (bad, "ODDS_OUT_OF_RANGE") : nil)
                ?? key(c.idempotencyKey)
        case .settlePrediction(let s):
            if let invalid = name(s.predictionID, "PREDICTION_ID") { return invalid }
            if case .resolve(nil) = s.result { return (bad, "POSITION_MISSING") }
            return nil
        case .closePrediction(let id, _):
            return name(id, "PREDICTION_ID")
        case .setMembership(let set):
            return user(set.userID) ?? set.tier.flatMap { name($0, "TIER") }
        case .setActionPrice(let set):
            return name(set.action, "ACTION") ?? name(set.tier, "TIER")
                ?? set.cost.flatMap { $0 >= 1 ? nil : (bad, "PRICE_NOT_POSITIVE") }
        case .spendAction(let s):
            return user(s.userID) ?? name(s.action, "ACTION") ?? tooLong(s.reference, 256) ?? tooLong(s.memo, 1_024)
                ?? key(s.idempotencyKey)
        case .refusedAttempt, .reconcile:
            return nil
        default:
            preconditionFailure("MixedModel does not know \(command); the mixed generator should not make it")
        }
    }
}
