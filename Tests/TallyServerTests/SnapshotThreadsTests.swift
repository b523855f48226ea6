import Glibc
import Logging
import NIOCore
import NIOPosix
import TallyLedger
@testable import TallyServer
import Testing

/// The snapshot encoder runs on idle time (SCHED_IDLE) until a snapshot is late, the
/// housekeeping thread at nice 10 (docs/benchmarks.md, "Snapshots on idle time").
@Suite struct SnapshotThreadsTests {
    /// The calling thread's scheduling policy and nice value, and its id.
    static func priority() -> (policy: Int32, niceness: Int32, thread: id_t?) {
        let thread = SnapshotThreads.currentThreadID()
        errno = 0
        return (sched_getscheduler(0), getpriority(__priority_which_t(PRIO_PROCESS.rawValue), thread ?? 0), thread)
    }

    /// What the encoder runs at while not late: SCHED_IDLE where it may come back from it.
    static func idlePolicy(_ threads: SnapshotThreads) -> Int32 { threads.usesIdleTime ? SnapshotThreads.idlePolicy : SCHED_OTHER }

    @Test func theEncoderRunsOnIdleTimeAndHousekeepingAtNiceTen() async throws {
        let threads = SnapshotThreads(logger: Logger(label: "test"))
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let encoder = try await threads.encode(Ledger(), on: loop) { _, _ in Self.priority() }.get()
        let housekeeping = try await threads.housekeeping.runIfActive(eventLoop: loop) { Self.priority() }.get()
        #expect(encoder.thread != nil && encoder.thread != id_t(getpid()), "the encoder's own thread id")
        #expect(encoder.policy == Self.idlePolicy(threads), "SCHED_IDLE (5) where permitted, got \(encoder.policy)")
        #expect(encoder.niceness == 10, "nice 10 underneath, which leaving SCHED_IDLE needs")
        #expect(housekeeping.thread != nil && housekeeping.thread != encoder.thread)
        #expect(housekeeping.policy == SCHED_OTHER && housekeeping.niceness == 10)
        try await threads.shutdownGracefully()
    }

    /// This process runs as root in CI and here; the test says so rather than pass vacuously.
    @Test func rootMayLeaveIdleTime() {
        #expect(geteuid() != 0 || SnapshotThreads.canLeaveIdlePolicy())
        #expect(geteuid() != 0 || SnapshotThreads.hasCapability(23), "root holds CAP_SYS_NICE")
    }

    @Test func aLateEncodingFinishesAtNiceTenAndTheNextStartsOnIdleTimeAgain() async throws {
        let threads = SnapshotThreads(logger: Logger(label: "test"), idleBudget: .milliseconds(20))
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let (before, after) = try await threads.encode(Ledger(), on: loop) { _, pace in
            let before = Self.priority()
            usleep(40_000)
            pace.check()  // a part written after the budget ran out
            return (before, Self.priority())
        }.get()
        #expect(before.policy == Self.idlePolicy(threads))
        #expect(after.policy == SCHED_OTHER && after.niceness == 10, "late: \(after)")
        let next = try await threads.encode(Ledger(), on: loop) { _, pace in
            pace.check()
            return Self.priority()
        }.get()
        #expect(next.policy == Self.idlePolicy(threads), "the next encoding is on idle time again: \(next)")
        try await threads.shutdownGracefully()
    }

    /// A shutdown's final snapshot must not wait for idle time behind a periodic one.
    @Test func anUrgentEncodingHurriesTheOneAheadOfIt() async throws {
        // Only the urgent one can make the first late: its own budget is far beyond the test. The
        // loop's bound is for a broken build; on a loaded machine the test task itself may wait
        // seconds before it asks for the urgent one.
        let threads = SnapshotThreads(logger: Logger(label: "test"), idleBudget: .seconds(3_600))
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let first = threads.encode(Ledger(), on: loop) { _, pace in
            let start = ContinuousClock.now
            while !pace.late && ContinuousClock.now - start < .seconds(600) {
                usleep(1_000)
                pace.check()
            }
            return (pace.late, Self.priority())
        }
        try await Task.sleep(for: .milliseconds(100))
        let second = threads.encode(Ledger(), on: loop, urgent: true) { _, _ in Self.priority() }
        let (late, priority) = try await first.get()
        #expect(late, "the encoding ahead of an urgent one finishes at nice 10, not after its hour on idle time")
        #expect(priority.policy == SCHED_OTHER && priority.niceness == 10, "\(priority)")
        #expect(try await second.get().policy == SCHED_OTHER)
        try await threads.shutdownGracefully()
    }

    @Test func anUrgentEncodingRunsAtNiceTenFromTheStart() async throws {
        let threads = SnapshotThreads(logger: Logger(label: "test"))
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let urgent = try await threads.encode(Ledger(), on: loop, urgent: true) { _, _ in Self.priority() }.get()
        #expect(urgent.policy == SCHED_OTHER && urgent.niceness == 10, "\(urgent)")
        try await threads.shutdownGracefully()
    }

    @Test func anEncodingThatThrowsFailsItsFutureAndAStoppedEncoderRefuses() async throws {
        let threads = SnapshotThreads(logger: Logger(label: "test"))
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        struct Broken: Error {}
        await #expect(throws: Broken.self) { try await threads.encode(Ledger(), on: loop) { _, _ in throw Broken() }.get() }
        try await threads.shutdownGracefully()
        await #expect(throws: (any Error).self) { try await threads.encode(Ledger(), on: loop) { _, _ in 1 }.get() }
    }
}
