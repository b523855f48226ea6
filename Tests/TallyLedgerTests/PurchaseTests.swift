import Testing
import TallyLedger

/// Token packages and purchases in the pure Ledger: figures fixed at start, completion exactly
/// once (credit, history record and status together), failure, the timeout, and every refusal.
@Suite struct PurchaseTests {
    static let starter = SavePackage(
        id: "starter", name: "Starter", tokens: 1_000, bonusTokens: 100, priceCents: 999, externalPriceID: "price_123", sortOrder: 2)
    static let big = SavePackage(id: "big", name: "Big", tokens: 10_000, bonusTokens: 2_000, priceCents: 7_999, sortOrder: 1)

    func shop() -> Ledger {
        var ledger = Ledger()
        for package in [Self.starter, Self.big, SavePackage(id: "old", name: "Old", tokens: 5, priceCents: 1, active: false)] {
            _ = ledger.apply(.savePackage(package), at: t0)
        }
        return ledger
    }

    func purchase(_ applied: Applied) -> PurchaseReceipt? {
        guard case .purchase(let receipt) = applied.outcome else { return nil }
        return receipt
    }

    @Test func packagesAreListedInDisplayOrderAndKeepTheirCreationTime() {
        var ledger = shop()
        #expect(ledger.activePackages().map(\.id) == ["big", "starter"])
        var cheaper = Self.starter
        cheaper.priceCents = 499
        _ = ledger.apply(.savePackage(cheaper), at: t0 + second)
        let saved = ledger.packages["starter"]
        #expect(saved?.priceCents == 499 && saved?.createdAt == t0 && saved?.updatedAt == t0 + second)
        _ = ledger.apply(.deactivatePackage(id: "big"), at: t0 + 2 * second)
        #expect(ledger.activePackages().map(\.id) == ["starter"])
        #expect(ledger.apply(.deactivatePackage(id: "nope"), at: t0 + 3 * second).refusal?.reason == "PACKAGE_NOT_FOUND")
        expectInvariants(ledger)
    }

    @Test func completionCreditsOnceWithItsHistoryRecord() throws {
        var ledger = shop()
        let start = StartPurchase(userID: "alice", packageID: "starter", paymentID: "pi_1")
        let started = try #require(purchase(ledger.apply(.startPurchase(start), at: t0 + second)))
        #expect(started.purchase.status == .pending && started.purchase.tokens == 1_000 && started.purchase.bonusTokens == 100)
        #expect(started.purchase.priceCents == 999 && started.purchase.currency == "USD" && !started.alreadyDone)
        #expect(ledger.balance(of: "alice").account.available == 0, "nothing credited while pending")

        // The package changes after the start: the purchase keeps its figures.
        var pricier = Self.starter
        pricier.tokens = 1
        _ = ledger.apply(.savePackage(pricier), at: t0 + 2 * second)

        let complete = Command.settlePurchase(SettlePurchase(paymentID: "pi_1", result: .completed))
        let done = ledger.apply(complete, at: t0 + 3 * second)
        let completed = try #require(purchase(done))
        #expect(completed.purchase.status == .completed && completed.purchase.settledAt == t0 + 3 * second && !done.replayed)
        let tx = try #require(completed.purchase.completion?.transaction)
        #expect(tx.type == .purchase && tx.amount == 1_100 && tx.reference == "pi_1" && tx.balanceAfter == 1_100)
        #expect(ledger.transactions[tx.id] == tx && ledger.balance(of: "alice").account.available == 1_100)

        // Retries, however many: the same answer, nothing more credited.
        let before = ledger
        for retry in 1...3 {
            let again = ledger.apply(complete, at: t0 + Int64(3 + retry) * second)
            #expect(again.replayed && !again.changedState && purchase(again) == PurchaseReceipt(purchase: completed.purchase, alreadyDone: true))
        }
        #expect(ledger == before)
        // Starting it again answers the same (completed) purchase.
        let restarted = ledger.apply(.startPurchase(start), at: t0 + 9 * second)
        #expect(restarted.replayed && purchase(restarted)?.purchase.status == .completed)
        expectInvariants(ledger)
    }

    @Test func failureTimeoutAndTheirRefusals() throws {
        var ledger = Ledger(config: LedgerConfig(purchaseTimeout: 60 * second))
        _ = ledger.apply(.savePackage(Self.starter), at: t0)
        for (user, payment) in [("a", "p1"), ("b", "p2"), ("c", "p3")] {
            _ = ledger.apply(.startPurchase(StartPurchase(userID: user, packageID: "starter", paymentID: payment)), at: t0 + second)
        }
        let failed = ledger.apply(.settlePurchase(SettlePurchase(paymentID: "p1", result: .failed(reason: "card declined"))), at: t0 + 2 * second)
        #expect(purchase(failed)?.purchase.status == .failed && purchase(failed)?.purchase.failureReason == "card declined")
        let late = ledger.apply(.settlePurchase(SettlePurchase(paymentID: "p1", result: .completed)), at: t0 + 3 * second)
        #expect(late.refusal?.reason == "PURCHASE_ALREADY_SETTLED" && ledger.balance(of: "a").account.available == 0)

        // Not yet due, then due: the tick fails what stayed pending.
        #expect(ledger.apply(.expirePurchases, at: t0 + 60 * second).changedState == false)
        let tick = ledger.apply(.expirePurchases, at: t0 + 61 * second)
        guard case .expiredPurchases(let expired) = tick.outcome else { Issue.record("\(tick)"); return }
        #expect(expired.map(\.paymentID) == ["p2", "p3"] && expired.allSatisfy { $0.failureReason == Purchase.expiredReason })
        // A completion after the timeout still credits: the payment was captured.
        let rescued = ledger.apply(.settlePurchase(SettlePurchase(paymentID: "p2", result: .completed)), at: t0 + 70 * second)
        #expect(purchase(rescued)?.purchase.status == .completed && ledger.balance(of: "b").account.available == 1_100)
        // Failing a completed purchase is refused; failing an expired one again just answers it.
        #expect(ledger.apply(.settlePurchase(SettlePurchase(paymentID: "p2", result: .failed(reason: "x"))), at: t0 + 71 * second)
            .refusal?.reason == "PURCHASE_ALREADY_SETTLED")
        #expect(ledger.apply(.settlePurchase(SettlePurchase(paymentID: "p3", result: .failed(reason: "x"))), at: t0 + 72 * second).replayed)
        expectInvariants(ledger)
    }

    @Test func refusalsChangeNothing() {
        var ledger = shop()
        _ = ledger.apply(.startPurchase(StartPurchase(userID: "u", packageID: "big", paymentID: "pay")), at: t0 + second)
        let cases: [(Command, String)] = [
            (.startPurchase(StartPurchase(userID: "other", packageID: "big", paymentID: "pay")), "PAYMENT_ID_IN_USE"),
            (.startPurchase(StartPurchase(userID: "u", packageID: "starter", paymentID: "pay")), "PAYMENT_ID_IN_USE"),
            (.startPurchase(StartPurchase(userID: "u", packageID: "old", paymentID: "p-old")), "PACKAGE_INACTIVE"),
            (.startPurchase(StartPurchase(userID: "u", packageID: "none", paymentID: "p-none")), "PACKAGE_NOT_FOUND"),
            (.startPurchase(StartPurchase(userID: "u", packageID: "big", paymentID: "")), "PAYMENT_ID_EMPTY"),
            (.startPurchase(StartPurchase(userID: "", packageID: "big", paymentID: "p")), "USER_ID_EMPTY"),
            (.settlePurchase(SettlePurchase(paymentID: "unknown", result: .completed)), "PURCHASE_NOT_FOUND"),
            (.settlePurchase(SettlePurchase(paymentID: "pay", result: .failed(reason: ""))), "REASON_EMPTY"),
            (.settlePurchase(SettlePurchase(paymentID: "pay", result: .failed(reason: "EXPIRED"))), "REASON_RESERVED"),
            (.savePackage(SavePackage(id: "", name: "n", tokens: 1, priceCents: 1)), "PACKAGE_ID_EMPTY"),
            (.savePackage(SavePackage(id: "x", name: "", tokens: 1, priceCents: 1)), "PACKAGE_NAME_EMPTY"),
            (.savePackage(SavePackage(id: "x", name: "n", tokens: 0, priceCents: 1)), "AMOUNT_NOT_POSITIVE"),
            (.savePackage(SavePackage(id: "x", name: "n", tokens: 1, bonusTokens: -1, priceCents: 1)), "AMOUNT_NEGATIVE"),
            (.savePackage(SavePackage(id: "x", name: "n", tokens: 1, priceCents: -1)), "AMOUNT_NEGATIVE"),
            (.savePackage(SavePackage(id: "x", name: "n", tokens: 1, priceCents: 1, currency: "usd")), "CURRENCY_INVALID"),
            (.savePackage(SavePackage(id: "x", name: "n", tokens: .max, bonusTokens: 1, priceCents: 1)), ""),  // saved; starting it is refused
        ]
        for (command, reason) in cases {
            let before = ledger
            let applied = ledger.apply(command, at: t0 + 5 * second)
            if reason.isEmpty { continue }
            #expect(applied.refusal?.reason == reason, "\(command)")
            #expect(ledger == before && !applied.changedState, "\(command)")
        }
        let overflowing = ledger.apply(.startPurchase(StartPurchase(userID: "u", packageID: "x", paymentID: "p-x")), at: t0 + 6 * second)
        #expect(overflowing.refusal?.reason == "AMOUNT_OVERFLOW")
        expectInvariants(ledger)
    }

    @Test func aCompletionThatCannotBeCreditedLeavesThePurchasePending() throws {
        var ledger = shop()
        _ = ledger.apply(.savePackage(SavePackage(id: "huge", name: "Huge", tokens: .max - 1, bonusTokens: 1, priceCents: 1)), at: t0)
        _ = ledger.apply(credit("w", 1), at: t0)
        _ = ledger.apply(.startPurchase(StartPurchase(userID: "w", packageID: "huge", paymentID: "ph")), at: t0 + 1)
        let before = ledger
        let refused = ledger.apply(.settlePurchase(SettlePurchase(paymentID: "ph", result: .completed)), at: t0 + 2)
        #expect(refused.refusal?.reason == "AMOUNT_OVERFLOW" && ledger == before, "all or nothing")
        #expect(ledger.purchase(paymentID: "ph")?.status == .pending)
        expectInvariants(ledger)
    }
}
