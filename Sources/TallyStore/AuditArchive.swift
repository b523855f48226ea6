import Glibc
import SwiftProtobuf
import TallyLedger
import TallyCodec
import TallyWire

/// Audit entries moved out of memory: `DATA/archive/audit.jsonl`, a first line that names the
/// data directory (ArchiveHeader), then one tally.v1.AuditEntry per line in proto3 JSON, oldest
/// first, fsynced before tallyd drops them from memory. (A file begun before directory ids has
/// no such line and stays as it is.) A file that names another directory is never appended to.
///
/// A crash between the append and the trim leaves entries both here and in memory; the next
/// append skips ids up to the last one here, so every entry is in the file once. A line torn by
/// a crash mid-append is cut off when the archive is opened. Only tallyd's snapshot thread
/// appends, one batch at a time.
public final class AuditArchive: @unchecked Sendable {
    public static let directoryName = "archive"
    public static let fileName = "audit.jsonl"
    /// Encoded lines are handed to the file in pieces of about this size.
    static let pieceBytes = 1 << 20

    public let path: String
    private let directory: StoreDirectory
    private let directoryID: DirectoryID
    /// The newest id in the file (0: none).
    public private(set) var archivedThrough: UInt64 = 0

    /// The archive in `dataDirectory/archive/`, its files named relative to the open directory.
    public init(dataDirectory: StoreDirectory, directoryID: DirectoryID) throws {
        directory = try dataDirectory.subdirectory(Self.directoryName, create: true)!
        path = directory.path(of: Self.fileName)
        self.directoryID = directoryID
        try recover()
    }

    public convenience init(dataDirectory: String, directoryID: DirectoryID) throws {
        try self.init(dataDirectory: try StoreDirectory(opening: dataDirectory), directoryID: directoryID)
    }

    /// Appends `entries` (ascending ids) not yet in the file, and fsyncs. Returns how many.
    @discardableResult
    public func append(_ entries: [AuditEntry]) throws -> Int {
        let fresh = entries.filter { $0.id > archivedThrough }
        guard let last = fresh.last else { return 0 }
        let created = !directory.exists(Self.fileName)
        let fd = directory.openFile(Self.fileName, O_WRONLY | O_CREAT)
        guard fd >= 0 else { throw StoreError.posix("cannot open", path: path) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw StoreError.posix("cannot stat", path: path) }
        // Written and flushed a piece at a time: a batch is tens of megabytes under load, and
        // dirty all at once it held the journal's fdatasync (every durable call) 100 ms.
        let file = FlushingFile(fd: fd, path: path, offset: Int(status.st_size))
        do {
            var bytes = created ? ArchiveHeader.line(kind: "audit", directoryID: directoryID) : []
            bytes.reserveCapacity(Self.pieceBytes + 4096)
            for entry in fresh {
                let line: [UInt8] = try Tally_V1_AuditEntry(entry).jsonUTF8Bytes(options: WireJSON.encoding)
                bytes += line
                bytes.append(UInt8(ascii: "\n"))
                if bytes.count >= Self.pieceBytes {
                    try file.append(bytes)
                    bytes.removeAll(keepingCapacity: true)
                }
            }
            try file.append(bytes)
            try file.sync()
        } catch {
            // All or nothing: pieces already written would be written again by the next append
            // (archivedThrough has not moved), and their entries would be in the file twice.
            guard ftruncate(fd, status.st_size) == 0 else {
                // Then as after a crash: the next append starts after the last whole line here.
                let reason = String(cString: strerror(errno))
                try? recover()
                throw StoreError("\(error); cutting \(path) back to \(status.st_size) bytes failed too (\(reason)): it now ends at audit entry \(archivedThrough)")
            }
            throw error
        }
        if created { try directory.sync() }
        archivedThrough = last.id
        return fresh.count
    }

    /// Archived entries newest first with ids below `id`, those `matches` passes, at most
    /// `limit`; the walk stops at the first entry older than `since` (entries are in time order).
    /// The file is read backwards a window at a time, so a page near its end costs a window, not
    /// the whole file. Empty when the file is missing or names another data directory.
    public static func entries(
        in dataDirectory: StoreDirectory, directoryID: DirectoryID, below id: UInt64, since: Timestamp, limit: Int,
        matching matches: (AuditEntry) -> Bool
    ) throws -> [AuditEntry] {
        guard limit > 0, let directory = try dataDirectory.subdirectory(directoryName, create: false) else { return [] }
        let fd = directory.openFile(fileName, O_RDONLY)
        guard fd >= 0 else {
            guard errno == ENOENT else { throw StoreError.posix("cannot open", path: directory.path(of: fileName)) }
            return []
        }
        defer { close(fd) }
        var end = Int(lseek(fd, 0, SEEK_END))
        var first = [UInt8](repeating: 0, count: min(end, 512))
        guard first.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, $0.count, 0) }) == first.count else {
            throw StoreError.posix("cannot read", path: directory.path(of: fileName))
        }
        if let named = ArchiveHeader.directoryID(inFirstLine: first), named != directoryID { return [] }
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = true
        var found: [AuditEntry] = []
        var carry: [UInt8] = []  // the start of a line whose rest was read in the previous window
        let window = 1 << 20
        while end > 0 {
            let start = max(0, end - window)
            var chunk = [UInt8](repeating: 0, count: end - start)
            let read = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
            guard read == chunk.count else { throw StoreError.posix("cannot read", path: directory.path(of: fileName)) }
            chunk += carry
            var lines = chunk.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            // The first line may go on in the window before this one, unless this is the file's start.
            carry = start > 0 ? Array(lines.removeFirst()) : []
            for line in lines.reversed() where !line.isEmpty {
                if ArchiveHeader.isHeader(line) { continue }  // checked above
                let entry: AuditEntry
                do {
                    entry = try Tally_V1_AuditEntry(jsonUTF8Bytes: Array(line), options: options).ledgerValue
                } catch {
                    throw StoreError("\(directory.path(of: fileName)): a line near byte \(start) is not an audit entry (\(error))")
                }
                guard entry.id < id else { continue }
                if since != 0 && entry.at < since { return found }
                if matches(entry) {
                    found.append(entry)
                    if found.count == limit { return found }
                }
            }
            end = start
        }
        return found
    }

    /// Cuts a torn last line and reads the newest archived id from the file's tail.
    private func recover() throws {
        let fd = directory.openFile(Self.fileName, O_RDONLY)
        guard fd >= 0 else {
            guard errno == ENOENT else { throw StoreError.posix("cannot open", path: path) }
            return
        }
        defer { close(fd) }
        let size = Int(lseek(fd, 0, SEEK_END))
        guard size > 0 else { return }
        var first = [UInt8](repeating: 0, count: min(size, 512))
        guard first.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, $0.count, 0) }) == first.count else {
            throw StoreError.posix("cannot read", path: path)
        }
        if let named = ArchiveHeader.directoryID(inFirstLine: first), named != directoryID {
            throw StoreError("\(path) belongs to data directory \(named), not this one (\(directoryID)): another tallyd wrote it here, "
                + "or it was copied in. Move it out of the data directory; until then audit entries stay in memory.")
        }
        let window = min(size, 1 << 20)
        var tail = [UInt8](repeating: 0, count: window)
        let read = tail.withUnsafeMutableBytes { pread(fd, $0.baseAddress, window, off_t(size - window)) }
        guard read == window else { throw StoreError.posix("cannot read", path: path) }
        let lines = tail.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if tail.last != UInt8(ascii: "\n") {
            // A torn last line: everything from the last newline on goes.
            let keep = size - (lines.last?.count ?? 0)
            try DurableFile.truncate(Self.fileName, in: directory, to: keep)
        }
        for line in lines.dropLast().reversed() where !line.isEmpty && !ArchiveHeader.isHeader(line) {
            let entry = try Tally_V1_AuditEntry(jsonUTF8Bytes: Array(line))
            archivedThrough = entry.id
            return
        }
    }
}
