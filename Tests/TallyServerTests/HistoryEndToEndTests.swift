import Foundation
import Testing
import TallyClient
import TallyLedger
@testable import TallyServer
import TallyWire

/// Transaction history over a real socket: newest first, filters by type and time, and a
/// cursor that stays right while other connections keep writing.
@Suite struct HistoryEndToEndTests {
    @Test func pagingWhileWritesContinueSeesEveryOlderTransactionOnce() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let reader = try await TallyClient.connect(socketPath: scratch.socket)
        for amount in 1...40 { _ = try await reader.credit(credit("h", Int64(amount))) }
        let newestBefore = try await reader.listTransactions(.with { $0.userID = "h"; $0.limit = 1 }).transactions[0].id

        // A writer keeps crediting h (and others) while the reader pages from where it started.
        let writer = try await TallyClient.connect(socketPath: scratch.socket)
        let writing = Task {
            for n in 0..<200 { _ = try await writer.credit(credit(n % 2 == 0 ? "h" : "other", 1_000)) }
        }
        var seen: [Int64] = []
        var request = Tally_V1_ListTransactionsRequest.with {
            $0.userID = "h"
            $0.limit = 7
            $0.beforeID = newestBefore + 1
        }
        repeat {
            let page = try await reader.listTransactions(request)
            #expect(page.transactions.allSatisfy { $0.userID == "h" })
            seen += page.transactions.map(\.amount)
            request.beforeID = page.nextBeforeID
        } while request.beforeID != 0
        try await writing.value
        #expect(seen == Array((1...40).reversed()).map(Int64.init), "every older transaction once, newest first")

        // Filters: types and a time window.
        _ = try await reader.spend(spend("h", 5))
        let spends = try await reader.listTransactions(.with { $0.userID = "h"; $0.types = [.spend] })
        #expect(spends.transactions.map(\.amount) == [5])
        let all = try await reader.listTransactions(.with { $0.userID = "h"; $0.limit = 1_000 })
        let middle = all.transactions[all.transactions.count / 2]
        let window = try await reader.listTransactions(.with {
            $0.userID = "h"
            $0.limit = 1_000
            $0.sinceUs = middle.createdAtUs
        })
        #expect(window.transactions.last?.id == middle.id && window.transactions.allSatisfy { $0.createdAtUs >= middle.createdAtUs })
        // Every user's history, for admins (the test runs as tallyd's owner).
        let everyone = try await reader.listTransactions(.with { $0.limit = 1_000 })
        #expect(Set(everyone.transactions.map(\.userID)) == ["h", "other"])
        #expect(try await reader.getTransaction(id: middle.id) == middle)
        let missing = await #expect(throws: TallyError.self) { _ = try await reader.getTransaction(id: 999_999) }
        #expect(missing?.reason == "TRANSACTION_NOT_FOUND")
        await writer.close()
        await reader.close()
        try await server.shutdown()
    }

    @Test func everyonesHistoryIsForAdminsOnly() {
        let everyone = LedgerEndpoints.historyFilter(Tally_V1_ListTransactionsRequest(), role: .app).failure
        #expect(everyone?.code == .permissionDenied && everyone?.reason == "ROLE_FORBIDS_ALL_USERS")
        #expect(everyone?.details["role"] == "app")
        #expect(LedgerEndpoints.historyFilter(Tally_V1_ListTransactionsRequest(), role: .admin).failure == nil)
        #expect(LedgerEndpoints.historyFilter(.with { $0.userID = "u"; $0.limit = 1_001 }, role: .app).failure?.reason == "LIMIT_OUT_OF_RANGE")
    }
}

extension Result {
    var failure: Failure? {
        guard case .failure(let failure) = self else { return nil }
        return failure
    }
}
