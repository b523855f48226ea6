import NIOCore
import Synchronization

/// The journal's reports on its way back to the Writer's loop. One fsync round reports on every
/// batch it carried, one after another; each used to be its own task on the loop, and each
/// wake-up of a sleeping loop costs more than the work it brings. Here a round's reports fold
/// into one "durable through N" (and the first failure, if any), and the loop is woken once.
final class JournalReports: Sendable {
    private struct Pending {
        var through: UInt64 = 0
        var failure: (any Error)?
        var scheduled = false
    }

    private let pending = Mutex(Pending())
    private let loop: any EventLoop

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// Called by the journal, in order, for the batch ending at record `sequence`. `deliver`
    /// runs on the loop with the newest durable record, then with the failure if there was one
    /// (every later batch of a failed journal fails too, until the Writer reopens it).
    func report(
        through sequence: UInt64, _ result: Result<Void, any Error>,
        deliver: @escaping @Sendable (UInt64, Result<Void, any Error>) -> Void
    ) {
        let wake = pending.withLock { pending -> Bool in
            switch result {
            case .success: pending.through = max(pending.through, sequence)
            case .failure(let error): if pending.failure == nil { pending.failure = error }
            }
            defer { pending.scheduled = true }
            return !pending.scheduled
        }
        guard wake else { return }
        loop.execute {
            let (through, failure) = self.pending.withLock { pending in
                pending.scheduled = false
                // Delivered once: after a resume (Writer.tryResume) the reopened journal's
                // reports must not carry the old failure.
                defer { pending.failure = nil }
                return (pending.through, pending.failure)
            }
            deliver(through, .success(()))
            if let failure { deliver(through, .failure(failure)) }
        }
    }
}
