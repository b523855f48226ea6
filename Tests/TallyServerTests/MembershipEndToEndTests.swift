import Foundation
import Testing
import TallyClient
import TallyLedger
@testable import TallyServer
import TallyWire

/// Memberships and priced actions over a real socket: spending by action charges the price of
/// the caller's tier, the default tier's after the membership expires (tallyd's clock is moved),
/// unknown actions are NOT_FOUND, only admins set prices and memberships, and it all survives
/// a restart.
@Suite struct MembershipEndToEndTests {
    func refusal(_ body: () async throws -> some Any) async -> TallyError? {
        do {
            _ = try await body()
            return nil
        } catch let error as TallyError {
            return error
        } catch {
            Issue.record("not a TallyError: \(error)")
            return nil
        }
    }

    func spend(_ client: TallyClient, _ user: String, _ action: String, key: String = "") async throws -> Tally_V1_SpendResponse {
        try await client.spendAction(.with {
            $0.userID = user
            $0.action = action
            $0.idempotencyKey = key
        })
    }

    @Test func spendByActionPerTierUntilTheMembershipExpires() async throws {
        let clock = WallClock(offsetMicroseconds: 0)
        let scratch = try Scratch()
        defer { scratch.remove() }
        var server = try await scratch.start { $0.wallClock = clock }
        var client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.setPrice(action: "generate-post", tier: "trial", cost: 5)
        let price = try await client.setPrice(action: "generate-post", tier: "subscribed", cost: 2)
        #expect(price.costs == ["trial": 5, "subscribed": 2])
        var grant = credit("ann", 100)
        grant.metadata = ["campaign": "welcome", "source": "signup"]
        let granted = try await client.credit(grant)
        #expect(granted.transaction.metadata == ["campaign": "welcome", "source": "signup"])

        let trial = try await spend(client, "ann", "generate-post")
        #expect(trial.transaction.amount == 5 && trial.transaction.action == "generate-post" && trial.transaction.tier == "trial")
        #expect(trial.balance.available == 95)

        let expiresAt = clock.now() + 3_600_000_000
        let membership = try await client.setMembership(userID: "ann", tier: "subscribed", expiresAtUs: expiresAt)
        #expect(membership.tier == "subscribed" && membership.active && membership.expiresAtUs == expiresAt)
        #expect(try await spend(client, "ann", "generate-post").transaction.amount == 2)
        #expect(try await client.checkUsage(userID: "ann").limit == 100_000, "the daily limit follows the tier")

        // Unknown action, and a retried keyed spend.
        let unknown = await refusal { try await spend(client, "ann", "dance") }
        #expect(unknown?.code == .notFound && unknown?.reason == "ACTION_NOT_FOUND")
        let first = try await spend(client, "ann", "generate-post", key: "post-7")
        let again = try await spend(client, "ann", "generate-post", key: "post-7")
        #expect(again.replayed && again.transaction == first.transaction)

        // An hour later the membership is over: the default tier's price and limit.
        clock.move(toOffsetMicroseconds: 3_600_000_000 + 1)
        let expired = try await client.getMembership(userID: "ann")
        #expect(!expired.active && expired.tier == "trial" && expired.membershipTier == "subscribed")
        #expect(try await spend(client, "ann", "generate-post").transaction.amount == 5)
        #expect(try await client.checkUsage(userID: "ann").limit == 10_000)
        let balance = try await client.getBalance(userID: "ann").available  // 100 - 5 - 2 - 2 - 5
        #expect(balance == 86)

        // History shows the action and the tier charged.
        let history = try await client.listTransactions(.with { $0.userID = "ann" })
        #expect(history.transactions.filter { $0.action == "generate-post" }.map(\.tier) == ["trial", "subscribed", "subscribed", "trial"])
        #expect(history.transactions.last?.metadata == ["campaign": "welcome", "source": "signup"], "metadata is kept in history")

        // Bad input: specific answers, nothing changed.
        let past = await refusal { try await client.setMembership(userID: "ann", tier: "subscribed", expiresAtUs: 1) }
        #expect(past?.reason == "EXPIRY_IN_PAST")
        let noTier = await refusal { try await client.setMembership(userID: "ann", tier: "platinum") }
        #expect(noTier?.code == .failedPrecondition && noTier?.reason == "TIER_NOT_FOUND")
        let free = await refusal { try await client.setPrice(action: "x", tier: "trial", cost: 0) }
        #expect(free?.code == .invalidArgument && free?.reason == "PRICE_NOT_POSITIVE")

        // A restart keeps memberships, prices and the spends.
        let before = await server.currentLedger()
        await client.close()
        try await server.shutdown()
        server = try await scratch.start { $0.wallClock = clock }
        client = try await TallyClient.connect(socketPath: scratch.socket)
        let after = await server.currentLedger()
        #expect(after.memberships == before.memberships && after.actionPrices == before.actionPrices)
        #expect(try await client.listPrices().map(\.action) == ["generate-post"])
        #expect(try await client.getBalance(userID: "ann").available == 86)
        #expect(after.invariantViolations().isEmpty)
        await client.close()
        try await server.shutdown()
    }

    @Test func onlyAdminsSetPricesAndMemberships() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start { config in
            config.access = AccessPolicy(ownerUID: getuid() &+ 1, rules: [.uid(getuid()): .app])
        }
        let app = try await TallyClient.connect(socketPath: scratch.socket)
        for call in [
            { _ = try await app.setPrice(action: "a", tier: "trial", cost: 1) },
            { _ = try await app.setMembership(userID: "ann", tier: "subscribed") },
        ] as [() async throws -> Void] {
            let denied = await refusal { try await call() }
            #expect(denied?.code == .permissionDenied && denied?.reason == "ROLE_FORBIDS_METHOD")
        }
        // The app role may read and spend.
        #expect(try await app.listPrices().isEmpty)
        #expect(try await app.getMembership(userID: "ann").tier == "trial")
        let unpriced = await refusal { try await spend(app, "ann", "a") }
        #expect(unpriced?.reason == "ACTION_NOT_FOUND")
        await app.close()
        try await server.shutdown()
    }
}
