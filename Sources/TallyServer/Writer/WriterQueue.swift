import Synchronization

/// Counts calls handed to the Writer and not yet answered, across every connection, so tallyd
/// can shed load before its queues grow without bound: past `limit`, new mutations are answered
/// UNAVAILABLE with a retry-after at once, while reads still queue (docs/security.md).
final class WriterQueue: Sendable {
    let limit: Int
    /// What a shed call is told to wait before retrying.
    let retryAfterMilliseconds: Int
    private let queued = Atomic<Int>(0)

    init(limit: Int, retryAfterMilliseconds: Int = 100) {
        self.limit = limit
        self.retryAfterMilliseconds = retryAfterMilliseconds
    }

    var count: Int { queued.load(ordering: .relaxed) }

    func enter(_ calls: Int) { queued.add(calls, ordering: .relaxed) }
    func leave(_ calls: Int) { queued.subtract(calls, ordering: .relaxed) }
}
