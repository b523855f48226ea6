import Foundation
import Glibc
import Testing
import TallyClient
import TallyStore

/// Issue 14's session: a data directory wiped under a running tallyd (A) while a new tallyd (B)
/// takes the path. A used to keep writing snapshots into B's directory by name, and B's
/// recovery then took A's state and lost what B had acknowledged.
@Suite struct DataDirectoryReplacedTests {
    final class Tallyd {
        let process = Process()
        let log: String

        init(data: String, socket: String, log: String, arguments: [String] = []) throws {
            self.log = log
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            process.executableURL = URL(fileURLWithPath: try CrashTests.tallydPath())
            process.arguments = ["--data-dir", data, "--socket", socket, "--log-level", "notice"] + arguments
            process.standardOutput = FileHandle(forWritingAtPath: log)
            process.standardError = FileHandle(forWritingAtPath: log)
            try process.run()
        }

        var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        func waitUntilServing(_ socket: String) async throws {
            try await waitUntilTallydServes(process, socket: socket, log: log)
        }

        func kill9() {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    @Test func aTallydWhoseDirectoryWasReplacedStopsAndWritesNothingThere() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = scratch.root + "/d"
        let socketA = scratch.root + "/a.sock", socketB = scratch.root + "/b.sock"

        let a = try Tallyd(data: data, socket: socketA, log: scratch.root + "/a.log", arguments: ["--snapshot-interval", "1"])
        defer { a.kill9() }
        try await a.waitUntilServing(socketA)
        let clientA = try await TallyClient.connect(socketPath: socketA)
        for i in 1...20 { _ = try await clientA.credit(credit("old\(i)", 7)) }

        // Wiped while A runs; B takes the path (a new LOCK file) and acknowledges a credit.
        try FileManager.default.removeItem(atPath: data)
        var b = try Tallyd(data: data, socket: socketB, log: scratch.root + "/b1.log")
        try await b.waitUntilServing(socketB)
        let clientB = try await TallyClient.connect(socketPath: socketB)
        #expect(try await clientB.credit(credit("alice", 100)).balance.available == 100)
        await clientB.close()
        // A call A may still take before it notices: its next snapshot would then go to the
        // path, now B's directory, with a higher record number than B's.
        _ = try? await clientA.credit(credit("old21", 7))

        // A notices within seconds, refuses, writes nothing, and exits non-zero.
        for _ in 0..<100 where a.process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!a.process.isRunning, "A stopped by itself: \(a.output)")
        #expect(a.process.terminationStatus == 1)
        #expect(a.output.contains("no longer this tallyd's"), "A said why: \(a.output)")
        #expect(!a.output.contains("final snapshot written"), "A wrote no final snapshot: \(a.output)")
        await clientA.close()
        // The snapshots in the directory, if any, are B's (A snapshotted every second).
        try await Task.sleep(for: .milliseconds(1_500))

        b.kill9()
        b = try Tallyd(data: data, socket: socketB, log: scratch.root + "/b2.log")
        defer { b.kill9() }
        try await b.waitUntilServing(socketB)
        let again = try await TallyClient.connect(socketPath: socketB)
        #expect(try await again.getBalance(userID: "alice").available == 100, "B kept what it acknowledged")
        #expect(try await again.getBalance(userID: "old3").available == 0, "and never shows A's accounts")
        await again.close()
    }
}
