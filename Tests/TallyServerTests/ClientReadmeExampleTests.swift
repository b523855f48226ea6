import Testing
import TallyClient
import TallyWire

/// Sources/TallyClient/README.md's example, run against a real tallyd: keep the two the same.
@Suite struct ClientReadmeExampleTests {
    func example(socket: String) async throws {
        let tally = try await TallyClient.connect(socketPath: socket)
        defer { Task { await tally.close() } }

        // Credit once per payment: the same key answers the first result again.
        let credited = try await tally.credit(
            .with { $0.userID = "alice"; $0.amount = 100; $0.kind = .purchase; $0.idempotencyKey = "pay-123" },
            timeoutMs: 2_000)
        print("alice has \(credited.balance.available)")

        // A refusal is a TallyError: branch on code and reason, read the figures from details.
        do {
            _ = try await tally.spend(.with { $0.userID = "alice"; $0.amount = 500; $0.idempotencyKey = "order-9" }, timeoutMs: 2_000)
        } catch let error as TallyError where error.reason == "INSUFFICIENT_TOKENS" {
            print("short by \(error.details["shortfall"] ?? "?")")
        }

        // A chat gateway's daily limit: consume, or reserve before the model call and settle after.
        let status = try await tally.consume(userID: "alice", tokens: 1_200, idempotencyKey: "msg-1", timeoutMs: 200)
        print("\(status.status.remaining) tokens left today")
        let hold = try await tally.reserve(userID: "alice", tokens: 4_000, ttlMs: 60_000, idempotencyKey: "msg-2", timeoutMs: 200)
        _ = try await tally.settle(reservationID: hold.reservation.id, tokens: 3_100, idempotencyKey: "msg-2-settle", timeoutMs: 200)
    }

    @Test func theReadmeExampleRuns() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        try await example(socket: scratch.socket)
        // What it did: one credit, the refused spend changed nothing, 4,300 tokens counted today.
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        #expect(try await client.getBalance(userID: "alice").available == 100)
        #expect(try await client.checkUsage(userID: "alice").used == 4_300)
        await client.close()
        try await server.shutdown()
    }
}
