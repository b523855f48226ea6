import Foundation
import TallyLedger
import Testing

@testable import TallyStore

/// A data directory's id (DIRECTORY_ID, and every snapshot's and segment's header): recovery uses
/// only the directory's own files and names any other; files from before directory ids still load.
@Suite struct DirectoryIdentityTests {
    static let config = LedgerConfig(idempotencyTTL: JournalCommandMix.ttl)
    static let seed: UInt64 = 0x1D_7A11_0000_0001
    static let stranger = DirectoryID(high: 0xBAD, low: 0xF00D)

    /// Segments 1..10 and 11..20 of the test id, closed, no snapshot.
    func fixture(_ label: String) throws -> TallydSimulation {
        try TallydSimulation.journalOnly(label, segments: [1, 11], last: 20, seed: Self.seed, config: Self.config)
    }

    func intruderLedger() -> Ledger {
        var ledger = Ledger(config: Self.config)
        _ = ledger.apply(.credit(Credit(userID: "intruder", amount: 7, kind: .grant)), at: 1_700_000_000_000_000)
        return ledger
    }

    @Test func anotherDirectorysSnapshotAndSegmentAreNamedAndNeverUsed() throws {
        let sim = try fixture("foreign-files")
        defer { JournalTestKit.remove(sim.directory) }
        #expect(try DirectoryIdentity.establish(in: sim.directory).id == .test)
        // Newer than anything of the directory's own: a tallyd that kept writing into a
        // directory recreated under it would leave exactly these.
        let snapshot = JournalTestKit.snapshotPath(sim.directory, 30)
        try SnapshotFile.write(intruderLedger(), sequence: 30, directoryID: Self.stranger, to: snapshot)
        let segment = JournalTestKit.segmentPath(sim.directory, 21)
        try JournalTestKit.write(JournalSegment.header(Self.stranger), to: segment)

        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(recovered.ledger == sim.states[20], "seed \(Self.seed)")
        #expect(recovered.ledger.accounts["intruder"] == nil)
        #expect(recovered.report.snapshotPath == nil && recovered.report.lastSequence == 20 && recovered.segments == [1, 11])
        #expect(recovered.report.directoryID == .test)
        #expect(Set(recovered.report.foreignFiles.map(\.path)) == [snapshot, segment])
        #expect(recovered.report.foreignFiles.allSatisfy { $0.directoryID == Self.stranger })
        let text = recovered.report.description
        #expect(text.contains("FOREIGN, not used: \(snapshot) belongs to data directory \(Self.stranger), not this one (\(DirectoryID.test))"), "\(text)")
        #expect(text.contains("Move it out of the data directory"), "\(text)")
        #expect(JournalTestKit.exists(snapshot) && JournalTestKit.exists(segment), "never removed")

        // The journal never writes into a file it did not make: the next segment's name is taken.
        let error = try #require(throws: StoreError.self) {
            try FileJournal(
                dataDirectory: sim.directory, directoryID: .test, nextSequence: 21, existingSegments: recovered.segments, mode: .always)
        }
        #expect(error.description.contains("\(segment)") && error.description.contains("already there"), "\(error)")
        #expect(try JournalTestKit.read(segment) == JournalSegment.header(Self.stranger), "untouched")

        // Pruning keeps to the directory's own snapshots.
        var ledger = recovered.ledger
        for sequence in [20, 21, 22] as [UInt64] {
            _ = ledger.apply(.credit(Credit(userID: "own", amount: 1, kind: .grant)), at: ledger.lastTimestamp + 1)
            _ = try SnapshotFile.writeAndPrune(ledger, sequence: sequence, directoryID: .test, in: sim.directory)
        }
        #expect(try SnapshotFile.list(in: sim.directory).map(\.sequence) == [30, 22, 21])
    }

    @Test func aLostIDFileIsAdoptedFromTheFilesAndTwoIDsAreRefused() throws {
        let sim = try fixture("adopted-id")
        defer { JournalTestKit.remove(sim.directory) }
        #expect(try DirectoryIdentity.find(in: sim.directory) == .adopted(.test))
        #expect(try DirectoryIdentity.establish(in: sim.directory).found == .adopted(.test))
        let recorded = try String(contentsOfFile: sim.directory + "/DIRECTORY_ID", encoding: .utf8)
        #expect(recorded == DirectoryID.test.description + "\n")
        #expect(try DirectoryIdentity.find(in: sim.directory) == .recorded(.test))

        try FileManager.default.removeItem(atPath: sim.directory + "/DIRECTORY_ID")
        let snapshot = JournalTestKit.snapshotPath(sim.directory, 30)
        try SnapshotFile.write(intruderLedger(), sequence: 30, directoryID: Self.stranger, to: snapshot)
        let error = try #require(throws: StoreError.self) { try DirectoryIdentity.find(in: sim.directory) }
        #expect(error.description.contains("name 2 different directories") && error.description.contains(snapshot), "\(error)")
        #expect(throws: StoreError.self) { try Recovery.run(dataDirectory: sim.directory, config: Self.config) }

        try JournalTestKit.write(Array("not an id\n".utf8), to: sim.directory + "/DIRECTORY_ID")
        let damaged = try #require(throws: StoreError.self) { try DirectoryIdentity.find(in: sim.directory) }
        #expect(damaged.description.contains("DIRECTORY_ID is damaged"), "\(damaged)")
    }

    /// Files written before directory ids (format 1, no id) belong to the directory that holds
    /// them, before and after it is given an id.
    @Test func formatOneFilesStillLoad() throws {
        let sim = try fixture("format-one")
        defer { JournalTestKit.remove(sim.directory) }
        let expected = try #require(sim.states[20])
        // The same files in format 1: a 16-byte segment header; a snapshot header without the id.
        for first in [1, 11] as [UInt64] {
            let path = JournalTestKit.segmentPath(sim.directory, first)
            let bytes = try JournalTestKit.read(path)
            try JournalTestKit.write(
                Array("TALLYJNL".utf8) + [0, 0, 0, 1, 0, 0, 0, 0] + bytes[JournalSegment.headerBytes...], to: path)
        }
        // Format 1's snapshot: a 24-byte header, then the state as one message (not in parts).
        let snapshot = JournalTestKit.snapshotPath(sim.directory, 15)
        let payload = try LedgerSnapshot.encode(try #require(sim.states[15]), journalSequence: 15)
        var bytes = Array("TALLYSNP".utf8)
        JournalRecord.appendBigEndian(UInt32(1), to: &bytes)
        JournalRecord.appendBigEndian(UInt64(payload.count), to: &bytes)
        JournalRecord.appendBigEndian(CRC32C.checksum(payload), to: &bytes)
        try JournalTestKit.write(bytes + payload, to: snapshot)
        #expect(try SnapshotFile.header(atPath: snapshot).directoryID == nil)

        #expect(try DirectoryIdentity.find(in: sim.directory) == .none)
        var recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(recovered.ledger == expected && recovered.report.snapshotPath == snapshot && recovered.report.recordsReplayed == 5)
        let id = try DirectoryIdentity.establish(in: sim.directory).id
        #expect(id != .test)
        recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(recovered.ledger == expected && recovered.report.snapshotPath == snapshot && recovered.report.foreignFiles.isEmpty)
        #expect(recovered.report.directoryID == id)
    }

    @Test func idsReadBackFromTheirHex() {
        let id = DirectoryID.random()
        #expect(DirectoryID(hex: id.description) == id && id.description.count == 32)
        #expect(DirectoryID(bytes: id.bytes) == id)
        #expect(DirectoryID(hex: "0123456789abcdef0123456789ABCDEF") == nil, "lowercase only")
        #expect(DirectoryID(hex: "0123") == nil && DirectoryID(hex: "+123456789abcdef0123456789abcdef") == nil)
        #expect(DirectoryID.random() != DirectoryID.random())
    }
}

/// Files are written relative to the directory tallyd opened, not by its path: after the path
/// comes to name another directory, nothing lands there.
@Suite struct StoreDirectoryTests {
    /// Tools (check-config, verify's callers) read a directory that may not exist yet as a new one.
    @Test func aMissingDirectoryRecoversAsANewOne() throws {
        let missing = NSTemporaryDirectory() + "no-such-tally-\(UUID().uuidString)"
        let recovered = try Recovery.run(dataDirectory: missing, config: LedgerConfig(), readOnly: true)
        #expect(recovered.ledger == Ledger() && recovered.nextSequence == 1 && recovered.segments.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: missing), "nothing created")
    }

    @Test func writesFollowTheOpenedDirectoryNotItsPath() throws {
        let seed: UInt64 = 0x0BE7_A700_0000_0001
        let config = LedgerConfig(idempotencyTTL: JournalCommandMix.ttl)
        let path = try JournalTestKit.makeDirectory("opened")
        let moved = path + ".moved"
        defer {
            JournalTestKit.remove(path)
            JournalTestKit.remove(moved)
        }
        let opened = try StoreDirectory(opening: path)
        let sim = try TallydSimulation(directory: path, config: config)
        var mix = JournalCommandMix(seed: seed)
        sim.advance(to: 10, &mix)
        let archive = try AuditArchive(dataDirectory: opened, directoryID: .test)

        // Moved away, and a new directory (another tallyd's, say) takes the path.
        try FileManager.default.moveItem(atPath: path, toPath: moved)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)

        sim.advance(to: 20, &mix)
        try sim.rotate()
        sim.advance(to: 30, &mix)
        try sim.close()
        let written = try SnapshotFile.writeAndPrune(sim.ledger, sequence: 30, directoryID: .test, in: opened)
        #expect(written.path == path + "/" + SnapshotFile.fileName(sequence: 30), "messages name the path it was opened by")
        try TransactionArchive.write(batch: 1, Array(sim.ledger.transactions.values.prefix(2)), dataDirectory: opened, directoryID: .test)
        let entry = AuditEntry(
            id: 1, at: 1, origin: AuditOrigin(uid: 1, gid: 1, role: "admin", method: "m"), userID: "u", code: 0, reason: "",
            message: "", transactionIDs: [])
        #expect(try archive.append([entry]) == 1)

        #expect(try FileManager.default.contentsOfDirectory(atPath: path).isEmpty, "nothing went to the new directory")
        let recovered = try Recovery.run(dataDirectory: moved, config: config)
        #expect(recovered.ledger == sim.ledger && recovered.report.snapshotSequence == 30, "seed \(seed)")
        #expect(try JournalTestKit.segmentsOnDisk(moved) == [1, 21])
        #expect(FileManager.default.fileExists(atPath: moved + "/archive/transactions-0000000001.jsonl"))
        #expect(FileManager.default.fileExists(atPath: moved + "/archive/audit.jsonl"))
    }
}
