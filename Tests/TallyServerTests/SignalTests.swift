import Foundation
import Glibc
import Testing
import TallyClient

/// Signals a real tallyd process gets from terminals and supervisors.
@Suite struct SignalTests {
    /// SIGHUP used to kill tallyd silently (a stale socket, nothing logged). It is logged and
    /// ignored: tallyd keeps serving, and SIGTERM still stops it cleanly.
    @Test func sighupIsLoggedAndTallydKeepsServing() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let daemon = try HostileClientsTests.Daemon(scratch: scratch)
        defer { daemon.killIfRunning() }
        try await daemon.waitUntilServing(scratch.socket)
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("hup", 3))

        // Two, apart (the kernel folds signals that arrive together into one).
        kill(daemon.pid, SIGHUP)
        try await Task.sleep(for: .milliseconds(300))
        kill(daemon.pid, SIGHUP)
        try await Task.sleep(for: .milliseconds(300))
        #expect(daemon.process.isRunning, "tallyd survived SIGHUP")
        #expect(try await client.getBalance(userID: "hup").available == 3, "the open connection still answers")
        let another = try await TallyClient.connect(socketPath: scratch.socket)
        #expect(try await another.credit(credit("hup", 4)).balance.available == 7, "new connections are served")
        await another.close()
        await client.close()
        let log = (try? String(contentsOfFile: daemon.logPath, encoding: .utf8)) ?? ""
        #expect(log.components(separatedBy: "SIGHUP received: ignored, still serving").count == 3, "each SIGHUP is logged: \(log)")

        #expect(try await daemon.terminate() == 0, "SIGTERM still stops it cleanly")
        #expect(!FileManager.default.fileExists(atPath: scratch.socket), "and removes its socket")
    }
}
