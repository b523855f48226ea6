import Glibc
import SwiftProtobuf
import TallyLedger
import TallyWire

/// Transactions moved out of memory: `DATA/archive/transactions-<batch>.jsonl`, one
/// tally.v1.Transaction a line in proto3 JSON, ids ascending. Each batch is its own file, written
/// whole (temp file, fsync, rename) before the journaled command that drops those transactions
/// from memory; a crash between the two leaves the Ledger a batch behind, and the next pass
/// writes that batch number again, replacing the file, so no transaction is in two files.
public enum TransactionArchive {
    public static func fileName(batch: UInt64) -> String {
        let digits = String(batch)
        return "transactions-" + String(repeating: "0", count: max(0, 10 - digits.count)) + digits + ".jsonl"
    }

    /// Writes batch `batch`; returns the file's path.
    @discardableResult
    public static func write(batch: UInt64, _ transactions: [Transaction], dataDirectory: String) throws -> String {
        let directory = dataDirectory + "/" + AuditArchive.directoryName
        try DurableFile.makeDirectory(directory)
        var bytes: [UInt8] = []
        for transaction in transactions {
            bytes += Array(try Tally_V1_Transaction(transaction).jsonString().utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
        let path = directory + "/" + fileName(batch: batch)
        try DurableFile.write(bytes, to: path)
        try DurableFile.syncDirectory(directory)
        return path
    }
}
