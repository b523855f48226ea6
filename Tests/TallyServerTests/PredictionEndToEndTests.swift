import Foundation
import Testing
import TallyClient
import TallyLedger
@testable import TallyServer
import TallyWire

/// Predictions over a real socket: commit / resolve / void / cancel, resolve asked twice and
/// from many connections at once (paid once), commit after settle, insufficient tokens, paging,
/// the state after a restart, and the roles.
@Suite struct PredictionEndToEndTests {
    @Test func commitResolveTwiceFromManyConnectionsPaysOnce() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var server = try await scratch.start()
        var client = try await TallyClient.connect(socketPath: scratch.socket)
        for user in ["ann", "ben"] { _ = try await client.credit(credit(user, 1_000)) }
        let yes = try await client.commit(userID: "ann", predictionID: "rain", position: .yes, stake: 300, oddsMicros: 2_500_000)
        #expect(yes.commitment.potentialWinning == 750 && yes.balance.committed == 300 && yes.transaction.type == .commit)
        _ = try await client.commit(userID: "ben", predictionID: "rain", position: .no, stake: 200, oddsMicros: 1_500_000, idempotencyKey: "b1")
        let retried = try await client.commit(userID: "ben", predictionID: "rain", position: .no, stake: 200, oddsMicros: 1_500_000, idempotencyKey: "b1")
        #expect(retried.replayed && retried.balance.committed == 200)
        let short = await #expect(throws: TallyError.self) {
            _ = try await client.commit(userID: "ben", predictionID: "rain", position: .no, stake: 900, oddsMicros: 1_500_000)
        }
        #expect(short?.reason == "INSUFFICIENT_TOKENS" && short?.details["available"] == "800")

        // An admin tool retries the resolution on 10 connections at once: paid once.
        let admins = try await (0..<10).asyncMap { _ in try await TallyClient.connect(socketPath: scratch.socket) }
        let answers = try await withThrowingTaskGroup(of: Tally_V1_SettlePredictionResponse.self) { group in
            for admin in admins { group.addTask { try await admin.resolve(predictionID: "rain", winning: .yes) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.filter { !$0.alreadyDone }.count == 1 && Set(answers.map(\.summary)).count == 1)
        let summary = answers[0].summary
        #expect(summary.winners == 1 && summary.losers == 1 && summary.tokensPaid == 750 && summary.tokensCollected == 200)
        #expect(try await client.getBalance(userID: "ann").available == 1_450)
        #expect(try await client.getBalance(userID: "ben").available == 800)
        let late = await #expect(throws: TallyError.self) {
            _ = try await client.commit(userID: "ann", predictionID: "rain", position: .yes, stake: 1, oddsMicros: 2_000_000)
        }
        #expect(late?.code == .failedPrecondition && late?.reason == "PREDICTION_SETTLED")
        let other = await #expect(throws: TallyError.self) { _ = try await client.void(predictionID: "rain") }
        #expect(other?.reason == "PREDICTION_SETTLED")

        // Restarted: the same state, and the resolution still answers its summary.
        for admin in admins { await admin.close() }
        await client.close()
        let before = await server.currentLedger()
        try await server.shutdown()
        server = try await scratch.start()
        client = try await TallyClient.connect(socketPath: scratch.socket)
        #expect(await server.currentLedger() == before)
        #expect(try await client.resolve(predictionID: "rain", winning: .yes).alreadyDone)
        await client.close()
        try await server.shutdown()
    }

    @Test func voidCancelCloseAndPaging() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("cy", 10_000))
        var ids: [UInt64] = []
        for stake in 1...7 {
            ids.append(try await client.commit(userID: "cy", predictionID: "match", position: stake % 2 == 0 ? .yes : .no, stake: Int64(stake), oddsMicros: 1_000_000).commitment.id)
        }
        let cancelled = try await client.cancelCommitment(id: ids[0])
        #expect(cancelled.commitment.status == .refunded && cancelled.transaction.type == .commitmentRefund)
        let again = await #expect(throws: TallyError.self) { _ = try await client.cancelCommitment(id: ids[0]) }
        #expect(again?.reason == "COMMITMENT_NOT_ACTIVE")

        // Paging: newest first, 3 at a time, until next_before_id is 0.
        var seen: [UInt64] = []
        var request = Tally_V1_ListCommitmentsRequest.with {
            $0.predictionID = "match"
            $0.limit = 3
        }
        repeat {
            let page = try await client.listCommitments(request)
            seen += page.commitments.map(\.id)
            request.beforeID = page.nextBeforeID
        } while request.beforeID != 0
        #expect(seen == ids.reversed())
        let active = try await client.listCommitments(.with {
            $0.userID = "cy"
            $0.status = .active
        })
        #expect(active.commitments.count == 6)

        let voided = try await client.void(predictionID: "match")
        #expect(voided.summary.refunded == 6 && voided.summary.tokensRefunded == 27 && voided.summary.status == .voided)
        #expect(try await client.getBalance(userID: "cy").available == 10_000)

        let closes = try await client.closePrediction(predictionID: "later", closesAtUs: 1)
        #expect(closes.closesAtUs == 1)
        let closed = await #expect(throws: TallyError.self) {
            _ = try await client.commit(userID: "cy", predictionID: "later", position: .yes, stake: 1, oddsMicros: 1_000_000)
        }
        #expect(closed?.reason == "PREDICTION_CLOSED")
        #expect(await server.currentLedger().invariantViolations().isEmpty)
        await client.close()
        try await server.shutdown()
    }

    @Test func methodsBelongToTheRightRoles() {
        for method in [Method.commit, .cancelCommitment] {
            #expect(method.access == .write && method.isMutation && Role.app.permits(method.access) && !Role.gateway.permits(method.access))
        }
        for method in [Method.resolvePrediction, .voidPrediction, .closePrediction] {
            #expect(method.access == .admin && !Role.app.permits(method.access))
        }
        #expect(Method.listCommitments.access == .read && Method.commit.rateClass == .commit)
    }
}
