import Foundation
import TallyTestSupport
import Testing

@testable import TallyStore

/// `DurableFile.read` reads a file at its size into one buffer (snapshots are gigabytes): the
/// whole file, a prefix, an empty file, and one larger than any single read returns in pieces.
@Suite struct DurableFileReadTests {
    @Test func wholeFilesPrefixesAndEmptyFilesReadExactly() throws {
        let directory = NSTemporaryDirectory() + "tally-read-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var generator = SplitMix64(seed: 0x5EED)
        for size in [0, 1, 4_096, 65_536, 65_537, 3_000_001] {
            let bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let path = directory + "/f\(size)"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            #expect(try DurableFile.read(path) == bytes, "size \(size)")
            for prefix in [0, 10, 70_000, size + 5] {
                #expect(try DurableFile.read(path, prefix: prefix) == Array(bytes.prefix(prefix)), "size \(size), prefix \(prefix)")
            }
        }
        #expect(try DurableFile.read(directory + "/missing") == nil)
    }
}
