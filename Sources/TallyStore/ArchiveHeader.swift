/// The first line of an archive file (DATA/archive/*.jsonl): which data directory wrote it, so
/// that a file another tallyd wrote, or one copied in, is told from the directory's own.
///
///     {"tally_archive":{"kind":"transactions","format":2,"directory_id":"<32 hex digits>"}}
///
/// Every other line is one record. Readers skip the line that starts with `{"tally_archive"`.
enum ArchiveHeader {
    static let prefix = Array(#"{"tally_archive":"#.utf8)

    /// The header line, newline included.
    static func line(kind: String, directoryID: DirectoryID) -> [UInt8] {
        Array(#"{"tally_archive":{"kind":"\#(kind)","format":2,"directory_id":"\#(directoryID)"}}"#.utf8) + [UInt8(ascii: "\n")]
    }

    static func isHeader(_ line: some Collection<UInt8>) -> Bool {
        line.starts(with: prefix)
    }

    /// The directory id a file's first bytes name, nil when they are not a header line (a file
    /// begun before directory ids) or do not hold one.
    static func directoryID(inFirstLine bytes: [UInt8]) -> DirectoryID? {
        guard isHeader(bytes) else { return nil }
        let key = Array(#""directory_id":""#.utf8)
        guard let start = (0...(bytes.count - key.count)).first(where: { bytes[$0..<($0 + key.count)].elementsEqual(key) }) else {
            return nil
        }
        let digits = bytes.dropFirst(start + key.count).prefix(32)
        return DirectoryID(hex: String(decoding: digits, as: UTF8.self))
    }
}
