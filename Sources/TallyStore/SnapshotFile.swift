import Foundation
import Glibc
import TallyLedger

/// Snapshot files: `snapshot-<journal sequence, 20 digits>.tally` in the data directory, each a
/// fixed header and the encoded Ledger state.
///
///     magic        8 bytes   "TALLYSNP"
///     format       u32 BE    3
///     length       u64 BE    payload bytes
///     checksum     u32 BE    CRC-32C of the payload
///     directory id 16 bytes  the data directory's DirectoryID (not in format 1)
///     payload      length bytes: a tally.store.v1.Snapshot (formats 1, 2), or its parts each
///                  after its length (format 3, SnapshotParts)
///
/// Format 3 keeps transactions as chunks (`transaction_chunks`), format 2 as a message each;
/// both still read, and so does format 1 (no directory id, a 24-byte header), whose file
/// belongs to whichever directory holds it. A build that reads only 1 and 2 refuses a format 3
/// file by its header instead of starting without its transactions.
public enum SnapshotFile {
    static let magic = Array("TALLYSNP".utf8)
    static let format: UInt32 = 3
    static let headerBytes = 8 + 4 + 8 + 4 + DirectoryID.byteCount

    /// What a snapshot's header says. `directoryID` is nil for format 1.
    public struct Header: Sendable {
        public var format: UInt32
        public var length: UInt64
        public var checksum: UInt32
        public var directoryID: DirectoryID?
        var bytes: Int { format == 1 ? 24 : SnapshotFile.headerBytes }
    }

    /// The header of `bytes` (a file's start), or what is wrong with it.
    static func header(of bytes: ArraySlice<UInt8>) -> Result<Header, StoreError> {
        guard bytes.count >= 24, Array(bytes.prefix(8)) == magic else {
            return .failure(StoreError("not a tally snapshot (bad header)"))
        }
        let start = bytes.startIndex
        let version = JournalRecord.bigEndian(UInt32.self, bytes, at: start + 8)
        var header = Header(
            format: version, length: JournalRecord.bigEndian(UInt64.self, bytes, at: start + 12),
            checksum: JournalRecord.bigEndian(UInt32.self, bytes, at: start + 20))
        switch version {
        case 1: break
        case 2, 3:
            guard bytes.count >= headerBytes else { return .failure(StoreError("shorter than its \(headerBytes)-byte header")) }
            header.directoryID = DirectoryID(bytes: bytes[(start + 24)..<(start + headerBytes)])
        default:
            return .failure(StoreError("format \(version) is not supported (this build reads 1 to 3)"))
        }
        return .success(header)
    }

    /// The header of snapshot `name` in `directory`, read without its payload.
    public static func header(of name: String, in directory: StoreDirectory) throws -> Header {
        let path = directory.path(of: name)
        guard let bytes = try DurableFile.read(name, in: directory, prefix: headerBytes) else {
            throw StoreError("snapshot \(path) does not exist")
        }
        switch header(of: bytes[...]) {
        case .success(let header): return header
        case .failure(let problem): throw StoreError("snapshot \(path) is damaged: \(problem)")
        }
    }

    /// The header of the snapshot at `path`, read without its payload.
    public static func header(atPath path: String) throws -> Header {
        let (directory, name) = try StoreDirectory.containing(path)
        return try header(of: name, in: directory)
    }

    /// Snapshots kept: the newest, and one before it in case the newest is damaged.
    public static let kept = 2

    public static func fileName(sequence: UInt64) -> String {
        let digits = String(sequence)
        return "snapshot-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".tally"
    }

    static func sequence(ofFileNamed name: String) -> UInt64? {
        guard name.hasPrefix("snapshot-"), name.hasSuffix(".tally") else { return nil }
        let digits = name.dropFirst("snapshot-".count).dropLast(".tally".count)
        guard digits.count == 20 else { return nil }
        return UInt64(digits)
    }

    /// The snapshots in `directory`, newest (highest sequence) first.
    public static func list(in directory: StoreDirectory) throws -> [(sequence: UInt64, name: String)] {
        try directory.names().compactMap { name in
            sequence(ofFileNamed: name).map { ($0, name) }
        }.sorted { $0.sequence > $1.sequence }
    }

    /// The snapshots in the directory at `path`, newest first, with their paths.
    public static func list(in path: String) throws -> [(sequence: UInt64, path: String)] {
        guard let directory = try StoreDirectory.ifPresent(path) else { return [] }
        return try list(in: directory).map { ($0.sequence, directory.path(of: $0.name)) }
    }

    /// The encoded file for `ledger` as of journal record `sequence`.
    public static func encode(_ ledger: Ledger, sequence: UInt64, directoryID: DirectoryID) throws -> [UInt8] {
        var payload: [UInt8] = []
        try SnapshotParts.encode(ledger, journalSequence: sequence) { payload.append(contentsOf: $0) }
        return header(length: payload.count, checksum: CRC32C.checksum(payload), directoryID: directoryID) + payload
    }

    static func header(length: Int, checksum: UInt32, directoryID: DirectoryID) -> [UInt8] {
        var bytes = magic
        append(format, to: &bytes)
        append(UInt64(length), to: &bytes)
        append(checksum, to: &bytes)
        bytes += directoryID.bytes
        return bytes
    }

    /// Writes a snapshot durably to `path` (temp file, fsync, rename, fsync of the directory).
    /// Meant to run off the Writer, on an O(1) copy of the state. Returns the bytes written.
    /// `replace: false` never overwrites an existing file (backups).
    @discardableResult
    public static func write(
        _ ledger: Ledger, sequence: UInt64, directoryID: DirectoryID, to path: String, replace: Bool = true, eachPart: () -> Void = {}
    ) throws -> Int {
        let (directory, name) = try StoreDirectory.containing(path)
        return try write(ledger, sequence: sequence, directoryID: directoryID, to: name, in: directory, replace: replace, eachPart: eachPart)
    }

    /// The same, as `name` in `directory`.
    @discardableResult
    public static func write(
        _ ledger: Ledger, sequence: UInt64, directoryID: DirectoryID, to name: String, in directory: StoreDirectory, replace: Bool = true,
        eachPart: () -> Void = {}
    ) throws -> Int {
        // Streamed: the payload goes to the file a part at a time, its length and checksum
        // into the header at the end; the whole encoded state is never in memory at once.
        let file = try DurableFile.Writer(name, in: directory, replace: replace)
        try [UInt8](repeating: 0, count: headerBytes).withUnsafeBytes { try file.append($0) }
        var length = 0
        var checksum: UInt32 = 0
        try SnapshotParts.encode(ledger, journalSequence: sequence) { part in
            eachPart()
            checksum = CRC32C.checksum(part, seed: checksum)
            length += part.count
            try file.append(part)
        }
        try header(length: length, checksum: checksum, directoryID: directoryID).withUnsafeBytes { try file.write($0, at: 0) }
        try file.publish()
        return headerBytes + length
    }

    /// Writes the data directory's next snapshot and removes all but the newest `kept`.
    /// Returns the path and, once `kept` snapshots exist, the oldest one's sequence: the journal
    /// it covers may go. With a single snapshot the journal stays, in case that one is damaged.
    /// Only snapshots of `directoryID` (or of format 1) count and are pruned; another
    /// directory's are left for the operator (recovery reports them).
    public static func writeAndPrune(
        _ ledger: Ledger, sequence: UInt64, directoryID: DirectoryID, in directory: StoreDirectory, eachPart: () -> Void = {}
    ) throws -> (path: String, bytes: Int, oldestKept: UInt64?) {
        let name = fileName(sequence: sequence)
        let bytes = try write(ledger, sequence: sequence, directoryID: directoryID, to: name, in: directory, eachPart: eachPart)
        // Another directory's are not counted; format 1 (no id) and unreadable headers are.
        let all = try list(in: directory).filter { snapshot in
            (try? header(of: snapshot.name, in: directory).directoryID).map { $0 == directoryID } ?? true
        }
        for old in all.dropFirst(kept) {
            try? directory.remove(old.name)
        }
        if all.count > kept { try directory.sync() }
        return (directory.path(of: name), bytes, all.count >= kept ? all[kept - 1].sequence : nil)
    }

    /// The same, for the data directory at `path` (tools and tests).
    public static func writeAndPrune(_ ledger: Ledger, sequence: UInt64, directoryID: DirectoryID, in path: String) throws
        -> (path: String, bytes: Int, oldestKept: UInt64?)
    {
        try writeAndPrune(ledger, sequence: sequence, directoryID: directoryID, in: try StoreDirectory(opening: path))
    }

    /// Reads a snapshot file. Throws with the file name and what is wrong if it is damaged:
    /// tallyd must not start on a guess.
    /// `checkInvariants: false` is for recovery, which checks the state once, after replay.
    public static func read(_ path: String, config: LedgerConfig, checkInvariants: Bool = true) throws
        -> (ledger: Ledger, sequence: UInt64)
    {
        let (directory, name) = try StoreDirectory.containing(path)
        return try read(name, in: directory, config: config, checkInvariants: checkInvariants)
    }

    /// The same, for snapshot `name` in `directory`.
    public static func read(_ name: String, in directory: StoreDirectory, config: LedgerConfig, checkInvariants: Bool = true) throws
        -> (ledger: Ledger, sequence: UInt64)
    {
        var phases = StartupPhases()
        return try read(name, in: directory, config: config, checkInvariants: checkInvariants, phases: &phases)
    }

    /// The same, marking the end of reading (file and checksum) and of decoding in `phases`.
    static func read(_ name: String, in directory: StoreDirectory, config: LedgerConfig, checkInvariants: Bool, phases: inout StartupPhases) throws
        -> (ledger: Ledger, sequence: UInt64)
    {
        let path = directory.path(of: name)
        guard let bytes = try DurableFile.read(name, in: directory) else { throw StoreError("snapshot \(path) does not exist") }
        func damaged(_ what: String) -> StoreError { StoreError("snapshot \(path) is damaged: \(what)") }
        let header: Header
        switch Self.header(of: bytes[...]) {
        case .success(let found): header = found
        case .failure(let problem): throw damaged(problem.description)
        }
        guard header.length == UInt64(bytes.count - header.bytes) else {
            throw damaged("header says \(header.length) payload bytes, file has \(bytes.count - header.bytes)")
        }
        let payload = bytes[header.bytes...]  // not copied: a snapshot can be gigabytes
        let actual = payload.withUnsafeBytes { CRC32C.checksum($0) }
        guard header.checksum == actual else {
            throw damaged("checksum mismatch (stored \(hex(header.checksum)), computed \(hex(actual)))")
        }
        phases.finished("snapshot read")
        defer { phases.finished("snapshot decode") }
        do {
            return try payload.withUnsafeBytes { raw in
                guard header.format >= 3 else {
                    // Formats 1 and 2: one message. A view of the file's bytes, not a copy of
                    // them: protobuf copies what it keeps.
                    guard let base = raw.baseAddress else { return try LedgerSnapshot.decode([UInt8](), config: config, checkInvariants: checkInvariants) }
                    let view = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: raw.count, deallocator: .none)
                    return try LedgerSnapshot.decode(contiguous: view, config: config, checkInvariants: checkInvariants)
                }
                let (message, transactions) = try SnapshotParts.decode(raw)
                return try LedgerSnapshot.decode(message: message, transactions: transactions, config: config, checkInvariants: checkInvariants)
            }
        } catch {
            throw damaged("\(error)")
        }
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        JournalRecord.appendBigEndian(value, to: &bytes)
    }

    private static func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
}
