import Glibc
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TallyLedger
import TallyStore

/// The two threads behind snapshots: one that encodes and writes them on CPU time nothing else
/// wants, and one that gives memory back.
///
/// Writing a snapshot of a large state is seconds of CPU. At nice 10 it still took most of a
/// core: Linux balances each CPU's queue on its own, so a low-priority thread alone on a CPU
/// runs there unhindered while the Writer, the journal and the clients crowd the other one, and
/// credits' p99 grew 3.8 to 4.9 times while a snapshot of 1,000,000 accounts was written. As
/// SCHED_IDLE the encoder yields at every wake-up of any other thread (docs/benchmarks.md).
///
/// A snapshot is not urgent, but it must end: until it does, archived audit entries and
/// transactions stay in memory and the journal grows. So a snapshot that has run longer than
/// `idleBudget` finishes at nice 10 (and the final one of a shutdown runs at nice 10 from the
/// start). Leaving SCHED_IDLE needs CAP_SYS_NICE or an RLIMIT_NICE of at least 10; where the
/// process has neither, the encoder never enters SCHED_IDLE and runs at nice 10 throughout.
///
/// What the encoder must not do is hold a lock the Writer needs: a SCHED_IDLE thread preempted
/// inside malloc's arena lock or the loop's task queue would make the Writer wait for idle
/// time. Giving memory back (`malloc_trim` locks every arena), freeing a snapshot's copy (whose
/// nodes the Writer allocated, so each free locks the Writer's arena) and every hand-over to the
/// Writer's loop run on the housekeeping thread, at nice 10 and an ordinary policy.
final class SnapshotThreads: Sendable {
    /// Encodes and writes snapshots, backups and archives, one at a time, in the order asked.
    let encoder = NIOThreadPool(numberOfThreads: 1)
    /// Trims the heap, lets snapshot copies go, hands results to the Writer's loop.
    let housekeeping = NIOThreadPool(numberOfThreads: 1)
    /// How long a snapshot may run on idle time before it finishes at nice 10.
    let idleBudget: TimeAmount
    /// False where the encoder could not come back from SCHED_IDLE, so it never enters it.
    let usesIdleTime: Bool
    private let logger: Logger
    /// Urgent encodings asked for and not yet finished: while there is one, the encoding ahead
    /// of it is late too (a shutdown must not wait for idle time).
    private let urgentWaiting = Atomic<Int>(0)

    /// The nice value of the housekeeping thread and of a late encoder.
    static let niceness: Int32 = 10
    /// Linux's SCHED_IDLE policy (sched.h defines it only under _GNU_SOURCE, which Swift's
    /// Glibc module leaves out).
    static let idlePolicy: Int32 = 5

    init(logger: Logger, idleBudget: TimeAmount = .seconds(10)) {
        self.logger = logger
        self.idleBudget = idleBudget
        self.usesIdleTime = Self.canLeaveIdlePolicy()
        if !usesIdleTime {
            logger.notice(
                "snapshot thread runs at nice 10: leaving SCHED_IDLE needs CAP_SYS_NICE or RLIMIT_NICE >= 10 (LimitNICE=10 under systemd)")
        }
        encoder.start()
        housekeeping.start()
        housekeeping.submit { _ in Self.lowerPriority() }
        let usesIdleTime = usesIdleTime
        encoder.submit { _ in
            if usesIdleTime { Self.onIdleTime() } else { Self.lowerPriority() }
        }
    }

    /// Runs `body` on the encoder with `ledger` (a copy the Writer shares nodes with), then lets
    /// the copy go on the housekeeping thread. The future completes on `loop`. `body` calls the
    /// `Pace` it is given between pieces of work; `urgent` runs it at nice 10 from the start.
    func encode<T: Sendable>(
        _ ledger: Ledger, on loop: any EventLoop, urgent: Bool = false, _ body: @escaping @Sendable (Ledger, Pace) throws -> T
    ) -> EventLoopFuture<T> {
        let held = HeldCopy(ledger)
        let promise = loop.makePromise(of: T.self)
        let housekeeping = self.housekeeping
        if urgent { urgentWaiting.add(1, ordering: .relaxed) }
        let pace = Pace(budget: urgent || !usesIdleTime ? .zero : idleBudget, leavesIdleTime: usesIdleTime, logger: logger) { [self] in
            urgentWaiting.load(ordering: .relaxed) > 0
        }
        encoder.submit { [self] state in
            defer { if urgent { urgentWaiting.subtract(1, ordering: .relaxed) } }
            let result: Result<T, any Error>
            if state == .active, let ledger = held.take() {
                pace.check()
                result = Result { try body(ledger, pace) }
                pace.finish()
                // `ledger` ends here; `held` keeps the copy until the housekeeping thread lets it go.
                housekeeping.submit { _ in held.release() }
            } else {
                result = .failure(StoreError("snapshot thread stopped"))
            }
            housekeeping.submit { _ in promise.completeWith(result) }
        }
        return promise.futureResult
    }

    /// Runs `task` on `loop`, handed over by the housekeeping thread: the encoder never takes the
    /// loop's task-queue lock itself (preempted inside it, it would hold up the Writer).
    func onLoop(_ loop: any EventLoop, _ task: @escaping @Sendable () -> Void) {
        housekeeping.submit { _ in loop.execute(task) }
    }

    /// Runs `body` on the housekeeping thread.
    func housekeep(_ body: @escaping @Sendable () -> Void) {
        housekeeping.submit { _ in body() }
    }

    func shutdownGracefully() async throws {
        try await encoder.shutdownGracefully()
        try await housekeeping.shutdownGracefully()
    }

    /// Whether a thread that enters SCHED_IDLE may leave it again: Linux lets it back to the
    /// ordinary policy at nice 10 only with CAP_SYS_NICE or an RLIMIT_NICE of at least 10.
    /// (RLIMIT_NICE is 13; the Glibc module leaves the name out.)
    static func canLeaveIdlePolicy() -> Bool {
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(13), &limit) == 0, limit.rlim_cur >= rlim_t(20 - niceness) { return true }
        return hasCapability(23)  // CAP_SYS_NICE
    }

    /// Whether effective capability `bit` is set ("CapEff:" in /proc/self/status).
    static func hasCapability(_ bit: Int) -> Bool {
        guard let file = fopen("/proc/self/status", "r") else { return false }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix("CapEff:") else { continue }
            let hex = String(text.dropFirst("CapEff:".count).filter(\.isHexDigit))
            guard let mask = UInt64(hex, radix: 16) else { return false }
            return mask & (1 << UInt64(bit)) != 0
        }
        return false
    }

    /// The calling thread to SCHED_IDLE (at nice 10 underneath, which is what leaving it needs
    /// the limit for), or to nice 10 alone if the policy is refused.
    static func onIdleTime() {
        lowerPriority()
        var parameters = sched_param()
        _ = sched_setscheduler(0, idlePolicy, &parameters)
    }

    /// The calling thread to the ordinary policy at nice 10. Linux applies setpriority to one
    /// thread when given its id; sched_setscheduler with 0 means the calling thread.
    static func lowerPriority() {
        if let thread = currentThreadID() {
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), thread, niceness)
        }
        var parameters = sched_param()
        _ = sched_setscheduler(0, SCHED_OTHER, &parameters)
    }

    /// The calling thread's kernel id, from /proc/thread-self ("PID/task/TID"): Swift's Glibc
    /// module leaves gettid out (it needs _GNU_SOURCE).
    static func currentThreadID() -> id_t? {
        var buffer = [CChar](repeating: 0, count: 64)
        let count = readlink("/proc/thread-self", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let link = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return link.split(separator: "/").last.flatMap { id_t($0) }
    }

    /// One encoding's clock: past its budget, the encoder leaves idle time for nice 10 until the
    /// encoding ends. Used only on the encoder thread.
    final class Pace: @unchecked Sendable {
        private let budget: TimeAmount
        private let leavesIdleTime: Bool
        private let logger: Logger
        /// Whether an urgent encoding waits behind this one.
        private let urgentBehind: @Sendable () -> Bool
        private var started: NIODeadline?
        private(set) var late = false

        init(budget: TimeAmount, leavesIdleTime: Bool, logger: Logger, urgentBehind: @escaping @Sendable () -> Bool = { false }) {
            self.budget = budget
            self.leavesIdleTime = leavesIdleTime
            self.logger = logger
            self.urgentBehind = urgentBehind
        }

        /// Between two pieces of work: cheap (a clock read and a load) until the budget is spent.
        func check() {
            guard !late else { return }
            let now = NIODeadline.now()
            guard let started else {
                self.started = now
                if budget == .zero { hurry(after: .zero) }
                return
            }
            if now - started > budget || urgentBehind() { hurry(after: now - started) }
        }

        private func hurry(after running: TimeAmount) {
            late = true
            guard leavesIdleTime else { return }
            SnapshotThreads.lowerPriority()
            if running > .zero {
                logger.notice("snapshot running late: it finishes at nice 10", metadata: ["ms": "\(running.nanoseconds / 1_000_000)"])
            }
        }

        /// The encoding is over: back to idle time for the next one.
        func finish() {
            if late && leavesIdleTime { SnapshotThreads.onIdleTime() }
        }
    }
}

/// A snapshot's copy of the Ledger, held apart from the closures that use it, so that the
/// thread whose release is the last one is chosen, not left to whichever closure dies last.
private final class HeldCopy: @unchecked Sendable {
    private var ledger: Ledger?
    init(_ ledger: Ledger) { self.ledger = ledger }
    /// A reference for the encoder's body (the box keeps its own).
    func take() -> Ledger? { ledger }
    /// The box's reference goes; with the body's gone too, the copy's own nodes are freed here.
    func release() { ledger = nil }
}
