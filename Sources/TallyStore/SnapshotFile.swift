import TallyLedger

/// A snapshot file: a fixed header, then the encoded Ledger state.
///
///     magic    8 bytes  "TALLYSNP"
///     format   u32 BE   1
///     length   u64 BE   payload bytes
///     checksum u32 BE   CRC-32C of the payload
///     payload  length bytes of tally.store.v1.Snapshot
public enum SnapshotFile {
    public static let fileName = "snapshot"
    static let magic = Array("TALLYSNP".utf8)
    static let format: UInt32 = 1
    static let headerBytes = 8 + 4 + 8 + 4

    public static func path(in directory: String) -> String { directory + "/" + fileName }

    /// Writes `ledger` durably (see DurableFile). Meant to run off the Writer, on a copy.
    public static func write(_ ledger: Ledger, to directory: String) throws -> Int {
        let payload = try LedgerSnapshot.encode(ledger)
        var file = magic
        file.reserveCapacity(headerBytes + payload.count)
        append(format, to: &file)
        append(UInt64(payload.count), to: &file)
        append(CRC32C.checksum(payload), to: &file)
        file += payload
        try DurableFile.write(file, to: path(in: directory))
        return file.count
    }

    /// The Ledger stored in `directory`, nil if there is no snapshot yet. Throws with the file
    /// name and what is wrong if the snapshot is damaged: tallyd must not start on a guess.
    public static func load(from directory: String, config: LedgerConfig) throws -> Ledger? {
        let path = path(in: directory)
        guard let bytes = try DurableFile.read(path) else { return nil }
        func damaged(_ what: String) -> StoreError {
            StoreError("snapshot \(path) is damaged: \(what). Restore it from a backup, or move it away to start with an empty ledger.")
        }
        guard bytes.count >= headerBytes, Array(bytes[0..<8]) == magic else {
            throw damaged("not a tally snapshot (bad header)")
        }
        let version = read(UInt32.self, bytes, at: 8)
        guard version == format else { throw damaged("format \(version) is not supported (this build reads \(format))") }
        let length = read(UInt64.self, bytes, at: 12)
        guard length == UInt64(bytes.count - headerBytes) else {
            throw damaged("header says \(length) payload bytes, file has \(bytes.count - headerBytes)")
        }
        let payload = Array(bytes[headerBytes...])
        let expected = read(UInt32.self, bytes, at: 20)
        let actual = CRC32C.checksum(payload)
        guard expected == actual else {
            throw damaged("checksum mismatch (stored \(hex(expected)), computed \(hex(actual)))")
        }
        do {
            return try LedgerSnapshot.decode(payload, config: config)
        } catch {
            throw damaged("\(error)")
        }
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    private static func read<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
        var value: T = 0
        for byte in bytes[offset..<offset + MemoryLayout<T>.size] {
            value = value << 8 | T(byte)
        }
        return value
    }

    private static func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
}
