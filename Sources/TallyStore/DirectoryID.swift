/// A data directory's identity: 128 random bits given when the directory is created (and anew by
/// `tallyd restore`), written in DATA/DIRECTORY_ID and in the header of every snapshot and
/// journal segment and the first line of every archive file written there. Recovery uses only
/// files that name the directory's own id, so a tallyd that kept writing into a directory wiped
/// and recreated under it, or a file copied in from elsewhere, is reported, never picked up.
public struct DirectoryID: Hashable, Sendable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64
    public static let byteCount = 16

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public static func random() -> DirectoryID {
        var generator = SystemRandomNumberGenerator()
        return DirectoryID(high: generator.next(), low: generator.next())
    }

    /// From 16 bytes, big-endian (as file headers hold it).
    init<Bytes: Collection<UInt8>>(bytes: Bytes) {
        precondition(bytes.count == Self.byteCount)
        var high: UInt64 = 0, low: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            if index < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(high: high, low: low)
    }

    /// From 32 hex digits, as `description` prints it; nil for anything else.
    public init?(hex: some StringProtocol) {
        let digits = Array(hex.utf8)
        guard digits.count == 32, let high = UInt64(String(hex.prefix(16)), radix: 16),
            let low = UInt64(String(hex.suffix(16)), radix: 16),
            digits.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) })
        else { return nil }
        self.init(high: high, low: low)
    }

    var bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount)
        JournalRecord.appendBigEndian(high, to: &bytes)
        JournalRecord.appendBigEndian(low, to: &bytes)
        return bytes
    }

    /// 32 lowercase hex digits.
    public var description: String {
        func padded(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return padded(high) + padded(low)
    }
}
