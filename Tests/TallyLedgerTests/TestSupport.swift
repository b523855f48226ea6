import Testing
import TallyLedger

// Small helpers shared by the TallyLedger tests. Public API only (no @testable).

extension Applied {
    var receipt: Receipt? {
        guard case .accepted(let receipt) = outcome else { return nil }
        return receipt
    }

    var refusal: Refusal? {
        guard case .refused(let refusal) = outcome else { return nil }
        return refusal
    }
}

func credit(
    _ user: String, _ amount: Int64, kind: CreditKind? = .grant, reference: String = "", memo: String = "",
    key: String = ""
) -> Command {
    .credit(Credit(userID: user, amount: amount, kind: kind, reference: reference, memo: memo, idempotencyKey: key))
}

func spend(_ user: String, _ amount: Int64, reference: String = "", memo: String = "", key: String = "") -> Command {
    .spend(Spend(userID: user, amount: amount, reference: reference, memo: memo, idempotencyKey: key))
}

/// Equal byte for byte (String == would also equate canonically equivalent spellings).
func sameBytes(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

/// A realistic "now": 2023-11-14 in microseconds since the epoch.
let t0: Timestamp = 1_700_000_000_000_000
let second = Microseconds.perSecond

func expectInvariants(_ ledger: Ledger, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(ledger.invariantViolations() == [], sourceLocation: sourceLocation)
}

/// Applies a command that must be accepted and returns its receipt.
@discardableResult
func accept(
    _ ledger: inout Ledger, _ command: Command, at now: Timestamp, sourceLocation: SourceLocation = #_sourceLocation
) throws -> Receipt {
    let applied = ledger.apply(command, at: now)
    #expect(applied.replayed == false, sourceLocation: sourceLocation)
    #expect(applied.changedState, sourceLocation: sourceLocation)
    return try #require(applied.receipt, "expected acceptance, got \(applied.outcome)", sourceLocation: sourceLocation)
}

/// Applies a command that must be refused without any change to the ledger; returns the refusal.
@discardableResult
func refuseWithoutChange(
    _ ledger: inout Ledger, _ command: Command, at now: Timestamp, code: Refusal.Code, reason: String,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> Refusal {
    let before = ledger
    let applied = ledger.apply(command, at: now)
    let refusal = try #require(applied.refusal, "expected a refusal, got \(applied.outcome)", sourceLocation: sourceLocation)
    #expect(refusal.code == code, sourceLocation: sourceLocation)
    #expect(refusal.reason == reason, sourceLocation: sourceLocation)
    #expect(applied.replayed == false, sourceLocation: sourceLocation)
    #expect(applied.changedState == false, sourceLocation: sourceLocation)
    #expect(ledger == before, "a refused command changed the ledger", sourceLocation: sourceLocation)
    #expect(ledger.invariantViolations() == [], sourceLocation: sourceLocation)
    return refusal
}
