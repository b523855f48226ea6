import Foundation
import Testing
import TallyLedger

/// Random mixes of every Ledger command: after every step the Ledger keeps its invariants and
/// agrees with MixedModel, an independent re-statement of the documented rules, on the answer
/// (accepted or refused, with which code and reason; replayed; state changed) and on the whole
/// state: balances, system accounts, idempotency keys, daily usage, limits, packages, purchases,
/// commitments and predictions. A failure names the seed and step; rerun that seed to reproduce
/// (`swift test --filter MixedCommand`).
///
/// For a soak: TALLY_MIX_STEPS sets the steps per seed (2,000; the invariant check walks the
/// whole history, so a step costs more as the run goes on), TALLY_MIX_SEEDS other seeds
/// ("1...40" or "3,7,9"), and TALLY_MIX_COVERAGE=1 prints what each seed exercised.
@Suite struct MixedCommandPropertyTests {
    static let seeds: [UInt64] = {
        guard let text = ProcessInfo.processInfo.environment["TALLY_MIX_SEEDS"] else { return [11, 12, 13, 14, 15, 16] }
        let bounds = text.split(separator: ".", omittingEmptySubsequences: true).compactMap { UInt64($0) }
        if text.contains("..."), bounds.count == 2, bounds[0] <= bounds[1] { return Array(bounds[0]...bounds[1]) }
        return text.split(separator: ",").compactMap { UInt64($0.trimmingCharacters(in: .whitespaces)) }
    }()
    static let steps = ProcessInfo.processInfo.environment["TALLY_MIX_STEPS"].flatMap(Int.init) ?? 2_000
    static let printCoverage = ProcessInfo.processInfo.environment["TALLY_MIX_COVERAGE"] != nil
    /// Short enough that keys, pending purchases and reservations run out within a run.
    static let ttl: Int64 = 3_600_000_000
    static let purchaseTimeout: Int64 = 1_800_000_000

    @Test("every command, mixed: invariants hold and the ledger agrees with the model", arguments: seeds)
    func mixedCommandsAgreeWithTheModel(seed: UInt64) {
        var generator = MixedCommandGenerator(seed: seed, steps: Self.steps)
        var model = MixedModel(ttl: Self.ttl, purchaseTimeout: Self.purchaseTimeout)
        var ledger = Ledger(config: LedgerConfig(idempotencyTTL: Self.ttl, purchaseTimeout: Self.purchaseTimeout))
        /// The ledger's answer when each live key was first recorded.
        var firstOutcomes: [MixedModel.Bytes: Outcome] = [:]
        var coverage: [String: Int] = [:]
        var recent: [String] = []

        for step in 0..<Self.steps {
            let (command, now) = generator.next(model: model)
            for tag in Self.situations(command, model, now) { coverage["(\(tag))", default: 0] += 1 }
            let expected = model.apply(command, at: now)
            let applied = ledger.apply(command, at: now)
            recent.append("  step \(step) at \(now): \(Self.describe(command))")
            if recent.count > 8 { recent.removeFirst() }

            var problems = Self.compareAnswer(ledger, model, command, now, applied, expected, firstOutcomes)
            problems += Self.compareState(ledger, model, now)
            problems += ledger.invariantViolations().map { "invariant: \($0)" }
            if !problems.isEmpty {
                Issue.record(
                    """
                    seed \(seed) step \(step): \(Self.describe(command)) at \(now)
                    ledger: \(applied.outcome), replayed \(applied.replayed), changed \(applied.changedState)
                    model: \(expected.answer), replayed \(expected.replayed), changed \(expected.changed)
                    \(problems.joined(separator: "\n"))
                    last commands:
                    \(recent.joined(separator: "\n"))
                    """)
                return
            }
            let key = MixedModel.idempotencyKey(of: command)
            if !key.isEmpty, !expected.keyReplay, MixedModel.invalid(command) == nil,
                expected.answer != .refused(.alreadyExists, "IDEMPOTENCY_KEY_CONFLICT")
            {
                firstOutcomes[key] = applied.outcome
            }
            let label = expected.keyReplay ? "replayed (key)" : "\(expected.answer)"
            coverage["\(Self.name(of: command)): \(label)", default: 0] += 1
            if expected.purged { coverage["(idempotency records purged)", default: 0] += 1 }
        }

        if Self.printCoverage {
            let largest = ledger.accounts.values.map(\.available).max() ?? 0
            print(
                "MixedCommand seed \(seed), \(Self.steps) steps, \(ledger.transactions.count) transactions, mint \(ledger.mint), house \(ledger.house), largest balance \(largest):")
            for (entry, count) in coverage.sorted(by: { $0.key < $1.key }) { print("  \(count)\t\(entry)") }
        }
        // The run reached the paths the comparison is about (else it proves little). Shorter
        // runs (TALLY_MIX_STEPS) may miss a few, so only full-length runs check.
        guard Self.steps >= 2_000 else { return }
        let mustSee = [
            "credit(purchase): accepted", "credit(grant): accepted", "credit(refund): accepted", "credit(adjustment): accepted",
            "spend: accepted", "spend: refused failedPrecondition INSUFFICIENT_TOKENS",
            "consume: accepted", "consume: refused resourceExhausted DAILY_LIMIT_EXCEEDED", "reserve: accepted",
            "settle: accepted", "settle: refused notFound RESERVATION_NOT_FOUND", "release: accepted", "changeUsage: accepted",
            "expireReservations: accepted", "savePackage: accepted", "deactivatePackage: accepted",
            "startPurchase: accepted", "startPurchase: already done", "startPurchase: refused notFound PACKAGE_NOT_FOUND",
            "startPurchase: refused failedPrecondition PACKAGE_INACTIVE", "startPurchase: refused alreadyExists PAYMENT_ID_IN_USE",
            "settlePurchase(complete): accepted", "settlePurchase(complete): already done", "settlePurchase(fail): accepted",
            "settlePurchase(fail): already done", "settlePurchase(complete): refused failedPrecondition PURCHASE_ALREADY_SETTLED",
            "settlePurchase(complete): refused notFound PURCHASE_NOT_FOUND", "expirePurchases: accepted",
            "commit: accepted", "commit: refused failedPrecondition INSUFFICIENT_TOKENS",
            "commit: refused failedPrecondition PREDICTION_SETTLED", "commit: refused failedPrecondition PREDICTION_CLOSED",
            "commit: refused outOfRange AMOUNT_OVERFLOW", "cancelCommitment: accepted",
            "cancelCommitment: refused notFound COMMITMENT_NOT_FOUND", "cancelCommitment: refused failedPrecondition COMMITMENT_NOT_ACTIVE",
            "settlePrediction(resolve): accepted", "settlePrediction(void): accepted", "settlePrediction(resolve): already done",
            "settlePrediction(resolve): refused notFound PREDICTION_NOT_FOUND", "closePrediction: accepted",
            "closePrediction: refused failedPrecondition PREDICTION_SETTLED",
        ]
        let missing = mustSee.filter { coverage[$0, default: 0] == 0 }
        #expect(missing.isEmpty, "seed \(seed) never reached: \(missing)")
        if generator.hugeFrom < Self.steps {
            // Int64-sized credits exhaust the mint's issuance: later credits overflow.
            #expect(coverage.contains { $0.key.hasPrefix("credit(") && $0.key.hasSuffix("refused outOfRange AMOUNT_OVERFLOW") }, "seed \(seed): no credit overflowed")
        }
        let replays = coverage.filter { $0.key.hasSuffix("replayed (key)") }.values.reduce(0, +)
        let conflicts = coverage.filter { $0.key.hasSuffix("IDEMPOTENCY_KEY_CONFLICT") }.values.reduce(0, +)
        let invalid = Set(coverage.keys.filter { $0.contains("refused invalidArgument") }).count
        #expect(replays > Self.steps / 50 && conflicts > Self.steps / 200 && invalid >= 15, "seed \(seed): \(replays) replays, \(conflicts) conflicts, \(invalid) invalid kinds")
    }

    // MARK: The answer

    static func compareAnswer(
        _ ledger: Ledger, _ model: MixedModel, _ command: Command, _ now: Timestamp, _ applied: Applied,
        _ expected: MixedModel.Expected, _ firstOutcomes: [MixedModel.Bytes: Outcome]
    ) -> [String] {
        var problems: [String] = []
        func check(_ ok: Bool, _ message: @autoclosure () -> String) { if !ok { problems.append(message()) } }
        check(applied.replayed == expected.replayed, "replayed \(applied.replayed), model \(expected.replayed)")
        check(applied.changedState == expected.changed, "changedState \(applied.changedState), model \(expected.changed)")
        if applied.changedState { check(ledger.lastTimestamp == now, "lastTimestamp \(ledger.lastTimestamp) after a change at \(now)") }

        if expected.keyReplay {
            // A remembered key answers its first answer again, whatever happened since.
            let first = firstOutcomes[MixedModel.idempotencyKey(of: command)]
            check(first != nil && applied.outcome == first, "replay \(applied.outcome) differs from the first answer \(String(describing: first))")
            return problems
        }

        let today = MixedModel.day(of: now)
        switch (applied.outcome, expected.answer) {
        case (.accepted(let receipt), .receipt):
            checkTransaction(receipt, expected, ledger, model, now, &problems)
        case (.usage(let receipt), .usage):
            if let user = expected.usageUser {
                let u = model.usageUser(user, today: today)
                check(
                    Array(receipt.status.userID.utf8) == user && Int128(receipt.status.used) == u.used
                        && Int128(receipt.status.reserved) == u.reserved,
                    "usage receipt \(receipt.status), model used \(u.used) reserved \(u.reserved)")
            }
        case (.usageLimits, .usageLimits), (.package, .package), (.prediction, .prediction):
            break
        case (.expired(let released), .expired(let ids)):
            check(released.map(\.id) == ids, "released reservations \(released.map(\.id)), model \(ids)")
        case (.expiredPurchases(let failed), .expiredPurchases(let ids)):
            check(failed.map(\.id) == ids, "expired purchases \(failed.map(\.id)), model \(ids)")
        case (.purchase(let receipt), .purchase(let id, let done)):
            check(receipt.purchase.id == id && receipt.alreadyDone == done, "purchase \(receipt.purchase.id) done \(receipt.alreadyDone), model \(id) \(done)")
            if !done, let completion = receipt.purchase.completion, receipt.purchase.status == .completed {
                checkTransaction(completion, expected, ledger, model, now, &problems)
            }
        case (.commitment(let receipt), .commitment(let id)):
            check(receipt.commitment.id == id, "commitment \(receipt.commitment.id), model \(id)")
            check(ledger.transactions[receipt.receipt.transaction.id] == receipt.receipt.transaction, "history lacks the commitment's transaction")
        case (.predictionSettled(let summary, let done), .predictionSettled(let modelDone)):
            check(done == modelDone, "alreadyDone \(done), model \(modelDone)")
            if let question = model.questions[Array(summary.predictionID.utf8)], let expectedSummary = question.summary {
                checkSummary(summary, expectedSummary, &problems)
            } else {
                problems.append("the model has no summary of \(summary.predictionID)")
            }
        case (.refused(let refusal), .refused(let code, let reason)):
            check(refusal.code == code && refusal.reason == reason, "refusal \(refusal.code) \(refusal.reason), model \(code) \(reason)")
            if let (available, requested) = expected.insufficient {
                check(
                    refusal.details["available"] == "\(available)" && refusal.details["requested"] == "\(requested)"
                        && refusal.details["shortfall"] == "\(Int128(requested) - available)",
                    "INSUFFICIENT_TOKENS details \(refusal.details), model available \(available) requested \(requested)")
            }
        default:
            problems.append("outcome differs: ledger \(applied.outcome), model \(expected.answer)")
        }
        return problems
    }

    static func checkTransaction(
        _ receipt: Receipt, _ expected: MixedModel.Expected, _ ledger: Ledger, _ model: MixedModel, _ now: Timestamp,
        _ problems: inout [String]
    ) {
        guard let (user, type, amount) = expected.transaction else {
            problems.append("the model expected no transaction, got \(receipt.transaction)")
            return
        }
        let tx = receipt.transaction
        if Array(tx.userID.utf8) != user || tx.type != type || tx.amount != amount || tx.createdAt != now {
            problems.append("transaction \(tx), model \(String(decoding: user, as: UTF8.self)) \(type) \(amount)")
        }
        if Int128(tx.balanceAfter) != model.accounts[user]?.available {
            problems.append("balance after \(tx.balanceAfter), model \(String(describing: model.accounts[user]))")
        }
        if ledger.transactions[tx.id] != tx { problems.append("history does not hold transaction \(tx.id)") }
        if receipt.balance.account != ledger.balance(of: tx.userID).account { problems.append("receipt balance \(receipt.balance) is not the balance now") }
    }

    static func checkSummary(_ summary: PredictionSummary, _ m: MixedModel.Summary, _ problems: inout [String]) {
        let status: Prediction.Status = m.voided ? .voided : .resolved
        let winning: Commitment.Position? = m.winningYes.map { $0 ? .yes : .no }
        if summary.status != status || summary.winning != winning || summary.winners != m.winners || summary.losers != m.losers
            || summary.refunded != m.refunded || Int128(summary.tokensPaid) != m.tokensPaid
            || Int128(summary.tokensCollected) != m.tokensCollected || Int128(summary.tokensRefunded) != m.tokensRefunded
            || summary.settledAt != m.settledAt
        {
            problems.append("summary \(summary), model \(m)")
        }
    }

    // MARK: The whole state

    static func compareState(_ ledger: Ledger, _ model: MixedModel, _ now: Timestamp) -> [String] {
        var problems: [String] = []
        func check(_ ok: Bool, _ message: @autoclosure () -> String) { if !ok { problems.append(message()) } }
        func text(_ bytes: MixedModel.Bytes) -> String { String(decoding: bytes, as: UTF8.self) }

        // Balances and the system accounts.
        check(Int128(ledger.mint) == -model.issued, "mint \(ledger.mint), model issued \(model.issued)")
        check(Int128(ledger.burn) == model.burned, "burn \(ledger.burn), model \(model.burned)")
        check(Int128(ledger.house) == model.house, "house \(ledger.house), model \(model.house)")
        check(ledger.transactions.count == Int(model.transactionCount), "\(ledger.transactions.count) transactions, model \(model.transactionCount)")
        check(ledger.nextTransactionID == model.transactionCount + 1, "next transaction id \(ledger.nextTransactionID)")
        check(ledger.accounts.count == model.accounts.count, "\(ledger.accounts.count) accounts, model \(model.accounts.count)")
        for (user, a) in ledger.accounts {
            let m = model.accounts[Array(user.value.utf8)]
            check(
                m == MixedModel.Account(
                    available: Int128(a.available), committed: Int128(a.committed), earned: Int128(a.totalEarned),
                    spent: Int128(a.totalSpent), transactions: a.version),
                "\(user): available \(a.available) committed \(a.committed) earned \(a.totalEarned) spent \(a.totalSpent) version \(a.version), model \(String(describing: m))")
        }

        // Idempotency keys: the live ones, each remembering its first request.
        check(ledger.idempotency.records.count == model.keys.count, "\(ledger.idempotency.records.count) keys, model \(model.keys.count)")
        for (key, record) in ledger.idempotency.records {
            let m = model.keys[Array(key.value.utf8)]
            check(
                m.map { MixedModel.sameRequest($0.request, record.command) && $0.expiresAt == record.expiresAt } ?? false,
                "key '\(key)': \(record.command) until \(record.expiresAt), model \(String(describing: m.map { ($0.request, $0.expiresAt) }))")
        }

        // Daily usage: every user's standing today, the open reservations, the limits.
        let today = UsageDay.utc(containing: now)
        for user in MixedCommandGenerator.users {
            let status = ledger.usageStatus(of: user, on: today)
            let u = model.usageUser(MixedModel.bytes(user), today: MixedModel.day(of: now))
            let standing = model.standing(u)
            let remaining = max(0, standing.limit - u.used - u.reserved)
            check(
                Int128(status.used) == u.used && Int128(status.reserved) == u.reserved && status.shadowRefusals == u.shadowRefusals
                    && Int128(status.limit) == standing.limit && Int128(status.remaining) == remaining
                    && Array(status.tier.value.utf8) == standing.tier && status.shadow == standing.shadow,
                "usage of \(user) on \(today.date): \(status), model used \(u.used) reserved \(u.reserved) shadow refusals \(u.shadowRefusals) limit \(standing.limit) tier \(text(standing.tier)) shadow \(standing.shadow)")
        }
        check(ledger.usage.nextReservationID == model.nextHoldID, "next reservation id \(ledger.usage.nextReservationID), model \(model.nextHoldID)")
        check(ledger.usage.reservations.count == model.holds.count, "\(ledger.usage.reservations.count) reservations, model \(model.holds.count)")
        for (id, r) in ledger.usage.reservations {
            let m = model.holds[id]
            check(
                m.map { $0.user == Array(r.userID.value.utf8) && $0.tokens == r.tokens && $0.expiresAt == r.expiresAt && $0.day == r.day.dayNumber } ?? false,
                "reservation \(r), model \(String(describing: m))")
        }
        let limits = ledger.usage.limits
        check(
            limits.tiers.count == model.tiers.count && limits.tiers.allSatisfy { model.tiers[Array($0.key.value.utf8)] == $0.value }
                && Array(limits.defaultTier.value.utf8) == model.defaultTier
                && Set(limits.shadowTiers.map { Array($0.value.utf8) }) == model.shadowTiers && limits.timeZone == model.timeZone,
            "limits \(limits), model tiers \(model.tiers.map { (text($0.key), $0.value) }) default \(text(model.defaultTier)) shadow \(model.shadowTiers.map(text)) zone \(model.timeZone)")

        // Packages and purchases.
        check(ledger.packages.count == model.packages.count, "\(ledger.packages.count) packages, model \(model.packages.count)")
        for (id, p) in ledger.packages {
            let m = model.packages[Array(id.value.utf8)]
            check(m.map { $0.tokens == p.tokens && $0.bonus == p.bonusTokens && $0.active == p.active } ?? false, "package \(p), model \(String(describing: m))")
        }
        check(ledger.purchases.count == model.buys.count, "\(ledger.purchases.count) purchases, model \(model.buys.count)")
        for (id, p) in ledger.purchases {
            guard id >= 1, id <= UInt64(model.buys.count) else {
                problems.append("purchase \(id) is not in the model")
                continue
            }
            let m = model.buys[Int(id) - 1]
            let status: MixedModel.BuyStatus = switch p.status {
            case .pending: .pending
            case .completed: .completed
            case .failed: .failed
            }
            check(
                status == m.status && p.failureReason == m.failureReason && p.completion?.transaction.amount == m.credited
                    && Array(p.userID.utf8) == m.user && Array(p.paymentID.utf8) == m.payment && Array(p.packageID.utf8) == m.package
                    && Int128(p.tokens) + Int128(p.bonusTokens) == m.total && p.createdAt == m.createdAt,
                "purchase \(p), model \(m)")
        }

        // Commitments and predictions.
        check(ledger.commitments.count == model.stakes.count, "\(ledger.commitments.count) commitments, model \(model.stakes.count)")
        check(ledger.nextCommitmentID == UInt64(model.stakes.count + 1), "next commitment id \(ledger.nextCommitmentID)")
        for (id, c) in ledger.commitments {
            guard id >= 1, id <= UInt64(model.stakes.count) else {
                problems.append("commitment \(id) is not in the model")
                continue
            }
            let m = model.stakes[Int(id) - 1]
            let status: MixedModel.StakeStatus = switch c.status {
            case .active: .active
            case .won: .won
            case .lost: .lost
            case .refunded: .refunded
            }
            check(
                status == m.status && Int128(c.potentialWinning) == m.potential && c.stake == m.stake && c.oddsMicros == m.odds
                    && (c.position == .yes) == m.yes && Array(c.userID.utf8) == m.user && Array(c.predictionID.utf8) == m.prediction,
                "commitment \(c), model \(m)")
        }
        check(ledger.predictions.count == model.questions.count, "\(ledger.predictions.count) predictions, model \(model.questions.count)")
        for (id, p) in ledger.predictions {
            guard let m = model.questions[Array(id.value.utf8)] else {
                problems.append("prediction \(id) is not in the model")
                continue
            }
            let status: Prediction.Status = m.summary.map { $0.voided ? .voided : .resolved } ?? .open
            check(p.status == status && p.closesAt == m.closesAt && p.commitmentIDs == m.commitments, "prediction \(p), model \(m)")
            switch (p.summary, m.summary) {
            case (nil, nil): break
            case (let summary?, let expected?): checkSummary(summary, expected, &problems)
            default: problems.append("prediction \(id) summary \(String(describing: p.summary)), model \(String(describing: m.summary))")
            }
        }
        return problems
    }

    // MARK: Names

    /// Edge cases a command meets (seen from the model before it is applied), for the coverage
    /// report.
    static func situations(_ command: Command, _ model: MixedModel, _ now: Timestamp) -> [String] {
        var tags: [String] = []
        let today = MixedModel.day(of: now)
        let key = MixedModel.idempotencyKey(of: command)
        if !key.isEmpty, let record = model.keys[key] {
            if record.expiresAt == now { tags.append("keyed command exactly at its key's expiry") }
            if record.expiresAt == now + 1 { tags.append("keyed command 1 µs before its key's expiry") }
        }
        func admittedInShadow(_ user: String, _ tokens: Int64) -> Bool {
            let u = model.usageUser(MixedModel.bytes(user), today: today)
            let standing = model.standing(u)
            return standing.shadow && u.used + u.reserved + Int128(tokens) > standing.limit
        }
        switch command {
        case .credit(let c):
            if Int128(c.amount) == MixedModel.max64 - model.issued { tags.append("credit of exactly what the mint may still issue") }
        case .spend(let s):
            let available = model.accounts[MixedModel.bytes(s.userID)]?.available
            if available == nil { tags.append("spend by a user never credited") }
            if available == Int128(s.amount) { tags.append("spend of the exact balance") }
        case .consume(let c):
            if admittedInShadow(c.userID, c.tokens) { tags.append("consume over the limit in shadow mode") }
            let u = model.usageUser(MixedModel.bytes(c.userID), today: today)
            if u.used + u.reserved + Int128(c.tokens) == model.standing(u).limit { tags.append("consume of exactly what is left today") }
        case .reserve(let r):
            if admittedInShadow(r.userID, r.tokens) { tags.append("reserve over the limit in shadow mode") }
        case .settle(let s):
            if let hold = model.holds[s.reservationID] {
                if hold.day < today { tags.append("settle of an earlier day's reservation") }
                if s.tokens > hold.tokens { tags.append("settle over the estimate") }
                if s.tokens == 0 { tags.append("settle of 0 tokens") }
                if hold.expiresAt <= now { tags.append("settle past the TTL, before the tick") }
            }
        case .release(let r):
            if let hold = model.holds[r.reservationID], hold.day < today { tags.append("release of an earlier day's reservation") }
        case .expireReservations:
            if model.holds.values.contains(where: { $0.expiresAt == now }) { tags.append("reservation tick exactly at an expiry") }
        case .expirePurchases:
            if model.buys.contains(where: { $0.status == .pending && $0.createdAt + model.purchaseTimeout == now }) {
                tags.append("purchase tick exactly at a timeout")
            }
        case .settlePurchase(let s):
            if case .completed = s.result, let index = model.buyByPayment[MixedModel.bytes(s.paymentID)],
                model.buys[index].status == .failed, model.buys[index].failureReason == "EXPIRED"
            {
                tags.append("completion of a purchase the tick expired")
            }
        case .commit(let c):
            let available = model.accounts[MixedModel.bytes(c.userID)]?.available
            if available == nil { tags.append("commit by a user never credited") }
            if available == Int128(c.stake) { tags.append("commit of the whole available balance") }
            if let closesAt = model.questions[MixedModel.bytes(c.predictionID)]?.closesAt {
                if closesAt == now { tags.append("commit exactly at the close time") }
                if closesAt == now + 1 { tags.append("commit 1 µs before the close time") }
            }
            if Int128(c.stake) * Int128(c.oddsMicros) % 1_000_000 != 0, c.oddsMicros >= 1_000_000 {
                tags.append("commit whose potential winning rounds down")
            }
        case .settlePrediction(let s):
            if let question = model.questions[MixedModel.bytes(s.predictionID)], question.summary == nil {
                let stakes = question.commitments.map { model.stakes[Int($0) - 1] }
                if stakes.contains(where: { $0.status == .refunded }) { tags.append("settlement with a cancelled commitment") }
                if stakes.isEmpty { tags.append("settlement of a prediction without commitments") }
            }
        default:
            break
        }
        return tags
    }

    static func name(of command: Command) -> String {
        switch command {
        case .credit(let c): "credit(\(c.kind.map { "\($0)" } ?? "no kind"))"
        case .spend: "spend"
        case .consume: "consume"
        case .reserve: "reserve"
        case .settle: "settle"
        case .release: "release"
        case .changeUsage: "changeUsage"
        case .expireReservations: "expireReservations"
        case .savePackage: "savePackage"
        case .deactivatePackage: "deactivatePackage"
        case .startPurchase: "startPurchase"
        case .settlePurchase(let s):
            if case .completed = s.result { "settlePurchase(complete)" } else { "settlePurchase(fail)" }
        case .expirePurchases: "expirePurchases"
        case .commit: "commit"
        case .cancelCommitment: "cancelCommitment"
        case .settlePrediction(let s):
            if case .void = s.result { "settlePrediction(void)" } else { "settlePrediction(resolve)" }
        case .closePrediction: "closePrediction"
        default: "unexpected \(command)"
        }
    }

    /// The command, with long strings shortened, for failure messages.
    static func describe(_ command: Command) -> String {
        let text = "\(command)"
        return text.count > 400 ? String(text.prefix(400)) + "…" : text
    }
}
