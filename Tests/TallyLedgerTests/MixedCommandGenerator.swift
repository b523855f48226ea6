import TallyLedger
import TallyTestSupport

/// Random mixes of every Ledger command (credits, spends, daily limits, packages and purchases,
/// predictions, memberships, priced actions, refused attempts, reconciliations), mostly
/// well-formed, with retries, conflicting keys, exact balances, unknown ids, boundary times and
/// a few invalid requests; about 70% come with an audit origin. Deterministic for a seed. It
/// reads the model only to aim at interesting targets (open reservations, a user's exact
/// balance, due times, membership expiries, priced tiers).
struct MixedCommandGenerator {
    /// "café" precomposed and decomposed: different users and keys, byte-wise.
    static let users = ["ann", "bob", "cy", "dee", "caf\u{E9}", "cafe\u{301}"]
    static let badUsers = ["", "tab\tuser", "del\u{7F}", String(repeating: "x", count: 129)]
    static let tiers = ["trial", "subscribed", "pro", "free"]
    /// "overflow" is saved with tokens + bonus past Int64.max: starting a purchase of it is refused.
    static let packageIDs = ["small", "big", "bonus", "zero-price", "overflow"]
    static let keys = (0..<16).map { "k\($0)" } + ["k\u{E9}", "ke\u{301}"]
    static let odds: [Int64] = [
        1_000_000, 1_000_001, 1_333_333, 1_500_000, 1_999_999, 2_000_000, 2_500_000, 3_333_333, 10_000_000, 123_456_789,
    ]
    static let failReasons = ["card declined", "cancelled by user", "fraud"]
    /// "platinum" is never defined; "Trial" is not "trial".
    static let undefinedTiers = ["platinum", "Trial"]
    static let actions = ["post", "summarize", "image", "caf\u{E9}-chat"]
    static let prices: [Int64] = [1, 2, 5, 40, 400, 2_500]
    static let roles = ["admin", "app", "gateway", "tallyd", ""]
    static let methods = [
        "/tally.v1.Ledger/Spend", "/tally.v1.Actions/Spend", "/tally.v1.Memberships/SetMembership", "tallyd/ExpireReservations",
        "/tally.v1.Admin/Reconcile", "", "m\u{E9}thode",
    ]
    /// Refusals decided before the Ledger, which reach it only to be audited.
    static let earlyRefusals = [
        Refusal(code: .permissionDenied, reason: "ROLE_FORBIDS_METHOD", message: "the app role may not call this", details: ["role": "app"]),
        Refusal(code: .permissionDenied, reason: "ROLE_FORBIDS_METHOD", message: "the gateway role may not call this", details: ["role": "gateway"]),
        Refusal(code: .resourceExhausted, reason: "RATE_LIMITED", message: "slow down", details: ["retry_after_ms": "250"]),
        Refusal(code: .deadlineExceeded, reason: "DEADLINE_EXCEEDED", message: "the deadline passed in the queue"),
        Refusal(code: .invalidArgument, reason: "MALFORMED_PAYLOAD", message: "payload does not decode"),
        Refusal(code: .invalidArgument, reason: "CHANGE_MISSING", message: "no change named", details: ["field": "change"]),
    ]

    var rng: SplitMix64
    private(set) var now: Timestamp
    /// From this step on, Int64-sized credits and stakes may appear (they soon exhaust the
    /// mint's Int64.max issuance, so only late, and not in every seed).
    let hugeFrom: Int
    private var step = 0
    /// Recent commands with an idempotency key, for exact retries and conflicting reuses.
    private var retries = KeyedRetries(capacity: 40)
    /// Recent purchase and prediction commands, for natural retries.
    private var recentPurchases: [Command] = []
    private var recentSettlements: [Command] = []
    /// Recent spends by action with a key: their prices change, then they are retried.
    private var recentSpendActions: [SpendAction] = []
    /// A command to send next (a retry after its price changed).
    private var queued: Command?
    private var payments = 0
    /// Predictions are "q<n>"; commits aim at the lowest few not settled yet.
    private var predictionBase = 0
    /// The lowest few predictions neither settled nor closed: where commits go.
    private var openPredictions: [String] = []

    /// 2024-03-10 23:00 UTC: the first midnight comes within the first steps.
    static let start: Timestamp = 19_792 * 86_400_000_000 + 23 * 3_600_000_000

    init(seed: UInt64, steps: Int) {
        rng = SplitMix64(seed: seed)
        now = Self.start
        hugeFrom = seed % 2 == 1 ? steps * 17 / 20 : Int.max
    }

    mutating func int(_ range: ClosedRange<Int64>) -> Int64 { Int64.random(in: range, using: &rng) }
    mutating func index(_ count: Int) -> Int { Int.random(in: 0..<count, using: &rng) }

    /// The next command, its timestamp (strictly increasing) and, usually, its audit origin.
    mutating func next(model: MixedModel) -> (Command, Timestamp, AuditOrigin?) {
        step += 1
        let due = advanceClock(model)
        while model.questions[MixedModel.bytes("q\(predictionBase)")]?.summary != nil { predictionBase += 1 }
        openPredictions = (predictionBase..<predictionBase + 12).map { "q\($0)" }.filter { id in
            guard let question = model.questions[MixedModel.bytes(id)] else { return true }
            return question.summary == nil && question.closesAt.map { now < $0 } ?? true
        }

        let command: Command
        let charged = charged(model)
        let roll = index(1_000)
        switch roll {
        case _ where due != nil:
            command = due!
        case _ where queued != nil:
            command = queued!
            queued = nil
        case 0..<90 where !retries.isEmpty:
            command = retries.exact(recent: 5, &rng)
        case 90..<120 where !retries.isEmpty:
            command = retries.conflicting(recent: 8, users: Self.users, actions: Self.actions, &rng)
        case 120..<160:
            command = invalid()
        case 160..<240 where queued == nil && !charged.isEmpty:
            // A new price for the tier a keyed spend by action was charged at, then that spend
            // again: the retry answers the first charge.
            let (spend, charge) = rng.pick(charged)
            queued = .spendAction(spend)
            command = .setActionPrice(SetActionPrice(
                action: spend.action, tier: String(decoding: charge.tier, as: UTF8.self),
                cost: rng.pick(Self.prices.filter { $0 != charge.amount })))
        default:
            command = ordinary(model)
        }
        let key = MixedModel.idempotencyKey(of: command)
        if !key.isEmpty, MixedModel.invalid(command) == nil {
            retries.remember(command)
            if case .spendAction(let spend) = command, !recentSpendActions.contains(spend) {
                if recentSpendActions.count >= 6 { recentSpendActions.removeFirst() }
                recentSpendActions.append(spend)
            }
        }
        // A refused attempt exists only to be audited: it always has an origin.
        var origin: AuditOrigin?
        if case .refusedAttempt = command { origin = self.origin() } else if rng.chance(70) { origin = self.origin() }
        return (command, now, origin)
    }

    private mutating func origin() -> AuditOrigin {
        let uid = rng.pick([UInt32(0), 1_000, 1_001, 4_242, UInt32.max])
        return AuditOrigin(uid: uid, gid: rng.chance(80) ? uid : 100, role: rng.pick(Self.roles), method: rng.pick(Self.methods))
    }

    /// Moves the clock on; sometimes to exactly (or 1 µs before) a moment something becomes due,
    /// and then answers the command that meets that moment.
    private mutating func advanceClock(_ model: MixedModel) -> Command? {
        let current = now
        let ending = model.memberships.compactMap { user, m in
            m.expiresAt.flatMap { $0 > current + 1 && $0 - current <= 7_200_000_000 ? ($0, user) : nil }  // within 2 h
        }
        if rng.chance(10), let (expiresAt, user) = ending.min(by: { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1.lexicographicallyPrecedes($1.1)) }) {
            // Exactly at (or 1 µs before) a membership's expiry, a call that needs the tier.
            now = rng.chance(60) ? expiresAt : expiresAt - 1
            let u = String(decoding: user, as: UTF8.self)
            return rng.chance(50)
                ? .spendAction(SpendAction(userID: u, action: rng.pick(Self.actions)))
                : .consume(Consume(userID: u, tokens: int(1...3_000)))
        }
        if rng.chance(5) {
            let soon = { (due: Int64) in due > current + 1 }
            var targets: [(Int64, Command)] = []
            let keys = model.keys.values.filter { soon($0.expiresAt) }.sorted { $0.expiresAt < $1.expiresAt }
            if let first = keys.first { targets.append((first.expiresAt, first.request)) }
            if let hold = model.holds.values.map(\.expiresAt).filter(soon).min() { targets.append((hold, .expireReservations)) }
            let pending = model.buys.filter { $0.status == .pending }.map { $0.createdAt + model.purchaseTimeout }
            if let due = pending.filter(soon).min() { targets.append((due, .expirePurchases)) }
            let closing = model.questions.compactMap { id, q in q.closesAt.flatMap { soon($0) && q.summary == nil ? ($0, id) : nil } }
            if let (closesAt, id) = closing.min(by: { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1.lexicographicallyPrecedes($1.1)) }) {
                let commit = Command.commit(Commit(
                    userID: user(), predictionID: String(decoding: id, as: UTF8.self), position: .yes, stake: int(1...50),
                    oddsMicros: 2_000_000))
                targets.append((closesAt, commit))
            }
            if !targets.isEmpty {
                let (target, command) = rng.pick(targets)
                now = rng.chance(50) ? target : target - 1
                return rng.chance(70) ? command : nil
            }
        }
        switch index(100) {
        case 0..<70: now += int(1...5_000_000)  // up to 5 s
        case 70..<90: now += int(5_000_000...120_000_000)  // up to 2 min
        case 90..<98: now += int(120_000_000...1_200_000_000)  // up to 20 min
        default:
            // Hours: keys, purchases, reservations and days run out; sometimes the purchase tick
            // comes at once.
            now += int(3_600_000_000...28_800_000_000)
            if rng.chance(30) { return .expirePurchases }
        }
        return nil
    }

    // MARK: Ordinary commands

    private mutating func user() -> String { rng.pick(Self.users) }

    private mutating func key() -> String {
        switch index(100) {
        case 0..<45: ""
        case 45..<92: rng.pick(Self.keys)
        default: "once-\(step)"
        }
    }

    private mutating func ordinary(_ model: MixedModel) -> Command {
        let huge = step >= hugeFrom
        if rng.chance(15) { return membershipOrAudit(model) }
        switch index(100) {
        case 0..<12:  // credit, every kind
            // Late in some seeds: Int64-sized amounts, and exactly what the mint may still issue
            // (total issuance is capped at Int64.max), after which credits and completions overflow.
            let capacity = Int64(max(1, MixedModel.max64 - model.issued))
            let amount: Int64 = huge && rng.chance(30)
                ? rng.pick([Int64.max, Int64.max / 2, Int64.max / 3, 1 << 61, capacity, capacity])
                : (rng.chance(90) ? int(1...5_000) : int(5_000...1_000_000))
            return .credit(Credit(
                userID: user(), amount: amount, kind: rng.pick(CreditKind.allCases), reference: rng.chance(20) ? "ref-\(index(3))" : "",
                memo: rng.chance(10) ? "memo" : "", idempotencyKey: key()))
        case 12..<22:  // spend: exact balance, one too many, unknown user, or any amount
            let u = rng.chance(5) ? "nobody-\(step)" : user()
            let balance = model.accounts[MixedModel.bytes(u)]?.available ?? 0
            let amount: Int64
            switch index(100) {
            case 0..<20: amount = Int64(max(1, balance))
            case 20..<30: amount = Int64(min(MixedModel.max64, balance + 1))
            default: amount = int(1...3_000)
            }
            return .spend(Spend(userID: u, amount: amount, reference: rng.chance(20) ? "order-\(index(5))" : "", idempotencyKey: key()))
        case 22..<30:
            let u = user()
            return .consume(Consume(userID: u, tokens: usageTokens(model, u, rng.chance(80) ? int(1...1_500) : int(1_500...12_000)), idempotencyKey: key()))
        case 30..<37:
            let u = user()
            let ttl: UInt32 = rng.chance(50) ? 0 : rng.pick([1, 1_000, 30_000, 600_000, 3_600_000])
            return .reserve(Reserve(userID: u, tokens: usageTokens(model, u, int(1...3_000)), ttlMilliseconds: ttl, idempotencyKey: key()))
        case 37..<42:
            return .settle(Settle(reservationID: reservationID(model), tokens: rng.chance(10) ? 0 : int(1...4_000), idempotencyKey: key()))
        case 42..<45:
            return .release(Release(reservationID: reservationID(model), idempotencyKey: key()))
        case 45..<48:
            return .changeUsage(usageChange())
        case 48..<51:
            return .expireReservations
        case 51..<53:
            return .savePackage(package())
        case 53..<54:
            return .deactivatePackage(id: rng.chance(85) ? rng.pick(Self.packageIDs) : "no-such-package")
        case 54..<60:
            if !recentPurchases.isEmpty, rng.chance(25) {
                // The same start again: already done, if it started a purchase (mostly one that did).
                let started = recentPurchases.filter {
                    guard case .startPurchase(let s) = $0, let index = model.buyByPayment[MixedModel.bytes(s.paymentID)] else { return false }
                    return model.buys[index].user == MixedModel.bytes(s.userID) && model.buys[index].package == MixedModel.bytes(s.packageID)
                }
                return !started.isEmpty && rng.chance(70) ? rng.pick(started) : rng.pick(recentPurchases)
            }
            payments += 1
            // Usually a new payment id; sometimes one that already pays a purchase (of someone else, mostly).
            let payment = !model.buys.isEmpty && rng.chance(20)
                ? String(decoding: rng.pick(model.buys).payment, as: UTF8.self) : "pay-\(payments)"
            let packageID = rng.chance(8) ? "no-such-package" : rng.pick(Self.packageIDs)
            let start = Command.startPurchase(StartPurchase(userID: user(), packageID: packageID, paymentID: payment))
            Self.remember(start, in: &recentPurchases)
            return start
        case 60..<66:
            // A pending purchase, a recent one (settled or not), or a payment nobody started.
            let pending = model.buys.filter { $0.status == .pending }.map { String(decoding: $0.payment, as: UTF8.self) }
            let recent = model.buys.suffix(8).map { String(decoding: $0.payment, as: UTF8.self) }
            let payment = !pending.isEmpty && rng.chance(60) ? rng.pick(pending) : !recent.isEmpty && rng.chance(90) ? rng.pick(recent) : "pay-unknown-\(step)"
            let result: SettlePurchase.Result = rng.chance(55) ? .completed : .failed(reason: ExactString(rng.pick(Self.failReasons)))
            return .settlePurchase(SettlePurchase(paymentID: payment, result: result))
        case 66..<68:
            return .expirePurchases
        case 68..<84:
            return commit(model, huge: huge)
        case 84..<88:
            let count = UInt64(model.stakes.count)
            let id: UInt64 = count == 0 || rng.chance(12) ? count + UInt64(index(3)) + 1 : count - UInt64(index(Int(min(count, 8))))
            return .cancelCommitment(id: rng.chance(3) ? 0 : id)
        case 88..<91:
            if !recentSettlements.isEmpty, rng.chance(30) { return rng.pick(recentSettlements) }  // settle twice
            let result: SettlePrediction.Result = rng.chance(35) ? .void : .resolve(winning: rng.chance(50) ? .yes : .no)
            // The lowest unsettled ones (closed ones too), an open one, or one nobody made yet.
            let id = rng.chance(60) ? "q\(predictionBase + index(3))" : rng.chance(70) ? predictionID() : "q\(predictionBase + 12 + index(3))"
            let settle = Command.settlePrediction(SettlePrediction(predictionID: id, result: result))
            Self.remember(settle, in: &recentSettlements)
            return settle
        case 91..<93:
            let closesAt: Timestamp? = switch index(8) {
            case 0, 1: nil
            case 2: now - int(1...1_000_000)  // already past
            case 3: now + 1
            default: now + int(1...1_800_000_000)
            }
            return .closePrediction(id: rng.chance(75) ? predictionID() : "q\(predictionBase - 1 - index(3))", at: closesAt)
        default:
            // A commit to a settled prediction, or to one with a close time behind it.
            return commit(model, huge: huge, settled: true)
        }
    }

    private static func remember(_ command: Command, in list: inout [Command]) {
        if list.count >= 12 { list.removeFirst() }
        list.append(command)
    }

    /// Sometimes exactly what is left of today's limit, or one more; else `otherwise`.
    private mutating func usageTokens(_ model: MixedModel, _ user: String, _ otherwise: Int64) -> Int64 {
        let u = model.usageUser(MixedModel.bytes(user), today: MixedModel.day(of: now))
        let left = model.standing(u, of: MixedModel.bytes(user), at: now).limit - u.used - u.reserved
        switch index(100) {
        case 0..<12: return Int64(max(1, left))
        case 12..<18: return Int64(max(1, left + 1))
        default: return otherwise
        }
    }

    /// An open reservation most of the time; otherwise one just ended, or never made.
    private mutating func reservationID(_ model: MixedModel) -> UInt64 {
        let open = model.holds.keys.sorted()
        if !open.isEmpty, rng.chance(75) { return rng.pick(open) }
        let next = model.nextHoldID
        return rng.chance(50) && next > 1 ? next - 1 - UInt64(index(Int(min(next - 1, 5)))) : next + UInt64(index(5))
    }

    /// Mostly one of the lowest open predictions; sometimes any of the lowest few.
    private mutating func predictionID() -> String {
        rng.chance(85) && !openPredictions.isEmpty ? rng.pick(Array(openPredictions.prefix(4))) : "q\(predictionBase + index(6))"
    }

    private mutating func commit(_ model: MixedModel, huge: Bool, settled: Bool = false) -> Command {
        var u = rng.chance(4) ? "nobody-\(step)" : user()
        if huge, rng.chance(50), let richest = model.accounts.max(by: {
            $0.value.available < $1.value.available || ($0.value.available == $1.value.available && $1.key.lexicographicallyPrecedes($0.key))
        }) {
            u = String(decoding: richest.key, as: UTF8.self)
        }
        let available = model.accounts[MixedModel.bytes(u)]?.available ?? 0
        var odds = rng.chance(3) ? 1_000_000_000_000 : rng.pick(Self.odds)
        var stake: Int64
        switch index(100) {
        case 0..<12: stake = Int64(max(1, available))  // everything
        case 12..<20: stake = Int64(min(MixedModel.max64, available + 1))  // one too many
        case 20..<25: stake = 10_000_000_000_000; odds = 1_000_000_000_000  // potential winning past Int64.max
        default: stake = int(1...800)
        }
        if huge, rng.chance(60) {
            // Stakes whose winnings take a balance, or the house, past Int64.max: 10^18 at odds 9
            // pays 9 × 10^18 (the settlement is refused, all or nothing), at odds 10^6 it cannot
            // even be committed.
            stake = Int64(max(1, min(available, rng.pick([1_000_000_000_000_000_000, 1_000_000_000_000]))))
            odds = rng.pick([9_000_000, 9_000_000, 1_000_000_000_000, 2_000_000])
        }
        var prediction = predictionID()
        if settled || rng.chance(5) {
            let settledOrClosed = model.questions.filter { $0.value.summary != nil || ($0.value.closesAt.map { now >= $0 } ?? false) }
            let candidates = settledOrClosed.keys.sorted(by: { $0.lexicographicallyPrecedes($1) })
            if !candidates.isEmpty { prediction = String(decoding: rng.pick(candidates), as: UTF8.self) }
        }
        return .commit(Commit(
            userID: u, predictionID: prediction, position: rng.chance(50) ? .yes : .no, stake: stake, oddsMicros: odds,
            idempotencyKey: key()))
    }

    private mutating func usageChange() -> UsageChange {
        switch index(100) {
        case 0..<40: .tierLimit(tier: rng.pick(Self.tiers), tokens: rng.chance(15) ? nil : rng.pick([0, 500, 5_000, 10_000, 20_000, 100_000]))
        case 40..<55: .userLimit(userID: user(), tokens: rng.chance(40) ? nil : rng.pick([0, 1_000, 3_000, 50_000]))
        case 55..<68: .tierShadow(tier: rng.pick(Self.tiers), on: rng.chance(40))
        case 68..<80: .userShadow(userID: user(), on: rng.chance(40))
        case 80..<95: .defaultTier(rng.pick(Self.tiers))
        default: .timeZone(rng.pick(["UTC", "Europe/Berlin", "America/New_York"]))
        }
    }

    // MARK: Memberships, prices, refused attempts, reconciliation

    private mutating func membershipOrAudit(_ model: MixedModel) -> Command {
        switch index(100) {
        case 0..<24:
            return .setMembership(SetMembership(userID: user(), tier: membershipTier(model), expiresAt: membershipExpiry()))
        case 24..<32:
            // SetLimits.user_tier: a membership without expiry.
            return .changeUsage(.userTier(userID: user(), tier: rng.chance(30) ? rng.pick(Self.undefinedTiers) : membershipTier(model)))
        case 32..<36:
            // A membership's tier loses its limit (it falls back to the default tier) or gets one.
            let held = Set(model.memberships.values.map(\.tier)).sorted { $0.lexicographicallyPrecedes($1) }
            let tier = held.isEmpty ? rng.pick(Self.tiers) : String(decoding: rng.pick(held), as: UTF8.self)
            return .changeUsage(.tierLimit(tier: tier, tokens: rng.chance(60) ? nil : rng.pick([0, 2_000, 20_000])))
        case 36..<58:
            var action = rng.chance(95) ? rng.pick(Self.actions) : "no-such-action"
            if rng.chance(25) {
                // Take a price away: mostly one the action has, so actions disappear with their last.
                let lastOnes = model.prices.filter { $0.value.count == 1 }.keys.sorted { $0.lexicographicallyPrecedes($1) }
                if !lastOnes.isEmpty, rng.chance(40) { action = String(decoding: rng.pick(lastOnes), as: UTF8.self) }
                let priced = (model.prices[MixedModel.bytes(action)] ?? [:]).keys.sorted { $0.lexicographicallyPrecedes($1) }
                let tier = !priced.isEmpty && rng.chance(85) ? String(decoding: rng.pick(priced), as: UTF8.self) : pricedTier(model)
                return .setActionPrice(SetActionPrice(action: action, tier: tier, cost: nil))
            }
            let cost = rng.chance(10) ? rng.pick([0, -7]) : rng.chance(3) ? Int64.max : rng.pick(Self.prices)
            // "summarize" is mostly priced for the default tier only: members of other tiers pay
            // its price. "image" is mostly priced for other tiers: users on neither are refused
            // (PRICE_NOT_FOUND). Until the default tier changes.
            let defined = Self.tiers.filter { model.tiers[MixedModel.bytes($0)] != nil && MixedModel.bytes($0) != model.defaultTier }
            let others = defined.isEmpty ? Self.tiers : defined
            let tier = switch (action, rng.chance(90)) {
            case ("summarize", true): String(decoding: model.defaultTier, as: UTF8.self)
            case ("image", true): rng.pick(others)
            default: pricedTier(model)
            }
            return .setActionPrice(SetActionPrice(action: action, tier: tier, cost: cost))
        case 58..<90:
            let charged = charged(model)
            if !charged.isEmpty, rng.chance(20) { return .spendAction(rng.pick(charged).0) }  // a retry
            // Often a member whose membership gives their tier now.
            let members = model.memberships.keys.filter { model.membershipActive($0, at: now) }.sorted { $0.lexicographicallyPrecedes($1) }
            let u = !members.isEmpty && rng.chance(30)
                ? String(decoding: rng.pick(members), as: UTF8.self) : rng.chance(5) ? "nobody-\(step)" : user()
            let action = rng.chance(6) ? "no-such-action" : rng.pick(Self.actions)
            return .spendAction(SpendAction(
                userID: u, action: action, reference: rng.chance(20) ? "chat-\(index(4))" : "", memo: rng.chance(10) ? "memo" : "",
                idempotencyKey: key()))
        case 90..<94:
            let who = rng.chance(60) ? user() : rng.pick(["", "tab\tuser", "nobody"])
            return .refusedAttempt(RefusedAttempt(userID: who, refusal: rng.pick(Self.earlyRefusals)))
        default:
            return .reconcile(repair: rng.chance(50))
        }
    }

    /// The recent keyed spends by action whose key still remembers the charge they made.
    private func charged(_ model: MixedModel) -> [(SpendAction, MixedModel.Charge)] {
        recentSpendActions.compactMap { spend in
            guard let record = model.keys[MixedModel.bytes(spend.idempotencyKey)], MixedModel.sameRequest(record.request, .spendAction(spend)),
                let charge = record.transaction
            else { return nil }
            return (spend, charge)
        }
    }

    /// Mostly a tier defined now, other than the default one; sometimes any of the limits'
    /// tiers (defined or not at the time), one never defined, or none (ends the membership).
    private mutating func membershipTier(_ model: MixedModel) -> String? {
        let defined = Self.tiers.filter { model.tiers[MixedModel.bytes($0)] != nil && MixedModel.bytes($0) != model.defaultTier }
        switch index(100) {
        case 0..<16: return nil
        case 16..<22: return rng.pick(Self.undefinedTiers)
        case 22..<38: return rng.pick(Self.tiers)
        default: return defined.isEmpty ? rng.pick(Self.tiers) : rng.pick(defined)
        }
    }

    /// The default tier often (others fall back to its price), else any tier, now and then an
    /// undefined one.
    private mutating func pricedTier(_ model: MixedModel) -> String {
        switch index(100) {
        case 0..<45: String(decoding: model.defaultTier, as: UTF8.self)
        case 45..<55: rng.pick(Self.undefinedTiers)
        default: rng.pick(Self.tiers)
        }
    }

    /// No end, already past (or exactly now), 1 µs ahead, or an expiry the run will pass.
    private mutating func membershipExpiry() -> Timestamp? {
        switch index(100) {
        case 0..<20: nil
        case 20..<33: now - int(0...3_600_000_000)
        case 33..<36: now
        case 36..<39: now + 1
        case 39..<62: now + int(1...120_000_000)  // within 2 min
        default: now + int(120_000_000...21_600_000_000)  // up to 6 h
        }
    }

    private mutating func package() -> SavePackage {
        let id = rng.pick(Self.packageIDs)
        switch id {
        case "overflow":
            return SavePackage(id: id, name: "Too many", tokens: Int64.max, bonusTokens: 1, priceCents: 1, active: rng.chance(90))
        case "zero-price":
            return SavePackage(id: id, name: "Free", tokens: int(1...50), priceCents: 0, currency: "EUR", active: rng.chance(70))
        default:
            return SavePackage(
                id: id, name: "Pack \(id)", tokens: int(1...10_000), bonusTokens: rng.chance(50) ? 0 : int(1...500),
                priceCents: int(99...9_999), externalPriceID: "price_\(index(100))", active: rng.chance(90), sortOrder: Int32(index(5)))
        }
    }

    // MARK: Invalid requests

    private mutating func invalid() -> Command {
        let k = rng.chance(50) ? rng.pick(Self.keys) : ""
        switch index(34) {
        case 0: return .credit(Credit(userID: rng.pick(Self.badUsers), amount: 10, kind: .grant, idempotencyKey: k))
        case 1: return .credit(Credit(userID: user(), amount: rng.pick([0, -1, Int64.min]), kind: .grant, idempotencyKey: k))
        case 2: return .credit(Credit(userID: user(), amount: 10, kind: nil, idempotencyKey: k))
        case 3: return .credit(Credit(userID: user(), amount: 10, kind: .grant, reference: String(repeating: "r", count: 257), idempotencyKey: k))
        case 4: return .credit(Credit(userID: user(), amount: 10, kind: .refund, memo: String(repeating: "m", count: 1_025)))
        case 5: return .spend(Spend(userID: user(), amount: 10, idempotencyKey: String(repeating: "k", count: 129)))
        case 6: return .spend(Spend(userID: rng.pick(Self.badUsers), amount: 0, idempotencyKey: k))
        case 7: return .consume(Consume(userID: user(), tokens: rng.pick([0, -5]), idempotencyKey: k))
        case 8: return .reserve(Reserve(userID: user(), tokens: 10, ttlMilliseconds: 3_600_001, idempotencyKey: k))
        case 9: return .reserve(Reserve(userID: rng.pick(Self.badUsers), tokens: 10))
        case 10: return .settle(Settle(reservationID: 1, tokens: -1, idempotencyKey: k))
        case 11: return .release(Release(reservationID: 1, idempotencyKey: String(repeating: "k", count: 129)))
        case 12: return .changeUsage(rng.pick([.tierLimit(tier: "", tokens: 5), .tierLimit(tier: "pro", tokens: -1), .defaultTier("t\u{1}")]))
        case 13:
            return .changeUsage(rng.pick([
                .userLimit(userID: "", tokens: 5), .timeZone(""), .timeZone("Bad Zone!"), .tierShadow(tier: String(repeating: "t", count: 65), on: true),
            ]))
        case 14: return .savePackage(SavePackage(id: "", name: "x", tokens: 1, priceCents: 1))
        case 15: return .savePackage(SavePackage(id: "small", name: "", tokens: 1, priceCents: 1))
        case 16: return .savePackage(SavePackage(id: "small", name: "x", tokens: rng.pick([0, -3]), priceCents: 1))
        case 17: return .savePackage(SavePackage(id: "small", name: "x", tokens: 5, bonusTokens: -1, priceCents: 1))
        case 18: return .savePackage(SavePackage(id: "small", name: "x", tokens: 5, priceCents: 1, currency: rng.pick(["usd", "US", "EURO"])))
        case 19: return .deactivatePackage(id: "")
        case 20: return .startPurchase(StartPurchase(userID: user(), packageID: "small", paymentID: rng.pick(["", "pay\u{7}"])))
        case 21: return .startPurchase(StartPurchase(userID: user(), packageID: "", paymentID: "pay-1"))
        case 22: return .settlePurchase(SettlePurchase(paymentID: "pay-1", result: .failed(reason: rng.pick(["", "EXPIRED"]))))
        case 23: return .settlePurchase(SettlePurchase(paymentID: "", result: .completed))
        case 24:
            return .commit(Commit(userID: user(), predictionID: predictionID(), position: nil, stake: 10, oddsMicros: 2_000_000, idempotencyKey: k))
        case 25:
            let (stake, odds) = rng.pick([(Int64(0), Int64(2_000_000)), (-1, 2_000_000), (10, 999_999), (10, 1_000_000_000_001), (10, 0)])
            return .commit(Commit(userID: user(), predictionID: predictionID(), position: .yes, stake: stake, oddsMicros: odds, idempotencyKey: k))
        case 26:
            return rng.chance(50)
                ? .commit(Commit(userID: user(), predictionID: "", position: .no, stake: 10, oddsMicros: 2_000_000))
                : .closePrediction(id: "", at: nil)
        case 28:
            return .setMembership(SetMembership(userID: rng.pick(Self.badUsers), tier: "trial", expiresAt: now + 1_000_000))
        case 29:
            return .setMembership(SetMembership(userID: user(), tier: rng.pick(["", "t\u{1}", String(repeating: "t", count: 65)])))
        case 30:
            return .changeUsage(.userTier(userID: rng.chance(50) ? "" : user(), tier: rng.pick(["", "t\u{9F}"])))
        case 31:
            return .setActionPrice(SetActionPrice(action: rng.pick(Self.actions), tier: "trial", cost: rng.pick([0, -1, Int64.min])))
        case 32:
            return .setActionPrice(rng.chance(50)
                ? SetActionPrice(action: rng.pick(["", "a\u{7F}", String(repeating: "a", count: 65)]), tier: "trial", cost: 5)
                : SetActionPrice(action: "post", tier: rng.pick(["", "t\u{1}"]), cost: nil))
        case 33:
            switch index(4) {
            case 0: return .spendAction(SpendAction(userID: rng.pick(Self.badUsers), action: "post", idempotencyKey: k))
            case 1: return .spendAction(SpendAction(userID: user(), action: rng.pick(["", "a\u{1}b"]), idempotencyKey: k))
            case 2: return .spendAction(SpendAction(userID: user(), action: "post", memo: String(repeating: "m", count: 1_025), idempotencyKey: k))
            default: return .spendAction(SpendAction(userID: user(), action: "post", idempotencyKey: String(repeating: "k", count: 129)))
            }
        default:
            return .settlePrediction(SettlePrediction(
                predictionID: rng.chance(50) ? "" : predictionID(), result: .resolve(winning: nil)))
        }
    }
}
