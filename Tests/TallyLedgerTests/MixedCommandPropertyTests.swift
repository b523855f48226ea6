import Foundation
import Testing
import TallyLedger

/// Random mixes of every Ledger command: after every step the Ledger keeps its invariants and
/// agrees with MixedModel, an independent re-statement of the documented rules, on the answer
/// (accepted or refused, with which code and reason; replayed; state changed), on the audit
/// entry the attempt made (if it came with an origin) and on the whole state: balances, system
/// accounts, idempotency keys, daily usage, limits, memberships and the tier each user is on,
/// the price table, packages, purchases, commitments, predictions and the audit log (every 100
/// steps through Audit/List filters). A failure names the seed and step; rerun that seed to
/// reproduce (`swift test --filter MixedCommand`).
///
/// For a soak: TALLY_MIX_STEPS sets the steps per seed (2,000; the invariant check walks the
/// whole history and audit log, so a step costs more as the run goes on), TALLY_MIX_SEEDS other
/// seeds ("1...40" or "3,7,9"), TALLY_MIX_INVARIANTS_EVERY how often the invariants are checked
/// after step 250 (every 5th step; 1: every step), and TALLY_MIX_COVERAGE=1 prints what each
/// seed exercised.
@Suite struct MixedCommandPropertyTests {
    static let seeds: [UInt64] = {
        guard let text = ProcessInfo.processInfo.environment["TALLY_MIX_SEEDS"] else { return [11, 12, 13, 14, 15, 16] }
        let bounds = text.split(separator: ".", omittingEmptySubsequences: true).compactMap { UInt64($0) }
        if text.contains("..."), bounds.count == 2, bounds[0] <= bounds[1] { return Array(bounds[0]...bounds[1]) }
        return text.split(separator: ",").compactMap { UInt64($0.trimmingCharacters(in: .whitespaces)) }
    }()
    static let steps = ProcessInfo.processInfo.environment["TALLY_MIX_STEPS"].flatMap(Int.init) ?? 2_000
    static let printCoverage = ProcessInfo.processInfo.environment["TALLY_MIX_COVERAGE"] != nil
    /// The invariant check walks the whole history and the audit log (which grows with about 7
    /// of every 10 steps), so after the first 250 steps it runs every few steps, and at the end.
    static let invariantsEvery = max(1, ProcessInfo.processInfo.environment["TALLY_MIX_INVARIANTS_EVERY"].flatMap(Int.init) ?? 5)
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
            let (command, now, origin) = generator.next(model: model)
            for tag in Self.situations(command, model, now) { coverage["(\(tag))", default: 0] += 1 }
            let (before, nextAuditID) = (ledger, ledger.nextAuditID)
            let expected = model.apply(command, at: now, origin: origin)
            let applied = ledger.apply(command, at: now, origin: origin)
            recent.append("  step \(step) at \(now)\(origin == nil ? "" : " audited"): \(Self.describe(command))")
            if recent.count > 8 { recent.removeFirst() }

            var problems = Self.compareAnswer(ledger, model, command, now, applied, expected, firstOutcomes)
            problems += Self.compareAudit(ledger, model, origin, nextAuditID, applied.outcome)
            problems += Self.compareState(ledger, model, now)
            if Self.changesNothingButTheAuditLog(command, expected) { problems += Self.unchangedButTheAuditLog(before, ledger, origin) }
            if step % 100 == 99 || step == Self.steps - 1 {
                problems += Self.compareAuditFilters(ledger, model, step)
                coverage["(audit log listed and filtered)", default: 0] += 1
            }
            if step < 250 || step % Self.invariantsEvery == Self.invariantsEvery - 1 || step == Self.steps - 1 {
                // Since the last check: a broken invariant is found at most a few steps late.
                problems += ledger.invariantViolations().map { "invariant: \($0)" }
            }
            if !problems.isEmpty {
                Issue.record(
                    """
                    seed \(seed) step \(step): \(Self.describe(command)) at \(now)\(origin.map { " origin \($0)" } ?? "")
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
            if case .refusedAttempt = command, origin != nil { coverage["(refused attempt audited)", default: 0] += 1 }
            if origin != nil {
                let kind = expected.replayed ? "replay" : expected.answer.isRefusal ? "refusal" : "acceptance"
                coverage["(audited \(kind))", default: 0] += 1
            } else {
                coverage["(not audited)", default: 0] += 1
            }
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
            // Memberships and priced actions (§4.4).
            "setMembership: accepted", "setMembership(end): accepted", "setMembership: refused failedPrecondition TIER_NOT_FOUND",
            "setMembership: refused invalidArgument EXPIRY_IN_PAST", "changeUsage(userTier): accepted",
            "changeUsage(userTier): refused failedPrecondition TIER_NOT_FOUND", "setActionPrice(set): accepted",
            "setActionPrice(remove): accepted", "setActionPrice(set): refused failedPrecondition TIER_NOT_FOUND",
            "setActionPrice(set): refused invalidArgument PRICE_NOT_POSITIVE", "spendAction: accepted", "spendAction: replayed (key)",
            "spendAction: refused failedPrecondition INSUFFICIENT_TOKENS", "spendAction: refused notFound ACTION_NOT_FOUND",
            "spendAction: refused notFound PRICE_NOT_FOUND", "(spend by action at the default tier's price)",
            "(price removal takes the action away)", "(usage on the default tier after the membership expired)",
            "(spend by action after the membership expired)", "(a call needing the tier exactly at the membership's expiry)",
            "(spend by action retried after its price or tier changed)",
            // The audit log, refused attempts and reconciliation (§4.5).
            "(refused attempt audited)", "reconcile: accepted", "reconcile(repair): accepted",
            "(audited acceptance)", "(audited refusal)", "(audited replay)", "(not audited)", "(audit log listed and filtered)",
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
        func text(_ bytes: MixedModel.Bytes) -> String { String(decoding: bytes, as: UTF8.self) }
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
                // The tier and limit are the user's at this command's time (a settle's too).
                let u = model.usageUser(user, today: today)
                let standing = model.standing(u, of: user, at: now)
                check(
                    Array(receipt.status.userID.utf8) == user && Int128(receipt.status.used) == u.used
                        && Int128(receipt.status.reserved) == u.reserved && Array(receipt.status.tier.value.utf8) == standing.tier
                        && Int128(receipt.status.limit) == standing.limit,
                    "usage receipt \(receipt.status), model used \(u.used) reserved \(u.reserved) tier \(text(standing.tier)) limit \(standing.limit)")
            }
        case (.usageLimits, .usageLimits), (.package, .package), (.prediction, .prediction):
            break
        case (.membership(let status), .membership):
            guard case .setMembership(let set) = command else {
                problems.append("a membership answer to \(command)")
                break
            }
            let user = MixedModel.bytes(set.userID)
            let member = model.memberships[user]
            check(
                Array(status.userID.utf8) == user && Array(status.tier.value.utf8) == model.tier(of: user, at: now)
                    && status.active == model.membershipActive(user, at: now)
                    && Array(status.defaultTier.value.utf8) == model.defaultTier
                    && status.membership.map { Self.member($0) } == member,
                "membership \(status), model tier \(text(model.tier(of: user, at: now))) membership \(String(describing: member))")
        case (.actionPrice(let price), .actionPrice):
            guard case .setActionPrice(let set) = command else {
                problems.append("an action price answer to \(command)")
                break
            }
            // The action's prices now; none when its last price went.
            let costs = model.prices[MixedModel.bytes(set.action)] ?? [:]
            check(
                Array(price.action.value.utf8) == MixedModel.bytes(set.action) && Self.costs(price) == costs,
                "action price \(price), model \(costs.map { (text($0.key), $0.value) })")
        case (.reconciled(let report), .reconciled):
            // The ledger is never damaged: nothing to report, nothing to repair.
            check(
                report.clean && report.mismatches.isEmpty && report.repairs.isEmpty && report.unrepairable.isEmpty
                    && report.accountsChecked == model.accounts.count && report.transactionsChecked == Int(model.transactionCount),
                "reconciliation \(report), model \(model.accounts.count) accounts \(model.transactionCount) transactions")
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
            if case .refusedAttempt(let attempt) = command {
                check(refusal == attempt.refusal, "a refused attempt answers \(refusal), not its own refusal \(attempt.refusal)")
            }
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
        guard let charge = expected.transaction else {
            problems.append("the model expected no transaction, got \(receipt.transaction)")
            return
        }
        let (user, tx) = (charge.user, receipt.transaction)
        if Array(tx.userID.utf8) != user || tx.type != charge.type || tx.amount != charge.amount || tx.createdAt != now
            || Array(tx.action.utf8) != charge.action || Array(tx.tier.utf8) != charge.tier
        {
            let text = { (b: MixedModel.Bytes) in String(decoding: b, as: UTF8.self) }
            problems.append("transaction \(tx), model \(text(user)) \(charge.type) \(charge.amount) action '\(text(charge.action))' tier '\(text(charge.tier))'")
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

    // MARK: The audit log

    /// With an origin: exactly one new entry, the next id, at this time, with this origin, the
    /// user the attempt concerned, the answer's code, reason and message, replayed as answered,
    /// and the transactions it recorded (a settlement's every one). Without: none.
    static func compareAudit(
        _ ledger: Ledger, _ model: MixedModel, _ origin: AuditOrigin?, _ nextAuditID: UInt64, _ outcome: Outcome
    ) -> [String] {
        var problems: [String] = []
        if origin == nil {
            if ledger.nextAuditID != nextAuditID { problems.append("an attempt without an origin was audited (next audit id \(ledger.nextAuditID))") }
        } else if ledger.nextAuditID != nextAuditID + 1 {
            problems.append("next audit id \(ledger.nextAuditID) after an audited attempt, expected \(nextAuditID + 1)")
        } else if let entry = ledger.auditLog[nextAuditID], let m = model.auditLog.last, m.id == nextAuditID {
            problems += differences(entry, m)
            // The message: the refusal's, or what the accepted attempt did.
            if case .refused(let refusal) = outcome, entry.message != refusal.message {
                problems.append("audit entry \(entry.id) says '\(entry.message)', the refusal '\(refusal.message)'")
            }
            if entry.code == 0, entry.message.isEmpty { problems.append("audit entry \(entry.id) of an accepted attempt says nothing") }
        } else {
            problems.append("audit entry \(nextAuditID) missing (\(String(describing: ledger.auditLog[nextAuditID]))), model \(String(describing: model.auditLog.last))")
        }
        if ledger.auditLog.count != model.auditLog.count || ledger.firstAuditID != 1 {
            problems.append("\(ledger.auditLog.count) audit entries from \(ledger.firstAuditID), model \(model.auditLog.count)")
        }
        return problems
    }

    static func differences(_ entry: AuditEntry, _ m: MixedModel.AuditRecord) -> [String] {
        let text = String(decoding: m.user, as: UTF8.self)
        var problems: [String] = []
        if entry.id != m.id || entry.at != m.at || entry.origin != m.origin || Array(entry.userID.utf8) != m.user || entry.code != m.code
            || entry.reason != m.reason || entry.replayed != m.replayed || entry.accepted != (m.code == 0)
        {
            problems.append("audit entry \(entry), model id \(m.id) at \(m.at) origin \(m.origin) user '\(text)' code \(m.code) reason '\(m.reason)' replayed \(m.replayed)")
        }
        if entry.transactionIDs != m.transactions {
            problems.append("audit entry \(entry.id) lists transactions \(entry.transactionIDs); the attempt recorded \(m.transactions)")
        }
        return problems
    }

    /// Audit/List against the model: the whole log, and filters by user, status, reason, time
    /// and page.
    static func compareAuditFilters(_ ledger: Ledger, _ model: MixedModel, _ step: Int) -> [String] {
        let round = step / 100
        let users = MixedCommandGenerator.users + ["", "nobody", "tab\tuser"]
        let user = users[round % users.count]
        let reasons = ["INSUFFICIENT_TOKENS", "TIER_NOT_FOUND", "ROLE_FORBIDS_METHOD", "IDEMPOTENCY_KEY_CONFLICT", "PRICE_NOT_FOUND", "NOT_A_REASON"]
        let reason = reasons[round % reasons.count]
        let log = model.auditLog
        let middle = log.isEmpty ? 0 : log[log.count / 2].at
        let late = log.isEmpty ? 0 : log[log.count * 4 / 5].at
        let all = Int.max
        let u = MixedModel.bytes(user)
        let cases: [(AuditFilter, UInt64, Int, [MixedModel.AuditRecord])] = [
            (AuditFilter(), 0, all, model.auditEntries(limit: all)),
            (AuditFilter(), 0, 10, model.auditEntries(limit: 10)),
            (AuditFilter(userID: user), 0, 30, model.auditEntries(user: u, limit: 30)),
            (AuditFilter(status: .accepted), 0, 40, model.auditEntries(accepted: true, limit: 40)),
            (AuditFilter(status: .refused), 0, 40, model.auditEntries(accepted: false, limit: 40)),
            (AuditFilter(userID: user, status: .refused), 0, all, model.auditEntries(user: u, accepted: false, limit: all)),
            (AuditFilter(reason: reason), 0, all, model.auditEntries(reason: reason, limit: all)),
            (AuditFilter(status: .accepted, reason: reason), 0, all, model.auditEntries(accepted: true, reason: reason, limit: all)),
            (AuditFilter(since: middle), 0, all, model.auditEntries(since: middle, limit: all)),
            (AuditFilter(since: middle, until: late), 0, all, model.auditEntries(since: middle, until: late, limit: all)),
            (AuditFilter(status: .refused, until: middle), 0, 25, model.auditEntries(accepted: false, until: middle, limit: 25)),
            (AuditFilter(), UInt64(log.count / 3 + 1), 7, model.auditEntries(beforeID: UInt64(log.count / 3 + 1), limit: 7)),
            (AuditFilter(userID: user, status: .accepted), UInt64(log.count / 2 + 1), 15,
                model.auditEntries(user: u, accepted: true, beforeID: UInt64(log.count / 2 + 1), limit: 15)),
        ]
        var problems: [String] = []
        for (filter, beforeID, limit, expected) in cases {
            let found = ledger.auditEntries(filter, beforeID: beforeID, limit: limit)
            if found.map(\.id) != expected.map(\.id) {
                problems.append("Audit/List \(filter) before \(beforeID) limit \(limit): ids \(found.map(\.id).prefix(40)), model \(expected.map(\.id).prefix(40))")
            } else {
                for (entry, m) in zip(found, expected) { problems += differences(entry, m) }
            }
        }
        return problems
    }

    /// A refused attempt, a reconciliation of a healthy ledger, and a refusal that neither
    /// remembers a key nor meets expired ones change nothing but the audit log.
    static func changesNothingButTheAuditLog(_ command: Command, _ expected: MixedModel.Expected) -> Bool {
        switch command {
        case .refusedAttempt, .reconcile: return !expected.purged
        default: return expected.answer.isRefusal && !expected.purged && MixedModel.idempotencyKey(of: command).isEmpty
        }
    }

    /// Every part of the ledger but the audit log (and with an origin the last timestamp) as it was.
    static func unchangedButTheAuditLog(_ before: Ledger, _ after: Ledger, _ origin: AuditOrigin?) -> [String] {
        let parts: [(String, Bool)] = [
            ("accounts", before.accounts == after.accounts), ("transactions", before.transactions == after.transactions),
            ("idempotency", before.idempotency == after.idempotency), ("mint", before.mint == after.mint),
            ("burn", before.burn == after.burn), ("house", before.house == after.house),
            ("next transaction id", before.nextTransactionID == after.nextTransactionID), ("usage", before.usage == after.usage),
            ("packages", before.packages == after.packages), ("purchases", before.purchases == after.purchases),
            ("next purchase id", before.nextPurchaseID == after.nextPurchaseID), ("commitments", before.commitments == after.commitments),
            ("predictions", before.predictions == after.predictions), ("next commitment id", before.nextCommitmentID == after.nextCommitmentID),
            ("memberships", before.memberships == after.memberships), ("prices", before.actionPrices == after.actionPrices),
            ("last timestamp", origin != nil || before.lastTimestamp == after.lastTimestamp),
        ]
        return parts.filter { !$0.1 }.map { "\($0.0) changed, though only the audit log may" }
    }

    static func member(_ m: Membership) -> MixedModel.Member {
        MixedModel.Member(tier: Array(m.tier.value.utf8), expiresAt: m.expiresAt, updatedAt: m.updatedAt)
    }

    static func costs(_ price: ActionPrice) -> [MixedModel.Bytes: Int64] {
        Dictionary(uniqueKeysWithValues: price.costs.map { (Array($0.key.value.utf8), $0.value) })
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
            // The tier (and so the limit) is the membership's at `now`, or the default tier's.
            let status = ledger.usageStatus(of: user, on: today, at: now)
            let u = model.usageUser(MixedModel.bytes(user), today: MixedModel.day(of: now))
            let standing = model.standing(u, of: MixedModel.bytes(user), at: now)
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

        // Memberships as set, the tier each user is on now, the price table.
        check(ledger.memberships.count == model.memberships.count, "\(ledger.memberships.count) memberships, model \(model.memberships.count)")
        for (user, m) in ledger.memberships {
            let expected = model.memberships[Array(user.value.utf8)]
            check(member(m) == expected, "membership of \(user): \(m), model \(String(describing: expected))")
        }
        for user in MixedCommandGenerator.users {
            let (bytes, status) = (MixedModel.bytes(user), ledger.membership(of: user, at: now))
            let tier = model.tier(of: bytes, at: now)
            check(
                Array(ledger.tier(of: user, at: now).value.utf8) == tier && Array(status.tier.value.utf8) == tier
                    && status.active == model.membershipActive(bytes, at: now) && Array(status.defaultTier.value.utf8) == model.defaultTier
                    && status.membership.map(member) == model.memberships[bytes],
                "membership of \(user) at \(now): \(status), model tier \(text(tier)) active \(model.membershipActive(bytes, at: now))")
        }
        let actions = model.prices.keys.sorted { $0.lexicographicallyPrecedes($1) }
        let list = ledger.actionPriceList()
        check(
            list.map { Array($0.action.value.utf8) } == actions && list.allSatisfy { costs($0) == model.prices[Array($0.action.value.utf8)] }
                && ledger.actionPrices.count == model.prices.count,
            "prices \(list), model \(model.prices.map { (text($0.key), $0.value.map { (text($0.key), $0.value) }) })")

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
            let standing = model.standing(u, of: MixedModel.bytes(user), at: now)
            return standing.shadow && u.used + u.reserved + Int128(tokens) > standing.limit
        }
        /// Where the user's membership stands: what a call needing the tier meets.
        func membership(_ user: String, _ call: String) {
            let bytes = MixedModel.bytes(user)
            guard let m = model.memberships[bytes] else { return }
            if let expiresAt = m.expiresAt {
                if expiresAt == now {
                    tags.append("\(call) exactly at the membership's expiry")
                    tags.append("a call needing the tier exactly at the membership's expiry")
                }
                if expiresAt == now + 1 { tags.append("\(call) 1 µs before the membership's expiry") }
                if expiresAt <= now, m.tier != model.defaultTier { tags.append("\(call) after the membership expired") }
            }
            if m.expiresAt.map({ now < $0 }) ?? true, model.tiers[m.tier] == nil { tags.append("\(call) while the membership's tier has no limit") }
            if model.membershipActive(bytes, at: now), m.tier != model.defaultTier { tags.append("\(call) on a membership's tier") }
        }
        /// Usage by a user whom an expired membership left on the default tier.
        func usage(_ user: String) {
            let bytes = MixedModel.bytes(user)
            if let m = model.memberships[bytes], let expiresAt = m.expiresAt, expiresAt <= now, m.tier != model.defaultTier {
                tags.append("usage on the default tier after the membership expired")
            }
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
            if u.used + u.reserved + Int128(c.tokens) == model.standing(u, of: MixedModel.bytes(c.userID), at: now).limit {
                tags.append("consume of exactly what is left today")
            }
            membership(c.userID, "consume")
            usage(c.userID)
        case .reserve(let r):
            if admittedInShadow(r.userID, r.tokens) { tags.append("reserve over the limit in shadow mode") }
            membership(r.userID, "reserve")
            usage(r.userID)
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
        case .setMembership(let set):
            if set.tier != nil, set.expiresAt == now { tags.append("membership expiring exactly now") }
            if set.tier == nil, model.memberships[MixedModel.bytes(set.userID)] == nil { tags.append("ending a membership nobody set") }
        case .setActionPrice(let set):
            let costs = model.prices[MixedModel.bytes(set.action)]
            if set.cost == nil, let costs, costs.count == 1, costs[MixedModel.bytes(set.tier)] != nil {
                tags.append("price removal takes the action away")
            }
            if set.cost == nil, costs?[MixedModel.bytes(set.tier)] == nil { tags.append("removal of a price that is not set") }
        case .spendAction(let spend):
            let (user, action) = (MixedModel.bytes(spend.userID), MixedModel.bytes(spend.action))
            if let record = model.keys[key], MixedModel.sameRequest(record.request, command) {
                // A retry answers the first charge, whatever the price or tier now.
                if let first = record.transaction {
                    switch model.price(of: action, for: user, at: now) {
                    case .success(let (cost, tier)) where cost == first.amount && tier == first.tier: break
                    default: tags.append("spend by action retried after its price or tier changed")
                    }
                }
            } else {
                if case .success(let (cost, tier)) = model.price(of: action, for: user, at: now) {
                    if tier != model.tier(of: user, at: now) { tags.append("spend by action at the default tier's price") }
                    if model.accounts[user]?.available == Int128(cost) { tags.append("spend by action of the exact balance") }
                }
                membership(spend.userID, "spend by action")
            }
        case .changeUsage(.tierLimit(let tier, nil)):
            let tier = MixedModel.bytes(tier)
            if model.tiers[tier] != nil, tier != model.defaultTier,
                model.memberships.values.contains(where: { $0.tier == tier && ($0.expiresAt.map { now < $0 } ?? true) })
            {
                tags.append("a membership's tier loses its limit")
            }
        case .reconcile(let repair):
            if model.transactionCount > 0 { tags.append(repair ? "repair of a ledger with history" : "reconciliation of a ledger with history") }
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
        case .changeUsage(.userTier): "changeUsage(userTier)"
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
        case .setMembership(let s): s.tier == nil ? "setMembership(end)" : "setMembership"
        case .setActionPrice(let s): s.cost == nil ? "setActionPrice(remove)" : "setActionPrice(set)"
        case .spendAction: "spendAction"
        case .refusedAttempt: "refusedAttempt"
        case .reconcile(let repair): repair ? "reconcile(repair)" : "reconcile"
        default: "unexpected \(command)"
        }
    }

    /// The command, with long strings shortened, for failure messages.
    static func describe(_ command: Command) -> String {
        let text = "\(command)"
        return text.count > 400 ? String(text.prefix(400)) + "…" : text
    }
}
