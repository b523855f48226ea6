import Foundation
import Testing

@testable import TallyServer

/// Malloc.trim gives back free pages in the middle of the heap, which free() alone keeps: after
/// 64 MiB of small blocks of which one in 64 stays, the resident memory falls once trimmed.
@Suite struct MallocTrimTests {
    func residentBytes() -> Int {
        let text = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    @Test func freePagesInsideTheHeapGoBack() {
        let blocks = 64 * 1024
        var held: [[UInt8]] = []
        held.reserveCapacity(blocks)
        for i in 0..<blocks { held.append([UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 1_000)) }
        // Keep one block in 64: the rest is free, but scattered below blocks still in use.
        held = held.enumerated().map { $0.offset % 64 == 0 ? $0.element : [] }
        let before = residentBytes()
        Malloc.trim()
        let after = residentBytes()
        #expect(before - after > 24 << 20, "resident \(before >> 20) MiB before the trim, \(after >> 20) MiB after")
        #expect(held.reduce(0) { $0 + $1.count } == (blocks / 64) * 1_000)
    }
}
