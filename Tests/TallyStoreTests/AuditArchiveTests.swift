import Foundation
import TallyLedger
import TallyWire
import Testing

@testable import TallyStore

/// The audit archive: JSON Lines appended and fsynced, every id once even when a batch is
/// offered again after a crash, and a line torn mid-append cut off on open.
@Suite struct AuditArchiveTests {
    func entries(_ ids: ClosedRange<UInt64>) -> [AuditEntry] {
        ids.map {
            AuditEntry(
                id: $0, at: 1_700_000_000_000_000 + Int64($0), origin: AuditOrigin(uid: 1, gid: 2, role: "app", method: "/tally.v1.Ledger/Spend"),
                userID: "ann ✓", code: $0 % 2 == 0 ? 0 : 9, reason: $0 % 2 == 0 ? "" : "INSUFFICIENT_TOKENS", message: "line\nbreak",
                transactionIDs: [$0])
        }
    }

    /// The entries: every line after the header line that names the directory.
    func lines(_ path: String) throws -> [Tally_V1_AuditEntry] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let all = text.split(separator: "\n")
        #expect(all.first == #"{"tally_archive":{"kind":"audit","format":2,"directory_id":"\#(DirectoryID.test)"}}"#)
        return try all.dropFirst().map { try Tally_V1_AuditEntry(jsonString: String($0)) }
    }

    /// Reading newest first across the 1 MiB windows the reader takes from the file's end: every
    /// id below the bound once, in order, filters and `since` applied, lines split between two
    /// windows read whole.
    @Test func entriesReadBackwardsAcrossWindows() throws {
        let directory = NSTemporaryDirectory() + "audit-archive-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = try AuditArchive(dataDirectory: directory, directoryID: .test)
        try archive.append(entries(1...12_000))
        let size = try FileManager.default.attributesOfItem(atPath: archive.path)[.size] as! Int
        #expect(size > 2 << 20, "more than two windows: \(size) bytes")
        let store = try StoreDirectory(opening: directory)
        let all = try AuditArchive.entries(in: store, directoryID: .test, below: .max, since: 0, limit: 20_000) { _ in true }
        #expect(all.map(\.id) == Array((1...12_000).reversed()))
        #expect(all.first == entries(12_000...12_000)[0] && all.last == entries(1...1)[0], "whole entries")
        let page = try AuditArchive.entries(in: store, directoryID: .test, below: 4_000, since: 0, limit: 3) { _ in true }
        #expect(page.map(\.id) == [3_999, 3_998, 3_997])
        let refused = try AuditArchive.entries(in: store, directoryID: .test, below: .max, since: 0, limit: 20_000) { !$0.accepted }
        #expect(refused.count == 6_000 && refused.allSatisfy { $0.id % 2 == 1 })
        let recent = try AuditArchive.entries(in: store, directoryID: .test, below: .max, since: 1_700_000_000_000_000 + 11_990, limit: 100) { _ in true }
        #expect(recent.map(\.id) == Array((11_990...12_000).reversed()))
        let other = try AuditArchive.entries(in: store, directoryID: DirectoryID(high: 1, low: 2), below: .max, since: 0, limit: 10) { _ in true }
        #expect(other.isEmpty, "a file another data directory wrote is not read")
    }

    /// Lines are written under the .proto field names (`user_id`), and lines an older tallyd
    /// wrote in camelCase (`userId`) still read, in the same file.
    @Test func camelCaseLinesOfOlderFilesStillRead() throws {
        let directory = NSTemporaryDirectory() + "audit-archive-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive0 = try AuditArchive(dataDirectory: directory, directoryID: .test)
        let older = entries(1...2).map { try! Tally_V1_AuditEntry($0).jsonString() }
        #expect(older.allSatisfy { $0.contains(#""userId""#) })
        let header = String(decoding: ArchiveHeader.line(kind: "audit", directoryID: .test), as: UTF8.self)
        try (header + older.joined(separator: "\n") + "\n").write(toFile: archive0.path, atomically: false, encoding: .utf8)
        let archive = try AuditArchive(dataDirectory: directory, directoryID: .test)
        #expect(archive.archivedThrough == 2)
        #expect(try archive.append(entries(1...3)) == 1)
        let text = try String(contentsOfFile: archive.path, encoding: .utf8)
        #expect(text.split(separator: "\n").last?.contains(#""user_id":"ann ✓""#) == true)
        let store = try StoreDirectory(opening: directory)
        let all = try AuditArchive.entries(in: store, directoryID: .test, below: .max, since: 0, limit: 10) { _ in true }
        #expect(all == entries(1...3).reversed())
    }

    @Test func appendsEachEntryOnceAndSurvivesATornLine() throws {
        let directory = NSTemporaryDirectory() + "audit-archive-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        var archive = try AuditArchive(dataDirectory: directory, directoryID: .test)
        #expect(archive.archivedThrough == 0)
        #expect(try archive.append(entries(1...4)) == 4)
        #expect(try archive.append(entries(3...6)) == 2, "a batch offered again (a crash before the trim) adds only what is new")
        #expect(try lines(archive.path).map(\.id) == Array(1...6))
        #expect(try lines(archive.path)[0] == Tally_V1_AuditEntry(entries(1...1)[0]), "the whole entry, newlines escaped")

        // Reopened: it knows the last id. A torn line is cut.
        archive = try AuditArchive(dataDirectory: directory, directoryID: .test)
        #expect(archive.archivedThrough == 6)
        let handle = try #require(FileHandle(forWritingAtPath: archive.path))
        handle.seekToEndOfFile()
        handle.write(Data("{\"id\":\"7\",\"atUs".utf8))
        handle.closeFile()
        archive = try AuditArchive(dataDirectory: directory, directoryID: .test)
        #expect(archive.archivedThrough == 6)
        #expect(try archive.append(entries(7...8)) == 2)
        #expect(try lines(archive.path).map(\.id) == Array(1...8))

        // Another directory's archive is never appended to.
        #expect(throws: StoreError.self) { try AuditArchive(dataDirectory: directory, directoryID: DirectoryID(high: 9, low: 9)) }
    }

    /// An archive begun before directory ids (no header line) is appended to as it is.
    @Test func anArchiveWithoutAHeaderLineIsKept() throws {
        let directory = NSTemporaryDirectory() + "audit-archive-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/archive", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let old = try Tally_V1_AuditEntry(entries(1...1)[0]).jsonString() + "\n"
        try Data(old.utf8).write(to: URL(fileURLWithPath: directory + "/archive/audit.jsonl"))
        let archive = try AuditArchive(dataDirectory: directory, directoryID: .test)
        #expect(archive.archivedThrough == 1)
        #expect(try archive.append(entries(1...2)) == 1)
        let text = try String(contentsOfFile: archive.path, encoding: .utf8)
        #expect(try text.split(separator: "\n").map { try Tally_V1_AuditEntry(jsonString: String($0)).id } == [1, 2])
    }
}
