import Foundation
import Testing
import TallyClient
import TallyLedger
import TallyServer
import TallyWire

/// Retention over a real tallyd: past each user's newest N transactions, older ones move to
/// DATA/archive/transactions-<batch>.jsonl at a snapshot and leave memory; balances, stats,
/// reconciliation and invariants still count them, across a restart.
@Suite struct RetentionEndToEndTests {
    @Test func olderTransactionsMoveToArchiveFilesAndStayCounted() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let settings: (inout ServerConfig) -> Void = {
            $0.transactionsPerUser = 3
            $0.archiveMinimum = 1
        }
        var server = try await scratch.start(settings)
        var client = try await TallyClient.connect(socketPath: scratch.socket)
        for round in 0..<2 {
            for i in 1...5 {
                _ = try await client.credit(credit("ann", Int64(i)))
                _ = try await client.credit(credit("bob", 10))
                _ = try await client.spend(spend("bob", 1))
            }
            let _: Tally_V1_SnapshotResponse = try await client.unary(.snapshot, Tally_V1_SnapshotRequest())
            var ledger = await server.currentLedger()
            for _ in 0..<300 where ledger.transactions.count > 6 {
                try await Task.sleep(for: .milliseconds(10))
                ledger = await server.currentLedger()
            }
            #expect(ledger.transactions.count == 6, "round \(round): 3 per user in memory, got \(ledger.transactions.count)")
            #expect(ledger.invariantViolations().isEmpty && ledger.reconciliation().clean)
            if round == 0 {
                await client.close()
                try await server.shutdown()
                server = try await scratch.start(settings)
                client = try await TallyClient.connect(socketPath: scratch.socket)
            }
        }
        let ann = try await client.getBalance(userID: "ann").available, bob = try await client.getBalance(userID: "bob").available
        #expect(ann == 30 && bob == 90)
        let stats = try await client.stats()
        #expect(stats.transactions == 30, "archived ones stay counted")
        #expect(stats.volume.first { $0.type == .spend }?.transactions == 10 && stats.volume.first { $0.type == .grant }?.tokens == 130)
        let history = try await client.listTransactions(.with { $0.userID = "ann" })
        #expect(history.transactions.count == 3 && history.transactions.map(\.amount) == [5, 4, 3])

        let files = try FileManager.default.contentsOfDirectory(atPath: scratch.data + "/archive").filter { $0.hasPrefix("transactions-") }.sorted()
        var archived: [UInt64] = []
        for file in files {
            let records = try archiveRecords(file, kind: "transactions", in: scratch.data)
            #expect(records.allSatisfy { $0.contains(#""user_id":"#) && !$0.contains(#""userId""#) }, "archive lines use the .proto field names")
            archived += try records.map { try Tally_V1_Transaction(jsonString: $0).id }
        }
        let inMemory = Array(await server.currentLedger().transactions.keys)
        #expect(Set(archived).count == archived.count && Set(archived).isDisjoint(with: inMemory), "each transaction once")
        #expect(archived.count + inMemory.count == 30)

        // GetTransaction finds an archived transaction in the archive files, whole; an id never
        // handed out is not found, in memory or there.
        for id in [archived.min()!, archived.max()!, archived[archived.count / 2]] {
            let found: Tally_V1_GetTransactionResponse = try await client.unary(.getTransaction, Tally_V1_GetTransactionRequest.with { $0.transactionID = id })
            let line = try files.lazy.flatMap { try archiveRecords($0, kind: "transactions", in: scratch.data) }
                .map { try Tally_V1_Transaction(jsonString: $0) }.first { $0.id == id }
            #expect(found.transaction == line, "transaction \(id) as archived")
        }
        do {
            let _: Tally_V1_GetTransactionResponse = try await client.unary(.getTransaction, Tally_V1_GetTransactionRequest.with { $0.transactionID = 999 })
            Issue.record("transaction 999 was never made")
        } catch let error as TallyError {
            #expect(error.reason == "TRANSACTION_NOT_FOUND" && error.message.contains("none was made with that id"), "answered without the archive")
        }
        // An archived id whose batch file was moved away: searched for, and not found there.
        let moved = scratch.root + "/moved"
        try FileManager.default.createDirectory(atPath: moved, withIntermediateDirectories: true)
        for file in files { try FileManager.default.moveItem(atPath: scratch.data + "/archive/" + file, toPath: moved + "/" + file) }
        do {
            let _: Tally_V1_GetTransactionResponse = try await client.unary(
                .getTransaction, Tally_V1_GetTransactionRequest.with { $0.transactionID = archived.min()! })
            Issue.record("its batch file is gone")
        } catch let error as TallyError {
            #expect(error.reason == "TRANSACTION_NOT_FOUND" && error.message.contains("in memory or in the archive"))
        }
        await client.close()
        try await server.shutdown()
    }

    @Test func commitmentsSettledLongAgoMoveToTheArchive() async throws {
        let clock = WallClock(offsetMicroseconds: 0)
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start {
            $0.wallClock = clock
            $0.archiveMinimum = 1
        }
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("ann", 100))
        _ = try await client.commit(userID: "ann", predictionID: "rain", position: .yes, stake: 30, oddsMicros: 2_000_000)
        _ = try await client.commit(userID: "ann", predictionID: "snow", position: .yes, stake: 10, oddsMicros: 2_000_000)
        let summary = try await client.resolve(predictionID: "rain", winning: .yes).summary
        clock.move(toOffsetMicroseconds: 91 * 86_400_000_000)  // 91 days on: past the 90-day default
        _ = try await client.credit(credit("ann", 1))
        let _: Tally_V1_SnapshotResponse = try await client.unary(.snapshot, Tally_V1_SnapshotRequest())
        var ledger = await server.currentLedger()
        for _ in 0..<300 where ledger.commitments.count > 1 {
            try await Task.sleep(for: .milliseconds(10))
            ledger = await server.currentLedger()
        }
        #expect(ledger.commitments.values.map(\.predictionID) == ["snow"], "the active one stays")
        #expect(ledger.predictions["rain"]?.summary.map(Tally_V1_PredictionSummary.init) == summary)
        #expect(ledger.invariantViolations().isEmpty && ledger.archived.commitments == 1)
        let archived = try archiveRecords("commitments-0000000001.jsonl", kind: "commitments", in: scratch.data)
            .map { try Tally_V1_Commitment(jsonString: $0) }
        #expect(archived.map(\.predictionID) == ["rain"] && archived[0].status == .won)
        #expect(try await client.getBalance(userID: "ann").available == 121)
        await client.close()
        try await server.shutdown()
    }
}
