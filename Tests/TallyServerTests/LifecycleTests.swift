import Foundation
import Glibc
import Testing
import TallyClient
import TallyLedger
import TallyServer
import TallyStore
import TallyWire

@Suite struct LifecycleTests {
    @Test func cleanRestartKeepsEveryBalance() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var server = try await scratch.start()
        var client = try await TallyClient.connect(socketPath: scratch.socket)
        for i in 0..<20 {
            _ = try await client.credit(credit("user-\(i)", Int64(100 + i), key: "k\(i)", kind: .purchase))
            _ = try await client.spend(spend("user-\(i)", Int64(i + 1)))
        }
        _ = try? await client.spend(spend("user-0", 1_000, key: "refused-once"))
        await client.close()
        let before = await server.currentLedger()
        try await server.shutdown()
        #expect(!FileManager.default.fileExists(atPath: scratch.socket), "socket file removed on clean shutdown")

        server = try await scratch.start()
        #expect(server.startup.loadedSnapshot && server.startup.accounts == 20)
        #expect(await server.currentLedger() == before)
        client = try await TallyClient.connect(socketPath: scratch.socket)
        for i in 0..<20 {
            #expect(try await client.getBalance(userID: "user-\(i)").available == 99)
        }
        // Remembered answers survive too: the retry replays, the refusal stays a refusal.
        #expect(try await client.credit(credit("user-3", 103, key: "k3", kind: .purchase)).replayed)
        _ = try await client.credit(credit("user-0", 5_000))
        let refusal = await #expect(throws: TallyError.self) { try await client.spend(spend("user-0", 1_000, key: "refused-once")) }
        #expect(refusal?.reason == "INSUFFICIENT_TOKENS")
        await client.close()
        try await server.shutdown()
    }

    @Test func periodicSnapshotIsWrittenWhileRunning() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start { $0.snapshots.intervalSeconds = 1 }
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("p", 9))
        for _ in 0..<100 where try SnapshotFile.list(in: scratch.data).isEmpty {
            try await Task.sleep(for: .milliseconds(100))
        }
        // Read it back as a second process would after a crash.
        let snapshot = try #require(try SnapshotFile.list(in: scratch.data).first)
        let (state, sequence) = try SnapshotFile.read(snapshot.path, config: LedgerConfig())
        #expect(state.balance(of: "p").account.available == 9 && sequence == 1)
        await client.close()
        try await server.shutdown()
    }

    @Test func socketFileHasMode0660() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        var info = stat()
        #expect(stat(scratch.socket, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o660)
        #expect(info.st_mode & S_IFMT == S_IFSOCK)
        try await server.shutdown()
    }

    @Test func socketGroupIsConfigurable() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start { $0.socketGroup = "daemon" }  // a group every Debian has
        var info = stat()
        #expect(stat(scratch.socket, &info) == 0)
        #expect(info.st_gid == getgrnam("daemon")!.pointee.gr_gid)
        #expect(info.st_mode & 0o777 == 0o660)
        try await server.shutdown()
        let error = await #expect(throws: (any Error).self) {
            _ = try await scratch.start { $0.socketGroup = "no-such-group-tally" }
        }
        #expect("\(error!)".contains("no-such-group-tally"))
    }

    @Test func staleSocketFromACrashedRunIsReplaced() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // A socket file nobody listens on, as a kill -9 leaves behind.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(withUnixAddress(scratch.socket) { bind(fd, $0, $1) } == 0)
        close(fd)
        #expect(FileManager.default.fileExists(atPath: scratch.socket))

        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        #expect(try await client.getBalance(userID: "x").version == 0)
        await client.close()
        try await server.shutdown()
    }

    @Test func liveSocketIsNotTakenOver() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let other = scratch.root + "/other-data"
        let error = await #expect(throws: (any Error).self) {
            _ = try await TallyServer.start(config: scratch.config { $0.dataDirectory = other })
        }
        #expect("\(error!)".contains("already serving"))
        // The first tallyd is unharmed.
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        #expect(try await client.getBalance(userID: "x").version == 0)
        await client.close()
        try await server.shutdown()
    }

    @Test func secondTallydOnTheSameDataDirectoryIsRefused() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let error = await #expect(throws: (any Error).self) {
            _ = try await TallyServer.start(config: scratch.config { $0.socketPath = scratch.root + "/b.sock" })
        }
        #expect("\(error!)".contains("in use by another tallyd"))
        try await server.shutdown()
    }

    /// A damaged snapshot is reported and skipped: the journal still holds everything, so
    /// nothing is lost. Without the journal, start-up stops and says what is wrong and where.
    @Test func corruptSnapshotIsSkippedWhileTheJournalCanReplaceIt() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("c", 1))
        await client.close()
        try await server.shutdown()
        let path = try #require(try SnapshotFile.list(in: scratch.data).first).path
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 3] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))

        server = try await scratch.start()
        #expect(server.startup.recovery.skippedSnapshots.count == 1)
        #expect(server.startup.recovery.skippedSnapshots[0].contains(path))
        #expect(await server.currentLedger().balance(of: "c").account.available == 1)
        try await server.shutdown()

        // The shutdown wrote a good snapshot again; damage it and take the journal away.
        let newest = try #require(try SnapshotFile.list(in: scratch.data).first).path
        var again = try Data(contentsOf: URL(fileURLWithPath: newest))
        again[again.count - 3] ^= 0xFF
        try again.write(to: URL(fileURLWithPath: newest))
        for old in try SnapshotFile.list(in: scratch.data).dropFirst() {
            try FileManager.default.removeItem(atPath: old.path)
        }
        try FileManager.default.removeItem(atPath: scratch.data + "/journal")
        let error = await #expect(throws: (any Error).self) { server = try await scratch.start() }
        #expect("\(error!)".contains(newest) && "\(error!)".contains("checksum"), "\(error!)")
    }
}

@Suite struct AdminTests {
    @Test func snapshotOnDemandHoldsEverythingAnsweredBeforeIt() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("s", 1))
        let first: Tally_V1_SnapshotResponse = try await client.unary(.snapshot, Tally_V1_SnapshotRequest())
        #expect(first.journalSequence == 1 && first.accounts == 1)
        // Several at once while mutations go on: each holds at least what was answered before it.
        _ = try await client.credit(credit("s", 1))
        let answers = try await withThrowingTaskGroup(of: Tally_V1_SnapshotResponse.self) { group in
            for _ in 0..<3 {
                group.addTask { try await client.unary(.snapshot, Tally_V1_SnapshotRequest()) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.allSatisfy { $0.journalSequence >= 2 }, "\(answers)")
        let (state, sequence) = try SnapshotFile.read(answers[0].path, config: LedgerConfig())
        #expect(sequence >= 2 && state.balance(of: "s").account.available == 2)
        await client.close()
        try await server.shutdown()
    }

    @Test func backupRefusesPathsItMustNotWrite() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("b", 7))
        for path in ["relative.tally", scratch.root + "/no-such-dir/x.tally", scratch.socket] {
            let error = await #expect(throws: TallyError.self) {
                let _: Tally_V1_BackupResponse = try await client.unary(.backup, Tally_V1_BackupRequest.with { $0.path = path })
            }
            #expect(error?.code == .invalidArgument && error?.reason == "BACKUP_PATH_INVALID", "\(path)")
        }
        let path = scratch.root + "/backup.tally"
        let backup: Tally_V1_BackupResponse = try await client.unary(.backup, Tally_V1_BackupRequest.with { $0.path = path })
        #expect(backup.path == path && backup.journalSequence == 1 && backup.accounts == 1)
        #expect(try SnapshotFile.read(path, config: LedgerConfig()).ledger.balance(of: "b").account.available == 7)
        await client.close()
        try await server.shutdown()
    }
}
