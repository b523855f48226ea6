/// Journal segment files: `journal-<first sequence, 20 digits>.log` in `DATA/journal/`, each
/// starting with a header, then records (see JournalRecord) in sequence order.
///
///     magic        8 bytes   "TALLYJNL"
///     format       u32 BE    2
///     reserved     u32       0
///     directory id 16 bytes  the data directory's DirectoryID (not in format 1)
///
/// Format 1 (16 bytes, no directory id) still reads: its file belongs to whichever directory
/// holds it.
public enum JournalSegment {
    public static let directoryName = "journal"
    static let magic = Array("TALLYJNL".utf8)
    static let format: UInt32 = 2
    /// The header this build writes.
    public static let headerBytes = 16 + DirectoryID.byteCount

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

    static func header(_ directoryID: DirectoryID) -> [UInt8] {
        var bytes = magic
        JournalRecord.appendBigEndian(format, to: &bytes)
        JournalRecord.appendBigEndian(UInt32(0), to: &bytes)
        return bytes + directoryID.bytes
    }

    /// What a segment's header says: its length and, from format 2, its directory.
    struct Header {
        var bytes: Int
        var directoryID: DirectoryID?
    }

    /// The header `bytes` start with, or what is wrong with it.
    static func header(of bytes: [UInt8]) -> Result<Header, StoreError> {
        guard bytes.count >= 16 else { return .failure(StoreError("shorter than its header")) }
        guard Array(bytes[0..<8]) == magic else { return .failure(StoreError("not a tally journal segment (bad header)")) }
        let version = JournalRecord.bigEndian(UInt32.self, bytes[...], at: 8)
        switch version {
        case 1:
            return .success(Header(bytes: 16))
        case 2:
            guard bytes.count >= headerBytes else { return .failure(StoreError("shorter than its \(headerBytes)-byte header")) }
            return .success(Header(bytes: headerBytes, directoryID: DirectoryID(bytes: bytes[16..<headerBytes])))
        default:
            return .failure(StoreError("format \(version) is not supported (this build reads 1 and 2)"))
        }
    }

    /// The directory id in the header of the segment at `path`: nil for format 1 or a header
    /// too damaged to say (recovery reports those as damage).
    static func directoryID(of name: String, in directory: StoreDirectory) -> DirectoryID? {
        guard let bytes = try? DurableFile.read(name, in: directory, prefix: headerBytes),
            case .success(let header) = header(of: bytes)
        else {
            return nil
        }
        return header.directoryID
    }
}
