import Foundation
import Glibc
import TallyTestSupport
import Testing

@testable import TallyStore

/// FlushingFile: appends land at the end in order whatever their sizes, and a write larger than
/// `flushBytes` is flushed a piece at a time, never left dirty whole for the last fsync.
@Suite struct FlushingFileTests {
    @Test func appendsLandInOrderAndAreFlushedEveryFlushBytes() throws {
        let path = NSTemporaryDirectory() + "tally-flushing-" + UUID().uuidString
        defer { unlink(path) }
        let start = Array("existing\n".utf8)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(start)))
        let fd = open(path, O_WRONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        let file = FlushingFile(fd: fd, path: path, offset: start.count)
        var generator = SplitMix64(seed: 0xF1A5)
        var expected = start
        // Small pieces, one that crosses a flush boundary, and one of 2.5 flushes' worth.
        for size in [1, 4_000, FlushingFile.flushBytes - 3_000, 10, FlushingFile.flushBytes * 5 / 2] {
            let bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            try file.append(bytes)
            expected += bytes
        }
        let written = expected.count - start.count
        #expect(file.flushes == written / FlushingFile.flushBytes, "one flush per \(FlushingFile.flushBytes) bytes: \(file.flushes) for \(written)")
        try file.sync()
        #expect(file.offset == expected.count)
        #expect(try DurableFile.read(path) == expected)
    }
}
