import Foundation
import Testing
import TallyClient
import TallyLedger
@testable import TallyServer
import TallyWire

/// A collection at its capacity refuses what would grow it, over the socket, audited; and a
/// restart with a larger capacity replays the refusal as it was (docs/security.md, Capacity).
@Suite struct CapacityEndToEndTests {
    @Test func newAccountsAreRefusedAtCapacityAndTheRefusalReplaysAsItWas() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var server = try await scratch.start { $0.capacity.accounts = 2 }
        var client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("a", 10))
        _ = try await client.credit(credit("b", 10))
        let refused = await #expect(throws: TallyError.self) { _ = try await client.credit(credit("c", 10)) }
        #expect(refused?.code == .resourceExhausted && refused?.reason == "CAPACITY_REACHED")
        #expect(refused?.details["collection"] == "accounts" && refused?.details["capacity"] == "2")
        #expect(try await client.credit(credit("a", 5)).balance.available == 15, "an existing account still takes credits")
        #expect(try await client.getBalance(userID: "c").available == 0)
        let audit = try await client.listAudit(.with { $0.userID = "c" })
        #expect(audit.entries.map(\.reason) == ["CAPACITY_REACHED"])
        await client.close()
        try await server.shutdown()

        // Replay does not depend on the capacity configured now.
        server = try await scratch.start { $0.capacity.accounts = 100 }
        client = try await TallyClient.connect(socketPath: scratch.socket)
        #expect(try await client.getBalance(userID: "c").available == 0)
        #expect(try await client.listAudit(.with { $0.userID = "c" }).entries.map(\.reason) == ["CAPACITY_REACHED"])
        #expect(try await client.credit(credit("c", 10)).balance.available == 10)
        await client.close()
        try await server.shutdown()
    }
}
