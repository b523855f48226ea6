import Foundation
import Testing
import TallyClient
import TallyLedger
@testable import TallyServer
import TallyWire

/// Admin/Stats over a real socket: every figure after a known mix of credits, a spend, a
/// purchase and a resolved prediction.
@Suite struct StatsEndToEndTests {
    @Test func figuresAddUp() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("a", 1_000))
        _ = try await client.credit(credit("b", 500))
        _ = try await client.spend(spend("b", 100))
        _ = try await client.savePackage(.with {
            $0.id = "p"; $0.name = "P"; $0.tokens = 200; $0.bonusTokens = 20; $0.priceCents = 1_999; $0.currency = "EUR"; $0.active = true
        })
        _ = try await client.startPurchase(userID: "a", packageID: "p", paymentID: "pay")
        _ = try await client.completePurchase(paymentID: "pay")
        _ = try await client.commit(userID: "a", predictionID: "q", position: .yes, stake: 100, oddsMicros: 3_000_000)
        _ = try await client.commit(userID: "b", predictionID: "q", position: .no, stake: 50, oddsMicros: 2_000_000)
        _ = try await client.commit(userID: "b", predictionID: "open", position: .no, stake: 10, oddsMicros: 2_000_000)
        _ = try await client.resolve(predictionID: "q", winning: .yes)

        let stats = try await client.stats()
        #expect(stats.users == 2 && stats.transactions == 9)
        #expect(stats.tokensMinted == 1_720 && stats.tokensBurned == 100)
        #expect(stats.houseNet == 50 - 200, "collected b's 50, paid a's profit of 200")
        #expect(stats.tokensInCirculation == 1_720 - 100 - 50 + 200 && stats.tokensCommitted == 10)
        #expect(stats.activeCommitments == 1 && stats.openPredictions == 1)
        let volume = Dictionary(uniqueKeysWithValues: stats.volume.map { ($0.type, ($0.transactions, $0.tokens)) })
        #expect(volume[.grant]! == (2, 1_500) && volume[.purchase]! == (1, 220) && volume[.spend]! == (1, 100))
        #expect(volume[.commit]! == (3, 160) && volume[.win]! == (1, 300) && volume[.loss]! == (1, 50))
        let today = UsageDay.utc(containing: WallClock.system.now()).date
        #expect(stats.revenueByDay.map(\.period) == [today.description] && stats.revenueByDay[0].cents == 1_999)
        #expect(stats.revenueByMonth.map(\.currency) == ["EUR"] && stats.revenueByMonth[0].tokens == 220)
        #expect(Method.stats.access == .admin && !Role.app.permits(Method.stats.access))
        await client.close()
        try await server.shutdown()
    }
}
