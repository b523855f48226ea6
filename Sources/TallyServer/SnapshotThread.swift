import Glibc
import NIOPosix

/// The snapshot thread runs at a lower CPU priority than the Writer and the connections.
///
/// Writing a snapshot of a large state (encoding every account and transaction) is seconds of
/// CPU; on a machine with few cores it took them from the Writer and the clients, and credits'
/// p99 grew 5.7 to 6.1 times while one was written (docs/benchmarks.md). A snapshot is never
/// urgent: the journal already holds everything, so it may take longer while the machine is
/// busy. Nice 10 weighs about a tenth of a normal thread: under a load that keeps every core
/// busy a snapshot still progresses, about ten times slower.
enum SnapshotThread {
    /// The snapshot thread's nice value (Linux applies setpriority to one thread by its id).
    static let niceness: Int32 = 10

    static func lowerPriority(of pool: NIOThreadPool) {
        let niceness = niceness
        pool.submit { _ in
            guard let thread = currentThreadID() else { return }
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), thread, niceness)
        }
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
}
