import Testing
import TallyStore
import TallyTestSupport

/// The crc32-instruction path against the table path and published values.
struct CRC32CTests {
    @Test func knownValuesFromRFC3720() {
        // iSCSI's CRC-32C examples (RFC 3720, B.4), through both paths.
        let cases: [([UInt8], UInt32)] = [
            ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
            ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
            ((0..<32).map { UInt8($0) }, 0x46DD_794E),
            ((0..<32).map { UInt8(31 - $0) }, 0x113F_DB5C),
        ]
        for (bytes, expected) in cases {
            #expect(CRC32C.checksum(bytes) == expected)
            #expect(bytes.withUnsafeBytes { CRC32C.portableChecksum($0) } == expected)
        }
    }

    @Test func bothPathsAgreeOnEveryLengthAndAlignment() {
        let seed: UInt64 = 0xC3C3_2024
        var random = SplitMix64(seed: seed)
        let data = random.bytes(4_096)
        data.withUnsafeBytes { all in
            for _ in 0..<2_000 {
                let start = Int.random(in: 0..<64, using: &random)
                let count = Int.random(in: 0...(all.count - start), using: &random)
                let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + count)])
                let from = UInt32.random(in: 0...UInt32.max, using: &random)
                #expect(
                    CRC32C.checksum(slice, seed: from) == CRC32C.portableChecksum(slice, seed: from),
                    "seed \(seed): start \(start), count \(count)")
            }
        }
    }

    @Test func aChecksumContinuesAcrossPieces() {
        let seed: UInt64 = 77
        var random = SplitMix64(seed: seed)
        let data = random.bytes(1_000)
        let whole = CRC32C.checksum(data)
        data.withUnsafeBytes { all in
            for _ in 0..<200 {
                let cut = Int.random(in: 0...all.count, using: &random)
                let first = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: all[..<cut]))
                #expect(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: all[cut...]), seed: first) == whole, "seed \(seed): cut \(cut)")
            }
        }
    }
}
