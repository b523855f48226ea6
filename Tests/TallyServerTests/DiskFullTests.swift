import Foundation
import Glibc
import Testing
import TallyClient
import TallyLedger
import TallyServer
import TallyStore
import TallyWire

/// A real full disk: the data directory on a 16 MiB tmpfs that the test mounts (root only; CI
/// runs as root), filled by a file until writes fail with ENOSPC, then freed. tallyd refuses
/// mutations while it is full, answers reads, takes mutations again on its own within seconds
/// of the space coming back, and loses nothing it acknowledged, before or after a restart.
@Suite(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
struct DiskFullTests {
    static func run(_ arguments: [String]) throws {
        let run = ChildProcess.run("/usr/bin/env", arguments)
        guard run.status == 0 else {
            throw TallyError(code: .internal, reason: "TEST_SETUP", message: "\(arguments.joined(separator: " ")) failed: \(run.err)")
        }
    }

    /// A 16 MiB tmpfs mounted in `scratch` (the caller unmounts it); returns its path.
    static func mountSmallDisk(in scratch: Scratch) throws -> String {
        let mount = scratch.root + "/disk"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        try run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mount])
        return mount
    }

    /// Writes `path` until the file system is full; returns the bytes written.
    static func fill(_ path: String) throws -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw TallyError(code: .internal, reason: "TEST_SETUP", message: "cannot create \(path)") }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0xAB, count: 64 << 10)
        var written = 0
        while true {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            if n <= 0 { break }
            written += n
        }
        return written
    }

    /// An audit archive append that runs out of space part-way leaves the file as it was (its
    /// flushed pieces would otherwise be appended again, every entry in them twice); once space
    /// is back, the same batch goes in whole, every id once.
    @Test func anAuditArchiveAppendCutShortLeavesTheFileAsItWas() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let mount = try Self.mountSmallDisk(in: scratch)
        defer { try? Self.run(["umount", "-l", mount]) }
        let id = DirectoryID(high: 0xA0D1, low: 7)
        func entries(_ ids: ClosedRange<UInt64>) -> [AuditEntry] {
            ids.map {
                AuditEntry(
                    id: $0, at: 1_700_000_000_000_000 + Int64($0), origin: AuditOrigin(uid: 1, gid: 2, role: "app", method: "/tally.v1.Ledger/Spend"),
                    userID: "user-\($0)", code: 0, reason: "", message: String(repeating: "m", count: 200), transactionIDs: [$0])
            }
        }
        let archive = try AuditArchive(dataDirectory: mount, directoryID: id)
        #expect(try archive.append(entries(1...100)) == 100)
        let before = try FileManager.default.attributesOfItem(atPath: archive.path)[.size] as! Int
        // Leave 2 MiB free: the next batch (about 7 MB) fails after a piece or two is written.
        let filler = mount + "/filler"
        _ = try Self.fill(filler)
        try FileManager.default.removeItem(atPath: filler)
        let fd = open(filler, O_WRONLY | O_CREAT, 0o600)
        #expect(fd >= 0)
        let space = try FileManager.default.attributesOfFileSystem(forPath: mount)[.systemFreeSize] as! Int
        #expect(posix_fallocate(fd, 0, off_t(space - (2 << 20))) == 0)
        close(fd)
        #expect(throws: (any Error).self) { try archive.append(entries(1...20_000)) }
        let after = try FileManager.default.attributesOfItem(atPath: archive.path)[.size] as! Int
        #expect(after == before, "the file is cut back to where the failed append began")
        #expect(archive.archivedThrough == 100)
        try FileManager.default.removeItem(atPath: filler)
        #expect(try archive.append(entries(1...20_000)) == 19_900)
        let text = try String(contentsOfFile: archive.path, encoding: .utf8)
        let ids = try text.split(separator: "\n").dropFirst().map { try Tally_V1_AuditEntry(jsonString: String($0)).id }
        #expect(ids == Array(1...20_000), "every id once, in order")
    }

    @Test func aFullDiskRefusesMutationsThenResumesOnItsOwnLosingNothing() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let mount = try Self.mountSmallDisk(in: scratch)
        defer { try? Self.run(["umount", "-l", mount]) }
        let data = mount + "/data"
        var server = try await scratch.start { $0.dataDirectory = data }
        var client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("carol", 1, key: "first"))

        let filler = mount + "/filler"
        let filled = try Self.fill(filler)
        #expect(filled > 8 << 20, "the filler took the free space (\(filled) bytes)")

        // Keyed credits until the journal needs space it cannot get (it writes up to 1 MiB of
        // zeros ahead of its records, so the first few thousand still fit).
        var acknowledged: Int64 = 1
        var refusedKeys: [String] = []
        var batch = 0
        while refusedKeys.isEmpty, batch < 200 {
            let requests = try (0..<200).map { i in
                try envelope(Method.credit.rawValue, credit("carol", 1, key: "k\(batch)-\(i)"), callID: UInt64(i + 1))
            }
            for (i, response) in try await client.sendAll(requests).enumerated() {
                if response.code == .ok {
                    acknowledged += 1
                } else {
                    #expect(response.code == .unavailable && response.reason == "JOURNAL_FAILED", "\(response)")
                    refusedKeys.append("k\(batch)-\(i)")
                }
            }
            batch += 1
        }
        try #require(!refusedKeys.isEmpty, "the full disk made the journal fail")
        #expect(try await client.getBalance(userID: "carol").available == acknowledged, "reads answer the durable state")

        // Still full: still refused, whatever tallyd tries on its own meanwhile.
        try await Task.sleep(for: .milliseconds(600))
        let still = await #expect(throws: TallyError.self) { try await client.credit(credit("carol", 1, key: "still")) }
        #expect(still?.reason == "JOURNAL_FAILED")

        // Space comes back: mutations resume within 5 s, no restart.
        unlink(filler)
        let freedAt = ContinuousClock.now
        let resumed = try await retryUntilAccepted(seconds: 5) { try await client.credit(credit("carol", 1, key: "after")) }
        let waited = ContinuousClock.now - freedAt
        #expect(waited < .seconds(5), "resumed \(waited) after the space came back")
        acknowledged += 1
        #expect(resumed.balance.available == acknowledged && !resumed.replayed)
        // Every refused key applies exactly once on retry; every acknowledged one is a replay.
        for key in refusedKeys.prefix(20) {
            let retried = try await client.credit(credit("carol", 1, key: key))
            #expect(!retried.replayed, "\(key) was answered JOURNAL_FAILED and never applied")
            acknowledged += 1
        }
        #expect(try await client.credit(credit("carol", 1, key: "k0-0")).replayed)
        #expect(try await client.getBalance(userID: "carol").available == acknowledged)

        await client.close()
        try await server.shutdown()
        server = try await scratch.start { $0.dataDirectory = data }
        client = try await TallyClient.connect(socketPath: scratch.socket)
        #expect(try await client.getBalance(userID: "carol").available == acknowledged, "after a restart too")
        await client.close()
        try await server.shutdown()
    }
}
