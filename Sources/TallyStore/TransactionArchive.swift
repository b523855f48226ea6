import Glibc
import SwiftProtobuf
import TallyLedger
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
            "transactions", batch: batch, try transactions.map { try Tally_V1_Transaction($0).jsonString() }, dataDirectory, directoryID)
    }

    /// Writes commitment batch `batch`; returns the file's path.
    @discardableResult
    public static func write(batch: UInt64, _ commitments: [Commitment], dataDirectory: StoreDirectory, directoryID: DirectoryID) throws -> String {
        try write(
            "commitments", batch: batch, try commitments.map { try Tally_V1_Commitment($0).jsonString() }, dataDirectory, directoryID)
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
