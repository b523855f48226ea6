/// Journal segment files: `journal-<first sequence, 20 digits>.log` in `DATA/journal/`, each
/// starting with a 16-byte header, then records (see JournalRecord) in sequence order.
public enum JournalSegment {
    public static let directoryName = "journal"
    static let magic = Array("TALLYJNL".utf8)
    static let format: UInt32 = 1
    public static let headerBytes = 16

    public static func directory(in dataDirectory: String) -> String { dataDirectory + "/" + directoryName }

    public static func fileName(firstSequence: UInt64) -> String {
        let digits = String(firstSequence)
        return "journal-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    /// The first sequence number a segment file name announces, nil for other files.
    public static func firstSequence(ofFileNamed name: String) -> UInt64? {
        guard name.hasPrefix("journal-"), name.hasSuffix(".log") else { return nil }
        let digits = name.dropFirst("journal-".count).dropLast(".log".count)
        guard digits.count == 20 else { return nil }
        return UInt64(digits)
    }

    static var header: [UInt8] {
        var bytes = magic
        JournalRecord.appendBigEndian(format, to: &bytes)
        JournalRecord.appendBigEndian(UInt32(0), to: &bytes)
        return bytes
    }

    /// nil if `bytes` start with a valid header, else what is wrong.
    static func headerProblem(_ bytes: [UInt8]) -> String? {
        guard bytes.count >= headerBytes else { return "shorter than its \(headerBytes)-byte header" }
        guard Array(bytes[0..<8]) == magic else { return "not a tally journal segment (bad header)" }
        let version = JournalRecord.bigEndian(UInt32.self, bytes[...], at: 8)
        guard version == format else { return "format \(version) is not supported (this build reads \(format))" }
        return nil
    }
}
