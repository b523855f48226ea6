import Foundation
import Glibc
import Testing
import TallyClient
import TallyLedger
import TallyServer
import TallyWire

/// Every kind of bad input gets its documented answer (docs/protocol.md), changes nothing, and
/// leaves every other connection working.
@Suite struct BadInputTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var request: Tally_V1_Request
        var code: Tally_V1_Code
        var reason: String
        var testDescription: String { name }
    }

    static let cases: [Case] = {
        let credit = Method.credit.rawValue, spendMethod = Method.spend.rawValue
        return [
            Case(name: "negative amount", request: try! envelope(credit, TallyServerTests.credit("u", -5), callID: 7),
                 code: .invalidArgument, reason: "AMOUNT_NOT_POSITIVE"),
            Case(name: "zero amount", request: try! envelope(spendMethod, spend("u", 0), callID: 7),
                 code: .invalidArgument, reason: "AMOUNT_NOT_POSITIVE"),
            Case(name: "empty user id", request: try! envelope(credit, TallyServerTests.credit("", 5), callID: 7),
                 code: .invalidArgument, reason: "USER_ID_EMPTY"),
            Case(name: "1 MB user id", request: try! envelope(credit, TallyServerTests.credit(String(repeating: "x", count: 1_000_000), 5), callID: 7),
                 code: .invalidArgument, reason: "FIELD_TOO_LONG"),
            Case(name: "missing credit kind", request: try! envelope(credit, TallyServerTests.credit("u", 5, kind: .unspecified), callID: 7),
                 code: .invalidArgument, reason: "CREDIT_KIND_MISSING"),
            Case(name: "unknown method", request: try! envelope("/tally.v1.Ledger/Steal", spend("u", 1), callID: 7),
                 code: .unimplemented, reason: "UNKNOWN_METHOD"),
            Case(name: "2 MB unknown method", request: try! envelope(String(repeating: "e\u{301}", count: 700_000), spend("u", 1), callID: 7),
                 code: .unimplemented, reason: "UNKNOWN_METHOD"),
            Case(name: "wrong protocol version", request: try! envelope(credit, TallyServerTests.credit("u", 5), callID: 7, version: 99),
                 code: .failedPrecondition, reason: "PROTOCOL_VERSION_UNSUPPORTED"),
            Case(name: "payload of the wrong type",
                 request: .with { $0.callID = 7; $0.protocolVersion = 1; $0.method = credit; $0.payload = Data([0xFF, 0xFF, 0xFF]) },
                 code: .invalidArgument, reason: "MALFORMED_PAYLOAD"),
            Case(name: "insufficient tokens", request: try! envelope(spendMethod, spend("nobody", 5), callID: 7),
                 code: .failedPrecondition, reason: "INSUFFICIENT_TOKENS"),
            Case(name: "balance of an empty user id", request: try! envelope(Method.getBalance.rawValue, Tally_V1_GetBalanceRequest(), callID: 7),
                 code: .invalidArgument, reason: "USER_ID_EMPTY"),
        ]
    }()

    @Test(arguments: cases)
    func badCallIsAnsweredAndChangesNothing(_ badCase: Case) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("u", 100))
        let before = await server.currentLedger()

        let response = try await client.send(badCase.request)
        #expect(response.callID == 7)
        #expect(response.code == badCase.code, "\(response)")
        #expect(response.reason == badCase.reason, "\(response)")
        #expect(!response.message.isEmpty)
        #expect(response.payload.isEmpty)
        #expect(response.message.utf8.count < 1_000, "answers stay small whatever was sent")
        let after = await server.currentLedger()
        #expect(after.withoutAudit == before.withoutAudit, "nothing changed but the audit log")
        if Method(rawValue: badCase.request.method)?.isMutation == true && badCase.request.protocolVersion == WireProtocol.version {
            // A refused mutation is audited: one entry, with the refusal.
            let entry = after.auditLog[before.nextAuditID]
            #expect(after.nextAuditID == before.nextAuditID + 1 && entry?.reason == badCase.reason && entry?.code == Int32(badCase.code.rawValue))
        } else {
            #expect(after.nextAuditID == before.nextAuditID, "not a mutation of this protocol: nothing to audit")
        }
        // The same connection keeps working after the refusal.
        #expect(try await client.getBalance(userID: "u").available == 100)
        await client.close()
        try await server.shutdown()
    }

    @Test func insufficientTokensSaysHowManyAreMissing() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("alice", 70))
        let error = await #expect(throws: TallyError.self) { try await client.spend(spend("alice", 500)) }
        #expect(error?.details == ["available": "70", "requested": "500", "shortfall": "430"])
        #expect(error?.message.contains("430") == true)
        await client.close()
        try await server.shutdown()
    }

    /// A zero-length frame is an empty Request: no call id, so no answer could be matched to it.
    @Test(arguments: ["zero-length frame", "call id 0"])
    func requestWithoutCallIDEndsTheConnection(_ kind: String) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let raw = try RawConnection(path: scratch.socket)
        raw.send(kind == "call id 0" ? try frame(try envelope(Method.credit.rawValue, credit("z", 5), callID: 0)) : frame([]))
        let response = try #require(try raw.response())
        #expect(response.callID == 0 && response.code == .invalidArgument && response.reason == "CALL_ID_MISSING")
        #expect(raw.isClosedByServer())
        #expect(await server.currentLedger().balance(of: "z").account.version == 0)
        try await server.shutdown()
    }

    @Test func replayedRefusalSaysItIsReplayed() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        let first = await #expect(throws: TallyError.self) { try await client.spend(spend("r", 5, key: "once")) }
        _ = try await client.credit(credit("r", 50))
        let again = await #expect(throws: TallyError.self) { try await client.spend(spend("r", 5, key: "once")) }
        #expect(first?.details["replayed"] == nil)
        #expect(again?.reason == "INSUFFICIENT_TOKENS" && again?.details["replayed"] == "true")
        #expect(again?.details["shortfall"] == "5")
        await client.close()
        try await server.shutdown()
    }

    @Test func overflowNamesTheAccountForPrograms() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("o", Int64.max - 1))
        let user = await #expect(throws: TallyError.self) { try await client.credit(credit("o", 2)) }
        #expect(user?.code == .outOfRange && user?.reason == "AMOUNT_OVERFLOW" && user?.details["account"] == "user")
        let mint = await #expect(throws: TallyError.self) { try await client.credit(credit("p", 2)) }
        #expect(mint?.details["account"] == "mint")
        await client.close()
        try await server.shutdown()
    }

    /// Hostile byte streams end their own connection with a final error frame (call id 0) and
    /// leave a well-behaved connection, working at the same time, untouched.
    @Test(arguments: ["garbage", "over the limit", "not a request", "disconnect mid-frame"])
    func hostileStreamEndsOnlyItsOwnConnection(_ kind: String) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start { $0.maxFrameBytes = 64 * 1024 }
        let good = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await good.credit(credit("g", 10))
        let before = await server.currentLedger()

        let raw = try RawConnection(path: scratch.socket)
        switch kind {
        case "garbage":
            var generator = SystemRandomNumberGenerator()
            raw.send([0x7F, 0x45, 0x4C, 0x46] + (0..<4_096).map { _ in UInt8.random(in: 0...255, using: &generator) })
            let response = try #require(try raw.response())
            #expect(response.callID == 0 && response.code == .resourceExhausted && response.reason == "FRAME_TOO_LARGE")
            #expect(raw.isClosedByServer())
        case "over the limit":
            raw.send(withUnsafeBytes(of: UInt32(64 * 1024 + 1).bigEndian, Array.init))
            let response = try #require(try raw.response())
            #expect(response.callID == 0 && response.code == .resourceExhausted && response.reason == "FRAME_TOO_LARGE")
            #expect(response.details["limit"] == String(64 * 1024))
            #expect(raw.isClosedByServer())
        case "not a request":
            raw.send(frame([0xFF, 0xFF, 0xFF, 0xFF, 0xFF]))
            let response = try #require(try raw.response())
            #expect(response.callID == 0 && response.code == .invalidArgument && response.reason == "MALFORMED_FRAME")
            #expect(raw.isClosedByServer())
        default:
            // Half a credit frame, then gone: nothing may be applied.
            let bytes = try frame(try envelope(Method.credit.rawValue, credit("g", 1_000), callID: 1))
            raw.send(Array(bytes.prefix(bytes.count / 2)))
            raw.shutdownWrite()
            #expect(raw.isClosedByServer())
        }

        #expect(try await good.getBalance(userID: "g").available == 10)
        _ = try await good.spend(spend("g", 4))
        var expected = before
        _ = expected.apply(.spend(Spend(userID: "g", amount: 4)), at: (await server.currentLedger()).lastTimestamp)
        let after = await server.currentLedger()
        #expect(after.withoutAudit == expected.withoutAudit)
        #expect(after.nextAuditID == before.nextAuditID + 1, "the spend was audited; the hostile streams applied nothing")
        await good.close()
        try await server.shutdown()
    }
}
