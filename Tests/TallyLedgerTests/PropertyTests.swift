import Foundation
import Testing
import TallyLedger

/// Random command sequences: after every step the Ledger keeps its invariants and agrees with
/// the naive ReferenceModel. A failure names the seed and step; rerun that seed to reproduce.
@Suite struct PropertyTests {
    /// Commands per seed. invariantViolations() walks the whole history, so checking it after
    /// every step costs O(steps²) (about 2.5 ms a check at 600 transactions in a debug build):
    /// 1,000 keeps the suite quick. Set TALLY_PROPERTY_STEPS (e.g. 5000) for a longer soak.
    static let steps = ProcessInfo.processInfo.environment["TALLY_PROPERTY_STEPS"].flatMap(Int.init) ?? 1_000

    /// How often each kind of answer came up in a run, so a generator that stopped exercising
    /// a path is noticed.
    struct Coverage {
        var answers: [String: Int] = [:]
        var replays = 0
        var purges = 0
    }

    /// Seeds 1...12 meet each (TTL, huge-amount schedule) combination of CommandGenerator once.
    @Test("ledger keeps its invariants and agrees with the reference model", arguments: UInt64(1)...12)
    func agreesWithModel(seed: UInt64) {
        var generator = CommandGenerator(seed: seed, steps: Self.steps)
        var model = ReferenceModel(ttl: generator.ttl)
        var ledger = Ledger(config: LedgerConfig(idempotencyTTL: generator.ttl))
        /// The outcome the ledger gave when each live key was first recorded.
        var firstOutcomes: [ReferenceModel.Bytes: Outcome] = [:]
        var coverage = Coverage()

        for i in 0..<Self.steps {
            let (command, now) = generator.next(model: model)
            let expected = model.apply(command, at: now)
            let applied = ledger.apply(command, at: now)
            var problems = Self.compare(ledger, model, applied, expected, command, now, firstOutcomes)
            problems += ledger.invariantViolations().map { "invariant: \($0)" }
            if !problems.isEmpty {
                Issue.record(
                    """
                    seed \(seed) step \(i): \(command) at \(now)
                    ledger: \(applied.outcome), replayed \(applied.replayed), changed \(applied.changedState)
                    model: \(expected.answer), replayed \(expected.replayed), changed \(expected.changed)
                    \(problems.joined(separator: "\n"))
                    """)
                return
            }
            // Remember the ledger's answer whenever the model recorded the key afresh.
            let key = Array(command.idempotencyKey.utf8)
            if !key.isEmpty, !expected.replayed, ReferenceModel.invalidReason(command) == nil,
                expected.answer != .refused(.alreadyExists, "IDEMPOTENCY_KEY_CONFLICT")
            {
                firstOutcomes[key] = applied.outcome
            }
            coverage.answers["\(expected.answer)", default: 0] += 1
            if expected.replayed { coverage.replays += 1 }
            if expected.purged { coverage.purges += 1 }
        }

        // The run exercised the interesting paths (otherwise the comparison proves little).
        let c = coverage.answers
        let n = Self.steps
        #expect(c["accepted", default: 0] > n / 4, "seed \(seed): \(c)")
        #expect(c["refused failedPrecondition INSUFFICIENT_TOKENS", default: 0] > n / 50, "seed \(seed): \(c)")
        #expect(c["refused alreadyExists IDEMPOTENCY_KEY_CONFLICT", default: 0] > n / 50, "seed \(seed): \(c)")
        #expect(c.keys.filter { $0.hasPrefix("refused invalidArgument") }.count >= 4, "seed \(seed): \(c)")
        #expect(coverage.replays > n / 50, "seed \(seed): \(coverage.replays) replays")
        #expect(coverage.purges > n / 50, "seed \(seed): \(coverage.purges) purges")
        if generator.hugeAmountsFrom < Self.steps {
            #expect(c["refused outOfRange AMOUNT_OVERFLOW", default: 0] > 0, "seed \(seed): \(c)")
        }
    }

    static func amount(of command: Command) -> Int64 {
        switch command {
        case .credit(let c): c.amount
        case .spend(let s): s.amount
        default: preconditionFailure("credits and spends only")
        }
    }

    static func compare(
        _ ledger: Ledger, _ model: ReferenceModel, _ applied: Applied, _ expected: ReferenceModel.Result,
        _ command: Command, _ now: Timestamp, _ firstOutcomes: [ReferenceModel.Bytes: Outcome]
    ) -> [String] {
        var problems: [String] = []
        func check(_ ok: Bool, _ message: @autoclosure () -> String) { if !ok { problems.append(message()) } }

        // The answer to this command.
        switch (applied.outcome, expected.answer) {
        case (.accepted, .accepted): break
        case (.refused(let r), .refused(let code, let reason)):
            check(r.code == code && r.reason == reason, "refusal \(r.code) \(r.reason), model says \(code) \(reason)")
            if let (available, requested) = expected.insufficient {
                check(
                    r.details == ["available": "\(available)", "requested": "\(requested)", "shortfall": "\(requested - available)"],
                    "insufficient details \(r.details), model: available \(available) requested \(requested)")
            }
            if let account = expected.overflowing {
                check(r.details == ["account": account, "amount": "\(Self.amount(of: command))"], "overflow details \(r.details), model: \(account)")
            }
        default: problems.append("outcome differs")
        }
        check(applied.replayed == expected.replayed, "replayed \(applied.replayed), model \(expected.replayed)")
        check(applied.changedState == expected.changed, "changedState \(applied.changedState), model \(expected.changed)")
        if expected.replayed {
            let first = firstOutcomes[Array(command.idempotencyKey.utf8)]
            check(applied.outcome == first, "replay differs from the first answer \(String(describing: first))")
        } else if let receipt = applied.receipt {
            let user: String, amount: Int64, type: TransactionType?, reference: String, memo: String
            switch command {
            case .credit(let c):
                (user, amount, reference, memo) = (c.userID, c.amount, c.reference, c.memo)
                switch c.kind {
                case .purchase: type = .purchase
                case .grant: type = .grant
                case .refund: type = .refund
                case .adjustment: type = .adjustment
                case nil: type = nil
                }
            case .spend(let s): (user, amount, type, reference, memo) = (s.userID, s.amount, .spend, s.reference, s.memo)
            default: preconditionFailure("credits and spends only")
            }
            let tx = receipt.transaction
            check(tx.id == UInt64(model.transactionCount), "transaction id \(tx.id), model count \(model.transactionCount)")
            check(
                sameBytes(tx.userID, user) && tx.amount == amount && tx.type == type && sameBytes(tx.reference, reference)
                    && sameBytes(tx.memo, memo) && sameBytes(tx.idempotencyKey, command.idempotencyKey) && tx.createdAt == now,
                "transaction \(tx)")
            check(tx.balanceAfter == model.account(user)?.available, "balance after \(tx.balanceAfter), model \(String(describing: model.account(user)))")
            check(ledger.transactions[tx.id] == tx, "history does not hold the receipt's transaction")
            check(receipt.balance == ledger.balance(of: user), "receipt balance \(receipt.balance) != \(ledger.balance(of: user))")
            check(ledger.balance(of: user).account.updatedAt == now, "updatedAt not now")
        }
        if applied.changedState { check(ledger.lastTimestamp == now, "lastTimestamp \(ledger.lastTimestamp) after a change at \(now)") }

        // The whole state.
        check(ledger.accounts.count == model.accounts.count, "\(ledger.accounts.count) accounts, model \(model.accounts.count)")
        let users = model.accounts.keys.map { String(decoding: $0, as: UTF8.self) } + CommandGenerator.users
        for user in users {
            let a = ledger.balance(of: user).account, m = model.account(user) ?? .init()
            check(
                a.available == m.available && a.totalEarned == m.earned && a.totalSpent == m.spent && a.committed == 0,
                "\(user): ledger \(a.available)/\(a.totalEarned)/\(a.totalSpent), model \(m.available)/\(m.earned)/\(m.spent)")
        }
        check(ledger.transactions.count == model.transactionCount, "\(ledger.transactions.count) transactions, model \(model.transactionCount)")
        check(ledger.nextTransactionID == UInt64(model.transactionCount) + 1, "next id \(ledger.nextTransactionID)")
        check(Int128(ledger.mint) == -model.issued, "mint \(ledger.mint), model issued \(model.issued)")
        check(Int128(ledger.burn) == model.burned, "burn \(ledger.burn), model burned \(model.burned)")
        let ledgerKeys = Set(ledger.idempotency.records.keys.map { Array($0.value.utf8) }), modelKeys = Set(model.keys.keys)
        check(ledgerKeys == modelKeys, "idempotency keys \(ledgerKeys.map { String(decoding: $0, as: UTF8.self) }.sorted()), model \(modelKeys.map { String(decoding: $0, as: UTF8.self) }.sorted())")
        for record in ledger.idempotency.records.values {
            guard let entry = model.keys[Array(record.command.idempotencyKey.utf8)] else { continue }
            check(ReferenceModel.sameRequest(record.command, entry.request) && record.expiresAt == entry.expiresAt, "record \(record)")
        }
        return problems
    }
}
