import Foundation
import Glibc
import Testing
import TallyClient
import TallyStore

/// A data directory wiped under a running tallyd (A) while a new tallyd (B)
/// takes the path. A used to keep writing snapshots into B's directory by name, and B's
/// recovery then took A's state and lost what B had acknowledged.
@Suite struct DataDirectoryReplacedTests {
    final class Tallyd {
        let process: ChildProcess
        let log: String

        init(data: String, socket: String, log: String, arguments: [String] = []) throws {
            self.log = log
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            process = try ChildProcess(
                try CrashTests.tallydPath(), ["--data-dir", data, "--socket", socket, "--log-level", "notice"] + arguments,
                stdout: .file(log), stderr: .file(log))
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

    /// A snapshot of another directory copied in (or written by a tallyd that kept going) is
    /// named by verify and by tallyd, and never used; a restored directory gets an id of its own.
    @Test func anotherDirectorysSnapshotIsNamedAndNeverUsed() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let dataA = scratch.root + "/a", dataB = scratch.root + "/b"
        let socketA = scratch.root + "/a.sock", socketB = scratch.root + "/b.sock"

        let a = try Tallyd(data: dataA, socket: socketA, log: scratch.root + "/a.log", arguments: ["--snapshot-interval", "1"])
        defer { a.kill9() }
        try await a.waitUntilServing(socketA)
        let clientA = try await TallyClient.connect(socketPath: socketA)
        for i in 1...3 { _ = try await clientA.credit(credit("old\(i)", 7)) }
        await clientA.close()
        var snapshotsA: [(sequence: UInt64, path: String)] = []
        // One that holds all three credits (records 1-3): an earlier one may hold fewer.
        for _ in 0..<100 where (snapshotsA.first?.sequence ?? 0) < 3 {
            try await Task.sleep(for: .milliseconds(100))
            snapshotsA = try SnapshotFile.list(in: dataA)
        }
        let fromA = try #require(snapshotsA.first)
        a.kill9()
        let idA = try #require(try DirectoryIdentity.find(in: dataA).id)

        var b = try Tallyd(data: dataB, socket: socketB, log: scratch.root + "/b1.log")
        try await b.waitUntilServing(socketB)
        let clientB = try await TallyClient.connect(socketPath: socketB)
        #expect(try await clientB.credit(credit("alice", 100)).balance.available == 100)
        await clientB.close()
        b.kill9()
        let idB = try #require(try DirectoryIdentity.find(in: dataB).id)
        #expect(idA != idB)

        // Newer by its name than anything of B's.
        let foreign = dataB + "/" + SnapshotFile.fileName(sequence: 999)
        try FileManager.default.copyItem(atPath: fromA.path, toPath: foreign)
        let verify = try runTallyd(["verify", dataB])
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.output.contains("FOREIGN, not used: \(foreign) belongs to data directory \(idA), not this one (\(idB))"), "\(verify.output)")
        #expect(verify.output.contains("1 accounts"), "only alice: \(verify.output)")

        b = try Tallyd(data: dataB, socket: socketB, log: scratch.root + "/b2.log")
        defer { b.kill9() }
        try await b.waitUntilServing(socketB)
        let again = try await TallyClient.connect(socketPath: socketB)
        #expect(try await again.getBalance(userID: "alice").available == 100, "B kept what it acknowledged")
        #expect(try await again.getBalance(userID: "old1").available == 0, "and never shows A's accounts")
        await again.close()
        #expect(b.output.contains("FOREIGN, not used: \(foreign)"), "tallyd named it too: \(b.output)")
        #expect(FileManager.default.fileExists(atPath: foreign), "left for the operator")

        // Restored from A's snapshot (a backup is one), a directory is a new one: a new id, in
        // DIRECTORY_ID and in the snapshot's header.
        let restored = scratch.root + "/restored"
        let restore = try runTallyd(["restore", fromA.path, "--data-dir", restored])
        #expect(restore.status == 0, "\(restore.output)")
        let idRestored = try #require(try DirectoryIdentity.find(in: restored).id)
        #expect(idRestored != idA && restore.output.contains("directory id \(idRestored)"), "\(restore.output)")
        let snapshot = try #require(try SnapshotFile.list(in: restored).first)
        #expect(try SnapshotFile.header(atPath: snapshot.path).directoryID == idRestored)
        let verifyRestored = try runTallyd(["verify", restored])
        #expect(verifyRestored.status == 0 && verifyRestored.output.contains("3 accounts") && !verifyRestored.output.contains("FOREIGN"),
            "\(verifyRestored.output)")
    }
}
