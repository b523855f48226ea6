import Glibc
import TallyLedger

/// Snapshot files: `snapshot-<journal sequence, 20 digits>.tally` in the data directory, each a
/// fixed header and the encoded Ledger state.
///
///     magic    8 bytes  "TALLYSNP"
///     format   u32 BE   1
///     length   u64 BE   payload bytes
///     checksum u32 BE   CRC-32C of the payload
///     payload  length bytes of tally.store.v1.Snapshot
public enum SnapshotFile {
    static let magic = Array("TALLYSNP".utf8)
    static let format: UInt32 = 1
    static let headerBytes = 8 + 4 + 8 + 4
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
    public static func list(in directory: String) throws -> [(sequence: UInt64, path: String)] {
        try DurableFile.list(directory).compactMap { name in
            sequence(ofFileNamed: name).map { ($0, directory + "/" + name) }
        }.sorted { $0.sequence > $1.sequence }
    }

    /// The encoded file for `ledger` as of journal record `sequence`.
    public static func encode(_ ledger: Ledger, sequence: UInt64) throws -> [UInt8] {
        let payload = try LedgerSnapshot.encode(ledger, journalSequence: sequence)
        return header(length: payload.count, checksum: CRC32C.checksum(payload)) + payload
    }

    static func header(length: Int, checksum: UInt32) -> [UInt8] {
        var bytes = magic
        append(format, to: &bytes)
        append(UInt64(length), to: &bytes)
        append(checksum, to: &bytes)
        return bytes
    }

    /// Writes a snapshot durably to `path` (temp file, fsync, rename, fsync of the directory).
    /// Meant to run off the Writer, on an O(1) copy of the state. Returns the bytes written.
    /// `replace: false` never overwrites an existing file (backups).
    @discardableResult
    public static func write(_ ledger: Ledger, sequence: UInt64, to path: String, replace: Bool = true) throws -> Int {
        // Streamed: the payload goes to the file a part at a time, its length and checksum
        // into the header at the end; the whole encoded state is never in memory at once.
        let file = try DurableFile.Writer(path, replace: replace)
        try [UInt8](repeating: 0, count: headerBytes).withUnsafeBytes { try file.append($0) }
        var length = 0
        var checksum: UInt32 = 0
        try LedgerSnapshot.encode(ledger, journalSequence: sequence) { part in
            checksum = CRC32C.checksum(part, seed: checksum)
            length += part.count
            try file.append(part)
        }
        try header(length: length, checksum: checksum).withUnsafeBytes { try file.write($0, at: 0) }
        try file.publish()
        return headerBytes + length
    }

    /// Writes the data directory's next snapshot and removes all but the newest `kept`.
    /// Returns the path and, once `kept` snapshots exist, the oldest one's sequence: the journal
    /// it covers may go. With a single snapshot the journal stays, in case that one is damaged.
    public static func writeAndPrune(_ ledger: Ledger, sequence: UInt64, in directory: String) throws
        -> (path: String, bytes: Int, oldestKept: UInt64?)
    {
        let path = directory + "/" + fileName(sequence: sequence)
        let bytes = try write(ledger, sequence: sequence, to: path)
        let all = try list(in: directory)
        for old in all.dropFirst(kept) {
            unlink(old.path)
        }
        if all.count > kept { try DurableFile.syncDirectory(directory) }
        return (path, bytes, all.count >= kept ? all[kept - 1].sequence : nil)
    }

    /// Reads a snapshot file. Throws with the file name and what is wrong if it is damaged:
    /// tallyd must not start on a guess.
    /// `checkInvariants: false` is for recovery, which checks the state once, after replay.
    public static func read(_ path: String, config: LedgerConfig, checkInvariants: Bool = true) throws
        -> (ledger: Ledger, sequence: UInt64)
    {
        guard let bytes = try DurableFile.read(path) else { throw StoreError("snapshot \(path) does not exist") }
        func damaged(_ what: String) -> StoreError { StoreError("snapshot \(path) is damaged: \(what)") }
        guard bytes.count >= headerBytes, Array(bytes[0..<8]) == magic else {
            throw damaged("not a tally snapshot (bad header)")
        }
        let version = JournalRecord.bigEndian(UInt32.self, bytes[...], at: 8)
        guard version == format else { throw damaged("format \(version) is not supported (this build reads \(format))") }
        let length = JournalRecord.bigEndian(UInt64.self, bytes[...], at: 12)
        guard length == UInt64(bytes.count - headerBytes) else {
            throw damaged("header says \(length) payload bytes, file has \(bytes.count - headerBytes)")
        }
        let payload = Array(bytes[headerBytes...])
        let expected = JournalRecord.bigEndian(UInt32.self, bytes[...], at: 20)
        let actual = CRC32C.checksum(payload)
        guard expected == actual else {
            throw damaged("checksum mismatch (stored \(hex(expected)), computed \(hex(actual)))")
        }
        do {
            return try LedgerSnapshot.decode(payload, config: config, checkInvariants: checkInvariants)
        } catch {
            throw damaged("\(error)")
        }
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        JournalRecord.appendBigEndian(value, to: &bytes)
    }

    private static func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
}
