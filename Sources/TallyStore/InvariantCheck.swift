import Foundation
import TallyLedger

/// The invariant check of a recovered state, on threads of its own: the balance rules in two
/// parts (users split in two) and the rest at once, started on the snapshot's state so that it
/// runs while the journal replays. The state after replay needs no second check: replay applies
/// journaled commands through `Ledger.apply`, which keeps every invariant (the property tests
/// check it after each step), exactly as it does for live calls.
final class InvariantCheck: @unchecked Sendable {
    static let balanceParts = 2
    private let ledger: Ledger
    private let done = DispatchSemaphore(value: 0)
    /// One per thread: written by it before it signals, read after all have.
    private final class Found<Value>: @unchecked Sendable {
        var value: Value?
    }
    private let balances = (0..<balanceParts).map { _ in Found<Ledger.BalanceCheck>() }
    private let records = Found<[String]>()

    init(_ ledger: Ledger) {
        self.ledger = ledger
        for (part, found) in balances.enumerated() {
            Thread.detachNewThread { [done] in
                found.value = ledger.balanceCheck(part: part, of: Self.balanceParts)
                done.signal()
            }
        }
        Thread.detachNewThread { [done, records] in
            records.value = ledger.recordViolations()
            done.signal()
        }
    }

    /// The violations found, once every part is done.
    func wait() -> [String] {
        for _ in 0...Self.balanceParts { done.wait() }
        return ledger.balanceViolations(combining: balances.compactMap(\.value)) + (records.value ?? [])
    }
}
