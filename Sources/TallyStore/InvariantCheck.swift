import Foundation
import TallyLedger

/// The invariant check of a recovered state, on threads of its own: its two independent halves
/// (balances, everything else) at once, and started on the snapshot's state so that it runs
/// while the journal replays. The state after replay needs no second check: replay applies
/// journaled commands through `Ledger.apply`, which keeps every invariant (the property tests
/// check it after each step), exactly as it does for live calls.
final class InvariantCheck: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    // Each written by one thread before it signals, read after both have.
    private var balances: [String] = []
    private var records: [String] = []

    init(_ ledger: Ledger) {
        Thread.detachNewThread { [self] in
            balances = ledger.balanceViolations()
            done.signal()
        }
        Thread.detachNewThread { [self] in
            records = ledger.recordViolations()
            done.signal()
        }
    }

    /// The violations found, once both halves are done.
    func wait() -> [String] {
        done.wait()
        done.wait()
        return balances + records
    }
}
