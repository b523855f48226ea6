import Glibc
import NIOPosix
@testable import TallyServer
import Testing

/// The snapshot thread runs at nice 10, below the Writer and the connections (docs/benchmarks.md,
/// "Snapshots at a lower priority").
@Suite struct SnapshotThreadTests {
    @Test func aPoolLoweredRunsItsWorkAtTheLowerPriority() async throws {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        SnapshotThread.lowerPriority(of: pool)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let (niceness, thread) = try await pool.runIfActive(eventLoop: loop) { () -> (Int32, id_t?) in
            let thread = SnapshotThread.currentThreadID()
            errno = 0
            return (getpriority(__priority_which_t(PRIO_PROCESS.rawValue), thread ?? 0), thread)
        }.get()
        #expect(thread != nil && thread != id_t(getpid()), "the pool thread's own id")
        #expect(niceness == SnapshotThread.niceness && niceness == 10)
        try await pool.shutdownGracefully()
    }
}
