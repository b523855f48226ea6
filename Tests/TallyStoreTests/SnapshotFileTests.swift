import Foundation
import TallyCodec
import TallyWire
import Testing

@testable import TallyLedger
@testable import TallyStore

@Suite struct SnapshotFileTests {
    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tally-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A ledger with every kind of record: accounts, history, remembered answers and refusals.
    func sampleLedger() -> Ledger {
        var ledger = Ledger(config: LedgerConfig(idempotencyTTL: 10_000))
        var now: Timestamp = 1_700_000_000_000_000
        func tick() -> Timestamp { now += 7; return now }
        for (i, kind) in CreditKind.allCases.enumerated() {
            _ = ledger.apply(.credit(Credit(userID: "user-\(i)", amount: Int64(100 * (i + 1)), kind: kind, reference: "ref \(i)", memo: "mémo ✓", idempotencyKey: "c\(i)")), at: tick())
        }
        _ = ledger.apply(.spend(Spend(userID: "user-1", amount: 50, reference: "chat", idempotencyKey: "s1")), at: tick())
        _ = ledger.apply(.spend(Spend(userID: "user-0", amount: 5_000, idempotencyKey: "refused")), at: tick())
        _ = ledger.apply(.credit(Credit(userID: "big", amount: Int64.max - 1_000, kind: .grant)), at: tick())
        return ledger
    }

    @Test func roundTripRestoresTheSameState() throws {
        let directory = try temporaryDirectory()
        let ledger = sampleLedger()
        #expect(ledger.invariantViolations() == [])
        let written = try SnapshotFile.writeAndPrune(ledger, sequence: 42, directoryID: .test, in: directory)
        #expect(written.bytes > 0 && written.path == directory + "/" + SnapshotFile.fileName(sequence: 42))
        let (loaded, sequence) = try SnapshotFile.read(written.path, config: ledger.config)
        #expect(loaded == ledger && sequence == 42)
        // The restored state keeps working exactly like the original: same next answers.
        var a = ledger, b = loaded
        let command = Command.spend(Spend(userID: "user-1", amount: 50, reference: "chat", idempotencyKey: "s1"))
        #expect(a.apply(command, at: ledger.lastTimestamp + 1) == b.apply(command, at: ledger.lastTimestamp + 1))
        #expect(a == b)
    }

    @Test func aLargeStateIsWrittenInPartsAndReadsBackTheSame() throws {
        // More transactions and audit entries than one part holds, and more bytes than one
        // flush: the streamed file equals the one encoded whole, and reads back the same.
        let directory = try temporaryDirectory()
        var ledger = Ledger(config: LedgerConfig(idempotencyTTL: 10_000))
        let origin = AuditOrigin(uid: 1, gid: 1, role: "app", method: "/tally.v1.Ledger/Credit")
        let memo = String(repeating: "m", count: 1_000)
        for i in 0..<(2 * LedgerSnapshot.recordsPerPart + 17) {
            _ = ledger.apply(
                .credit(Credit(userID: "u\(i % 300)", amount: 1, kind: .grant, memo: memo)), at: ledger.lastTimestamp + 1,
                origin: i % 2 == 0 ? origin : nil)
        }
        let path = directory + "/large.tally"
        #expect(ledger.transactions.count > 2 * LedgerSnapshot.recordsPerPart && ledger.auditLog.count > LedgerSnapshot.recordsPerPart)
        let bytes = try SnapshotFile.write(ledger, sequence: 7, directoryID: .test, to: path)
        #expect(bytes > FlushingFile.flushBytes)
        let file = try #require(try DurableFile.read(path))
        #expect(file == (try SnapshotFile.encode(ledger, sequence: 7, directoryID: .test)) && file.count == bytes)
        let (loaded, sequence) = try SnapshotFile.read(path, config: ledger.config)
        #expect(loaded == ledger && sequence == 7)
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
    }

    @Test func accountsKeysAndUsageUsersAreWrittenInPartsInKeyOrder() throws {
        // More accounts, idempotency records and usage users than one part holds: the parts
        // concatenate into one message whose lists are in key order, and it reads back the same.
        let directory = try temporaryDirectory()
        var ledger = Ledger(config: LedgerConfig(idempotencyTTL: 10_000_000))
        let count = 2 * LedgerSnapshot.recordsPerPart + 5
        for i in 0..<count {
            let now = ledger.lastTimestamp + 1
            _ = ledger.apply(.credit(Credit(userID: "u\(i)", amount: 2, kind: .grant, idempotencyKey: "k\(i)")), at: now)
            _ = ledger.apply(.consume(Consume(userID: "g\(i)", tokens: 3)), at: now + 1, day: UsageDay.utc(containing: now + 1))
        }
        #expect(ledger.accounts.count == count && ledger.idempotency.records.count == count && ledger.usage.users.count == count)
        let path = directory + "/keyed.tally"
        _ = try SnapshotFile.write(ledger, sequence: 3, directoryID: .test, to: path)
        let (loaded, sequence) = try SnapshotFile.read(path, config: ledger.config)
        #expect(loaded == ledger && sequence == 3)
        let message = try Tally_Store_V1_Snapshot(serializedBytes: try LedgerSnapshot.encode(ledger))
        #expect(message.accounts.map(\.userID) == ledger.accounts.keys.sorted().map(\.value))
        #expect(message.idempotencyRecords.count == count && message.usage.users.count == count)
        #expect(message.usage.users.map(\.userID) == message.usage.users.map(\.userID).sorted())
        #expect(message.usage.defaultTier == ledger.usage.limits.defaultTier.value, "the usage parts merged into the head's")
    }

    @Test func recordIDsOutsideTheIDsHandedOutAreRefused() throws {
        var ledger = sampleLedger()
        _ = ledger.apply(
            .credit(Credit(userID: "audited", amount: 1, kind: .grant)), at: ledger.lastTimestamp + 1,
            origin: AuditOrigin(uid: 1, gid: 1, role: "app", method: "/tally.v1.Ledger/Credit"))
        let good = try Tally_Store_V1_Snapshot(serializedBytes: try LedgerSnapshot.encode(ledger))
        var stray = good
        // A damaged id: refused, not laid out up to 2^60. In a chunk (format 3)...
        var chunk = [UInt8](stray.transactionChunks[0])
        withUnsafeBytes(of: (UInt64(1) << 60).littleEndian) { chunk.replaceSubrange(0..<8, with: $0) }
        stray.transactionChunks[0] = Data(chunk)
        #expect(throws: StoreError("chunk of ids \((1 << 60) + 1) to \((1 << 60) + 6) holds ids outside those handed out (1 to \(good.nextTransactionID) exclusive)")) {
            _ = try LedgerSnapshot.decode(try stray.serializedBytes(), config: ledger.config)
        }
        // ...and as a message (formats 1 and 2).
        stray = good
        stray.transactionChunks = []
        stray.transactions = ledger.transactions.map { Tally_V1_Transaction($0.value) }
        #expect(try LedgerSnapshot.decode(try stray.serializedBytes(), config: ledger.config).ledger == ledger, "format 2 still reads")
        stray.transactions[0].id = 1 << 60
        #expect(throws: StoreError("transaction \(1 << 60) is outside the ids handed out (1 to \(good.nextTransactionID) exclusive)")) {
            _ = try LedgerSnapshot.decode(try stray.serializedBytes(), config: ledger.config)
        }
        stray = good
        stray.audit[0].id = good.nextAuditID
        #expect(throws: StoreError.self) { _ = try LedgerSnapshot.decode(try stray.serializedBytes(), config: ledger.config) }
        #expect(try LedgerSnapshot.decode(try good.serializedBytes(), config: ledger.config).ledger == ledger)
    }

    /// Format 3's payload is the message's parts, each after its length: parts that do not add
    /// up to the payload are refused, even with a checksum that matches them.
    @Test(arguments: [("a length past the end", "says"), ("a length cut off", "part length cut off")])
    func framedPartsThatDoNotAddUpAreRefused(damage: String, expected: String) throws {
        let directory = try temporaryDirectory()
        let path = directory + "/" + SnapshotFile.fileName(sequence: 1)
        try SnapshotFile.write(sampleLedger(), sequence: 1, directoryID: .test, to: path)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var payload = Array(bytes[SnapshotFile.headerBytes...])
        if damage == "a length past the end" { payload[3] = 0x7F } else { payload += [1, 2] }
        var header = Array(bytes[..<SnapshotFile.headerBytes])
        var fields: [UInt8] = []
        JournalRecord.appendBigEndian(UInt64(payload.count), to: &fields)
        JournalRecord.appendBigEndian(CRC32C.checksum(payload), to: &fields)
        header.replaceSubrange(12..<24, with: fields)
        bytes = header + payload
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: StoreError.self) { try SnapshotFile.read(path, config: LedgerConfig()) }
        #expect(error.description.contains(expected), "\(error)")
    }

    /// The same state encodes to the same bytes whatever history built its collections: a
    /// state decoded from a snapshot (every collection filled in key order) encodes as the live
    /// one did (filled in the order of the commands). What one process cannot show is another
    /// hash seed, which reorders every hashed collection: that is why keys are written sorted,
    /// checked in accountsKeysAndUsageUsersAreWrittenInPartsInKeyOrder.
    @Test func sameStateEncodesToTheSameBytes() throws {
        let live = sampleLedger()
        let bytes = try LedgerSnapshot.encode(live)
        let decoded = try LedgerSnapshot.decode(bytes, config: live.config).ledger
        #expect(decoded == live)
        #expect(try LedgerSnapshot.encode(decoded) == bytes)
    }

    /// Backups go where a client asked: nothing that exists there is ever overwritten, not the
    /// path itself and not a file named like the temp file beside it.
    @Test func writingWithoutReplaceNeverOverwrites() throws {
        let directory = try temporaryDirectory()
        let path = directory + "/backup.tally"
        let theirs = Data("someone else's file".utf8)
        try theirs.write(to: URL(fileURLWithPath: path))
        #expect(throws: StoreError.self) { try SnapshotFile.write(sampleLedger(), sequence: 1, directoryID: .test, to: path, replace: false) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == theirs)

        let other = directory + "/other.tally"
        try theirs.write(to: URL(fileURLWithPath: other + ".tmp"))
        #expect(throws: StoreError.self) { try SnapshotFile.write(sampleLedger(), sequence: 1, directoryID: .test, to: other, replace: false) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: other + ".tmp")) == theirs)
        #expect(!FileManager.default.fileExists(atPath: other))

        let fresh = directory + "/fresh.tally"
        try SnapshotFile.write(sampleLedger(), sequence: 1, directoryID: .test, to: fresh, replace: false)
        #expect(try SnapshotFile.read(fresh, config: LedgerConfig(idempotencyTTL: 10_000)).ledger == sampleLedger())
        #expect(!FileManager.default.fileExists(atPath: fresh + ".tmp"))
    }

    @Test func noSnapshotsInANewDirectory() throws {
        #expect(try SnapshotFile.list(in: try temporaryDirectory()).isEmpty)
    }

    /// The newest two are kept (the older one in case the newest is damaged), no temp files.
    @Test func writingKeepsTheNewestTwoAndNoTemporaryFile() throws {
        let directory = try temporaryDirectory()
        var ledger = sampleLedger()
        var oldestKept: [UInt64?] = []
        for sequence in [3, 7, 20, 21] as [UInt64] {
            _ = ledger.apply(.credit(Credit(userID: "late", amount: 1, kind: .grant)), at: ledger.lastTimestamp + 1)
            oldestKept.append(try SnapshotFile.writeAndPrune(ledger, sequence: sequence, directoryID: .test, in: directory).oldestKept)
        }
        #expect(oldestKept == [nil, 3, 7, 20])
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names == [SnapshotFile.fileName(sequence: 20), SnapshotFile.fileName(sequence: 21)])
        let newest = try #require(try SnapshotFile.list(in: directory).first)
        #expect(newest.sequence == 21)
        #expect(try SnapshotFile.read(newest.path, config: ledger.config).ledger == ledger)
    }

    /// Each kind of damage stops loading with an error that names the file and the problem.
    @Test(arguments: [
        ("flipped payload byte", "checksum mismatch"),
        ("truncated", "payload bytes"),
        ("bad magic", "bad header"),
        ("future format", "format 4"),
        ("empty file", "bad header"),
    ])
    func damagedSnapshotIsReportedNotGuessed(damage: String, expected: String) throws {
        let directory = try temporaryDirectory()
        let path = directory + "/" + SnapshotFile.fileName(sequence: 1)
        try SnapshotFile.write(sampleLedger(), sequence: 1, directoryID: .test, to: path)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        switch damage {
        case "flipped payload byte": bytes[bytes.count / 2] ^= 0x40
        case "truncated": bytes.removeLast(10)
        case "bad magic": bytes[0] = UInt8(ascii: "X")
        case "future format": bytes[11] = 4
        default: bytes = []
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: StoreError.self) {
            try SnapshotFile.read(path, config: LedgerConfig())
        }
        #expect(error.description.contains(path), "\(error)")
        #expect(error.description.contains(expected), "\(error)")
    }

    @Test func stateThatBreaksInvariantsIsRefused() throws {
        // A well-formed snapshot whose numbers do not add up (mint does not balance the users).
        var broken = Tally_Store_V1_Snapshot()
        broken.mint = -10
        broken.accounts = [.with { $0.userID = "x"; $0.available = 11; $0.totalEarned = 11; $0.version = 0 }]
        #expect(throws: StoreError.self) {
            try LedgerSnapshot.decode(try broken.serializedBytes(), config: LedgerConfig())
        }
    }

    @Test func crc32cMatchesTheStandardCheckValue() {
        // The CRC-32C check value from the catalogue of parametrised CRCs.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
    }
}
