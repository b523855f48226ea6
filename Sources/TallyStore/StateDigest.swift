import Crypto
import TallyLedger

/// A digest of the whole state at a journal sequence: SHA-256 of the snapshot encoding, which
/// sorts every record, so the same state at the same sequence always gives the same digest,
/// whatever process, host or hash seed computed it. Two tallyds (or a tallyd and a restored
/// backup) hold the same state exactly when their digests at one sequence are equal.
/// O(state): it encodes everything a snapshot would, a part at a time, without keeping it.
public enum StateDigest {
    public static func sha256(_ ledger: Ledger, sequence: UInt64) throws -> String {
        var hasher = SHA256()
        try LedgerSnapshot.encode(ledger, journalSequence: sequence) { hasher.update(bufferPointer: $0) }
        return hasher.finalize().map { byte in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 15)]], as: UTF8.self)
        }.joined()
    }
}
