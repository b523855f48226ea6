import CCRC32C

/// CRC-32C (Castagnoli), the checksum of every snapshot and journal record. Chosen over CRC-32
/// for its better error detection on storage. The work is in C (Sources/CCRC32C): the CPU's
/// crc32 instruction where it has one, a table otherwise.
public enum CRC32C {
    /// The checksum of `bytes`, continuing from `seed` (an earlier result, or 0 to start).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress else { return seed }
        return tally_crc32c(seed, base, bytes.count)
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// The table version alone (tests compare it with `checksum`).
    public static func portableChecksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress else { return seed }
        return tally_crc32c_portable(seed, base, bytes.count)
    }
}
