import Foundation
import Testing
import TallyClient
import TallyLedger
@testable import TallyServer
import TallyWire

/// Purchases over a real socket: concurrent duplicate completions credit once, the
/// failure (payment captured, tokens never credited, no history row) cannot happen even when
/// the disk fails mid-completion, stale pending purchases fail by themselves, and roles hold.
@Suite struct PurchaseEndToEndTests {
    static let starter = Tally_V1_TokenPackage.with {
        $0.id = "starter"
        $0.name = "Starter"
        $0.tokens = 1_000
        $0.bonusTokens = 100
        $0.priceCents = 999
        $0.currency = "USD"
        $0.externalPriceID = "price_123"
        $0.active = true
    }

    @Test func concurrentDuplicateCompletionsCreditOnce() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let admin = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await admin.savePackage(Self.starter)
        #expect(try await admin.listPackages().map(\.id) == ["starter"])
        let started = try await admin.startPurchase(userID: "alice", packageID: "starter", paymentID: "pi_1")
        #expect(started.purchase.status == .pending && !started.alreadyDone)

        // The payment provider's webhook arrives 20 times at once, on 20 connections.
        let clients = try await (0..<20).asyncMap { _ in try await TallyClient.connect(socketPath: scratch.socket) }
        let answers = try await withThrowingTaskGroup(of: [Tally_V1_PurchaseResponse].self) { group in
            for client in clients {
                group.addTask { try await (0..<5).asyncMap { _ in try await client.completePurchase(paymentID: "pi_1") } }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(answers.count == 100 && answers.filter { !$0.alreadyDone }.count == 1, "exactly one completion did the work")
        #expect(Set(answers.map(\.purchase)).count == 1, "every answer is the same completed purchase")
        let purchase = answers[0].purchase
        #expect(purchase.status == .completed && purchase.transaction.amount == 1_100 && purchase.transaction.reference == "pi_1")
        #expect(try await admin.getBalance(userID: "alice").available == 1_100)
        let ledger = await server.currentLedger()
        #expect(ledger.transactions.values.filter { $0.type == .purchase }.count == 1 && ledger.invariantViolations().isEmpty)
        #expect(try await admin.listPurchases(userID: "alice").map(\.paymentID) == ["pi_1"])
        for client in clients { await client.close() }
        await admin.close()
        try await server.shutdown()
    }

    /// The disk fails while the completion is journaled. The caller gets
    /// JOURNAL_FAILED (outcome unknown); after a restart the purchase is either completed with
    /// its credit and history row, or still pending with neither, and the retried completion
    /// credits exactly once. Never "payment captured, tokens missing".
    @Test(arguments: [JournalFaultTests.FaultyIO.Fault.write, .sync])
    func aDiskFailureMidCompletionNeverLosesTheCredit(_ fault: JournalFaultTests.FaultyIO.Fault) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let io = JournalFaultTests.FaultyIO()
        var server = try await scratch.start(io: io)
        var client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.savePackage(Self.starter)
        _ = try await client.startPurchase(userID: "bob", packageID: "starter", paymentID: "pi_disk")
        io.fault.withLock { $0 = fault }
        let failed = await #expect(throws: TallyError.self) { _ = try await client.completePurchase(paymentID: "pi_disk") }
        #expect(failed?.reason == "JOURNAL_FAILED")
        // Reads answer the last durable state: pending, nothing credited, no history row.
        #expect(try await client.getPurchase(paymentID: "pi_disk").status == .pending)
        #expect(try await client.getBalance(userID: "bob").available == 0)
        io.fault.withLock { $0 = .none }
        await client.close()
        try? await server.shutdown()

        server = try await scratch.start()
        client = try await TallyClient.connect(socketPath: scratch.socket)
        let recovered = await server.currentLedger()
        let purchase = try #require(recovered.purchase(paymentID: "pi_disk"))
        let credits = Array(recovered.transactions.values.filter { $0.reference == "pi_disk" })
        // Whatever the disk kept, the purchase and its credit agree.
        #expect((purchase.status == .completed) == (credits.count == 1) && credits.count <= 1)
        #expect(recovered.balance(of: "bob").account.available == (credits.isEmpty ? 0 : 1_100))
        // The provider retries: exactly one credit in the end.
        let retried = try await client.completePurchase(paymentID: "pi_disk")
        #expect(retried.purchase.status == .completed && retried.alreadyDone == !credits.isEmpty)
        #expect(try await client.getBalance(userID: "bob").available == 1_100)
        let after = await server.currentLedger()
        #expect(after.transactions.values.filter { $0.reference == "pi_disk" }.count == 1 && after.invariantViolations().isEmpty)
        await client.close()
        try await server.shutdown()
    }

    @Test func stalePendingPurchasesFailByThemselvesAndALateCompletionStillCredits() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start {
            $0.ledger = LedgerConfig(purchaseTimeout: 200_000)  // 200 ms
            $0.reservationSweepMilliseconds = 20
        }
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.savePackage(Self.starter)
        _ = try await client.startPurchase(userID: "cy", packageID: "starter", paymentID: "pi_stale")
        var purchase = try await client.getPurchase(paymentID: "pi_stale")
        let giveUp = ContinuousClock.now + .seconds(10)
        while purchase.status == .pending && ContinuousClock.now < giveUp {
            try await Task.sleep(for: .milliseconds(20))
            purchase = try await client.getPurchase(paymentID: "pi_stale")
        }
        #expect(purchase.status == .failed && purchase.failureReason == "EXPIRED")
        // The payment was captured after all: completing it credits.
        let late = try await client.completePurchase(paymentID: "pi_stale")
        #expect(late.purchase.status == .completed && !late.alreadyDone)
        #expect(try await client.getBalance(userID: "cy").available == 1_100)
        await client.close()
        try await server.shutdown()
    }

    /// A purchase the provider declined stays failed: a completion after it is refused. (With the
    /// stale-purchase test's 200 ms timeout, a slow machine could expire it first, and an expired
    /// purchase may still complete; so the default timeout here.)
    @Test func aDeclinedPurchaseNeverCompletes() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.savePackage(Self.starter)
        _ = try await client.startPurchase(userID: "cy", packageID: "starter", paymentID: "pi_declined")
        let declined = try await client.failPurchase(paymentID: "pi_declined", reason: "card declined")
        #expect(declined.purchase.status == .failed && !declined.alreadyDone)
        let refused = await #expect(throws: TallyError.self) { _ = try await client.completePurchase(paymentID: "pi_declined") }
        #expect(refused?.code == .failedPrecondition && refused?.reason == "PURCHASE_ALREADY_SETTLED")
        #expect(try await client.getBalance(userID: "cy").available == 0)
        let missing = await #expect(throws: TallyError.self) { _ = try await client.getPurchase(paymentID: "nope") }
        #expect(missing?.code == .notFound && missing?.reason == "PURCHASE_NOT_FOUND")
        await client.close()
        try await server.shutdown()
    }

    @Test func methodsBelongToTheRightRoles() {
        for method in [Method.savePackage, .deactivatePackage] {
            #expect(method.access == .admin && method.isMutation && !Role.app.permits(method.access))
        }
        for method in [Method.startPurchase, .completePurchase, .failPurchase] {
            #expect(method.access == .write && method.isMutation && Role.app.permits(method.access) && !Role.gateway.permits(method.access))
        }
        for method in [Method.listPackages, .getPurchase, .listPurchases] {
            #expect(method.access == .read && !method.isMutation && Role.readOnly.permits(method.access))
        }
        #expect(Method.startPurchase.rateClass == .purchase && Method.completePurchase.rateClass == nil)
    }
}
