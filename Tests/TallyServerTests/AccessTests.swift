import Foundation
import Glibc
import Testing
import TallyClient
@testable import TallyServer
import TallyWire

/// Roles from peer credentials: who may connect, what each role may call, and how many
/// connections one uid may hold.
@Suite struct AccessTests {
    @Test func roleTable() {
        let expected: [Role: Set<MethodAccess>] = [
            .admin: [.read, .write, .usage, .admin], .app: [.read, .write], .gateway: [.read, .usage], .readOnly: [.read],
        ]
        for role in Role.allCases {
            #expect(Set(MethodAccess.allCases.filter(role.permits)) == expected[role], "\(role)")
        }
    }

    @Test func uidRuleWinsOverGidRuleAndOwnerIsAlwaysAdmin() {
        let policy = AccessPolicy(ownerUID: 500, rules: [.uid(7): .readOnly, .gid(9): .app, .uid(500): .readOnly])
        #expect(policy.role(uid: 7, gid: 9) == .readOnly)
        #expect(policy.role(uid: 8, gid: 9) == .app)
        #expect(policy.role(uid: 8, gid: 10) == nil)
        #expect(policy.role(uid: 500, gid: 10) == .admin)
    }

    /// This process is tallyd's owner in every other test; here tallyd is told someone else
    /// owns it, so this uid gets only what the rules give it.
    func start(_ scratch: Scratch, role: Role?) async throws -> TallyServer {
        try await scratch.start { config in
            config.access = AccessPolicy(ownerUID: getuid() &+ 1, rules: role.map { [.uid(getuid()): $0] } ?? [:])
        }
    }

    @Test func peerWithNoRoleIsTurnedAwayWithAnAnswer() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await start(scratch, role: nil)
        let raw = try RawConnection(path: scratch.socket)
        let answer = try #require(try raw.response())
        #expect(answer.callID == 0 && answer.code == .permissionDenied && answer.reason == "NO_ROLE")
        #expect(answer.details["uid"] == String(getuid()))
        #expect(raw.isClosedByServer())
        try await server.shutdown()
    }

    /// A client that writes its first call at once still learns why it was turned away: tallyd
    /// closes only its sending side after the answer, so the client's write does not fail with
    /// EPIPE before the answer is read (seen once through the CLI in OtherUIDTests), and the
    /// client reports a connection-level answer it read before its write failed.
    @Test func clientWritingAtOnceLearnsItHasNoRole() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await start(scratch, role: nil)
        for _ in 0..<50 {
            let client = try await TallyClient.connect(socketPath: scratch.socket)
            do {
                _ = try await client.getBalance(userID: "x")
                Issue.record("a peer with no role was answered")
            } catch let error as TallyError {
                #expect(error.code == .permissionDenied && error.reason == "NO_ROLE", "\(error)")
            }
            await client.close()
        }
        try await server.shutdown()
    }

    @Test func readOnlyRoleReadsButCannotWriteOrAdminister() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await start(scratch, role: .readOnly)
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        #expect(try await client.getBalance(userID: "r").version == 0)
        await #expect(throws: TallyError(
            code: .permissionDenied, reason: "ROLE_FORBIDS_METHOD",
            message: "the read-only role may not call /tally.v1.Ledger/Credit",
            details: ["role": "read-only", "method": Method.credit.rawValue])
        ) { try await client.credit(credit("r", 5)) }
        let health = try await client.send(try envelope(Method.health.rawValue, Tally_V1_HealthRequest(), callID: 8))
        #expect(health.code == .ok, "monitoring may run as read-only")
        let snapshot = try await client.send(try envelope(Method.snapshot.rawValue, Tally_V1_SnapshotRequest(), callID: 9))
        #expect(snapshot.code == .permissionDenied && snapshot.reason == "ROLE_FORBIDS_METHOD")
        #expect(await server.currentLedger().transactions.count == 0, "nothing was applied")
        await client.close()
        try await server.shutdown()
    }

    @Test func appRoleWritesButCannotAdminister() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await start(scratch, role: .app)
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        #expect(try await client.credit(credit("a", 5)).balance.available == 5)
        let backup = try await client.send(
            try envelope(Method.backup.rawValue, Tally_V1_BackupRequest.with { $0.path = scratch.root + "/b" }, callID: 9))
        #expect(backup.code == .permissionDenied && backup.details["role"] == "app")
        #expect(!FileManager.default.fileExists(atPath: scratch.root + "/b"))
        await client.close()
        try await server.shutdown()
    }

    @Test func oneUIDCannotTakeEveryConnection() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // This test runs as tallyd's own uid, which gets reserved connections past the limit:
        // none here, so that the limit itself is what is checked.
        let server = try await scratch.start {
            $0.maxConnectionsPerUID = 3
            $0.reservedAdminConnections = 0
        }
        var held: [TallyClient] = []
        for _ in 0..<3 { held.append(try await TallyClient.connect(socketPath: scratch.socket)) }
        for client in held { _ = try await client.getBalance(userID: "p") }
        let raw = try RawConnection(path: scratch.socket)
        let answer = try #require(try raw.response())
        #expect(answer.code == .resourceExhausted && answer.reason == "TOO_MANY_CONNECTIONS_FOR_UID")
        #expect(answer.details == ["limit": "3", "uid": String(getuid())])
        #expect(raw.isClosedByServer())
        // A slot comes back when a connection closes.
        await held.removeLast().close()
        var admitted = false
        for _ in 0..<100 where !admitted {
            if let client = try? await TallyClient.connect(socketPath: scratch.socket),
                (try? await client.getBalance(userID: "p")) != nil
            {
                admitted = true
                held.append(client)
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        #expect(admitted)
        for client in held { await client.close() }
        try await server.shutdown()
    }

    @Test func anAdminCanAlwaysGetInPastIdleConnectionsOfItsUID() async throws {
        // 256 idle connections from one uid (the default per-uid limit) used to lock that uid
        // out, tallyd's own admin included. tallyd's own uid (this test's) keeps 3 more.
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let perUID = ServerConfig().maxConnectionsPerUID
        let reserved = ServerConfig().reservedAdminConnections
        #expect(perUID == 256 && reserved == 3)
        var idle: [RawConnection] = []
        for _ in 0..<perUID { idle.append(try RawConnection(path: scratch.socket)) }
        // Every idle one is admitted (a refused one gets a frame and is closed at once).
        let probe = try await TallyClient.connect(socketPath: scratch.socket)
        #expect(try await probe.stats().users == 0, "the admin gets in past 256 idle connections")
        var admins = [probe]
        for _ in 1..<reserved {
            let client = try await TallyClient.connect(socketPath: scratch.socket)
            _ = try await client.getBalance(userID: "p")
            admins.append(client)
        }
        #expect(server.connectionCount == perUID + reserved)
        // Past the reserve too: refused, with the limit that applied.
        let raw = try RawConnection(path: scratch.socket)
        let answer = try #require(try raw.response())
        #expect(answer.code == .resourceExhausted && answer.reason == "TOO_MANY_CONNECTIONS_FOR_UID")
        #expect(answer.details["limit"] == String(perUID + reserved))
        for client in admins { await client.close() }
        idle.removeAll()
        try await server.shutdown()
    }
}
