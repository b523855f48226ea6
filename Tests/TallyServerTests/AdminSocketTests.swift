import Dispatch
import Foundation
import Glibc
import TallyClient
@testable import TallyServer
import TallyWire
import Testing

/// The admin socket (`--admin-socket`): its connections are served on a loop of their own, so a
/// health probe there is answered while the loop that serves every client is busy.
@Suite struct AdminSocketTests {
    @Test func healthIsAnsweredWhileTheClientsLoopIsHeld() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let adminSocket = scratch.root + "/admin.sock"
        let server = try await scratch.start { $0.adminSocketPath = adminSocket }
        var info = stat()
        #expect(stat(adminSocket, &info) == 0 && info.st_mode & 0o777 == 0o660, "the admin socket has the socket mode")
        let admin = try await TallyClient.connect(socketPath: adminSocket)
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("a", 10))
        _ = try await admin.credit(credit("b", 7))  // an admin's mutation from the admin socket goes to the same Writer

        // Hold the Writer's loop, which serves the main socket's connections, until the probe
        // on the admin socket is answered. The hold gives up after 20 s (a liveness bound, not
        // a timing): had the probe waited for that loop, the hold would end by timing out.
        let released = DispatchSemaphore(value: 0)
        let held = server.writer.loop.submit { released.wait(timeout: .now() + 20) == .timedOut }
        let balanceWhileHeld = Task { try await client.getBalance(userID: "a") }
        let report: Tally_V1_HealthResponse = try await admin.unary(.health, Tally_V1_HealthRequest())
        released.signal()
        let heldUntilTimeout = try await held.get()
        #expect(!heldUntilTimeout, "the probe was answered while the clients' loop was held")
        #expect(report.acceptingMutations && report.accounts == 2 && report.connections == 2)
        #expect(try await balanceWhileHeld.value.available == 10, "the main socket's call is answered once the loop is free")
        #expect(try await admin.getBalance(userID: "b").available == 7)
        await admin.close()
        await client.close()
        try await server.shutdown()
        #expect(access(adminSocket, F_OK) != 0 && access(scratch.socket, F_OK) != 0, "shutdown removes both socket files")
    }

    @Test func aServedAdminSocketStopsStartUp() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let adminSocket = scratch.root + "/admin.sock"
        let first = try await scratch.start { $0.adminSocketPath = adminSocket }
        let other = try Scratch()
        defer { other.remove() }
        await #expect(throws: (any Error).self) {
            _ = try await other.start { $0.adminSocketPath = adminSocket }
        }
        #expect(access(other.socket, F_OK) != 0, "nothing was left listening")
        // The refused start let its data directory go: a start without the taken path runs there.
        let second = try await other.start()
        try await second.shutdown()
        try await first.shutdown()
    }
}
