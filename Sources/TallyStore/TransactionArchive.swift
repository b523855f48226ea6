import Glibc
import SwiftProtobuf
import TallyLedger
import TallyCodec
import TallyWire

/// Transactions and settled commitments moved out of memory, in numbered batches:
/// `DATA/archive/transactions-<batch>.jsonl` (one tally.v1.Transaction a line in proto3 JSON)
/// and `DATA/archive/commitments-<batch>.jsonl` (tally.v1.Commitment), ids ascending, after a
/// first line that names the data directory (ArchiveHeader). Each batch
/// is its own file, written whole (temp file, fsync, rename) before the journaled command that
/// drops those records from memory; a crash between the two leaves the Ledger a batch behind,
/// and the next pass writes that batch number again, replacing the file, so no record is in
/// two files.
public enum TransactionArchive {
    public static func fileName(_ kind: String, batch: UInt64) -> String {
        let digits = String(batch)
        return kind + "-" + String(repeating: "0", count: max(0, 10 - digits.count)) + digits + ".jsonl"
    }

    /// Writes transaction batch `batch`; returns the file's path.
    @discardableResult
    public static func write(batch: UInt64, _ transactions: [Transaction], dataDirectory: StoreDirectory, directoryID: DirectoryID) throws -> String {
        try write(
            "transactions", batch: batch, try transactions.map { try Tally_V1_Transaction($0).jsonString(options: WireJSON.encoding) }, dataDirectory, directoryID)
    }

    /// Writes commitment batch `batch`; returns the file's path.
    @discardableResult
    public static func write(batch: UInt64, _ commitments: [Commitment], dataDirectory: StoreDirectory, directoryID: DirectoryID) throws -> String {
        try write(
            "commitments", batch: batch, try commitments.map { try Tally_V1_Commitment($0).jsonString(options: WireJSON.encoding) }, dataDirectory, directoryID)
    }

    /// Archived transaction `id`, found in this directory's batch files, or nil. Each batch
    /// holds ids in ascending order, so a batch is searched by halves, decoding one line a step;
    /// batches whose first line names another data directory are skipped.
    public static func transaction(_ id: UInt64, in dataDirectory: StoreDirectory, directoryID: DirectoryID) throws
        -> Tally_V1_Transaction?
    {
        guard let directory = try dataDirectory.subdirectory(AuditArchive.directoryName, create: false) else { return nil }
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = true
        for name in try directory.names().sorted() where name.hasPrefix("transactions-") && name.hasSuffix(".jsonl") {
            guard let bytes = try DurableFile.read(name, in: directory) else { continue }
            var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
            if let first = lines.first, ArchiveHeader.isHeader(first) {
                guard ArchiveHeader.directoryID(inFirstLine: Array(first)) == directoryID else { continue }
                lines.removeFirst()
            }
            func record(_ index: Int) throws -> Tally_V1_Transaction {
                do {
                    return try Tally_V1_Transaction(jsonUTF8Bytes: Array(lines[index]), options: options)
                } catch {
                    throw StoreError("\(directory.path(of: name)): record \(index + 1) is not a transaction (\(error))")
                }
            }
            guard let last = lines.indices.last, try record(0).id <= id, try record(last).id >= id else { continue }
            var low = 0, high = last
            while low <= high {
                let middle = (low + high) / 2
                let found = try record(middle)
                if found.id == id { return found }
                if found.id < id { low = middle + 1 } else { high = middle - 1 }
            }
        }
        return nil
    }

    private static func write(
        _ kind: String, batch: UInt64, _ lines: [String], _ dataDirectory: StoreDirectory, _ directoryID: DirectoryID
    ) throws -> String {
        let directory = try dataDirectory.subdirectory(AuditArchive.directoryName, create: true)!
        var bytes = ArchiveHeader.line(kind: kind, directoryID: directoryID)
        for line in lines {
            bytes += Array(line.utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
        let name = fileName(kind, batch: batch)
        try DurableFile.write(bytes, to: name, in: directory)  // fsyncs the directory too
        return directory.path(of: name)
    }
}
