import SwiftProtobuf
import TallyLedger
import TallyWire

// The fuzz bytes become a config, a start time and a sequence of well-formed credits and
// spends with hostile fields, some built directly and some through the wire messages (so
// unknown credit kinds arrive as they would from a client). Each is applied at a strictly
// later time, and after each the Ledger must hold its invariants, a refusal must move no
// tokens, and a command that reports no state change must have changed nothing. At the end,
// replaying only the state-changing commands on a fresh Ledger must rebuild the same state
// (what the journal relies on).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLedger(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(UnsafeBufferPointer(start: data, count: size))
    let ttls: [Int64] = [1, 2, Duration.microsecondsPerHour, 24 * Duration.microsecondsPerHour]
    let config = LedgerConfig(idempotencyTTL: ttls[Int(input.byte()) % ttls.count])
    let starts: [Timestamp] = [0, 1_700_000_000_000_000, Int64.max - 3 * config.idempotencyTTL]
    var now = starts[Int(input.byte()) % starts.count]

    var ledger = Ledger(config: config)
    var journal: [(Command, Timestamp)] = []
    while !input.isEmpty {
        let command = input.command()
        guard let later = input.later(than: now, ttl: config.idempotencyTTL) else { break }
        now = later
        let before = ledger
        let applied = ledger.apply(command, at: now)
        check(command, applied, at: now, before: before, after: ledger)
        if applied.changedState { journal.append((command, now)) }
    }

    var replayed = Ledger(config: config)
    for (command, at) in journal { _ = replayed.apply(command, at: at) }
    guard replayed == ledger else { fatalError("replaying the \(journal.count) state-changing commands gave another state") }
    return 0
}

func check(_ command: Command, _ applied: Applied, at now: Timestamp, before: Ledger, after: Ledger) {
    let violations = after.invariantViolations()
    guard violations.isEmpty else { fatalError("invariants broken after \(command): \(violations)") }
    guard applied.changedState || after == before else { fatalError("\(command) changed state but said it did not") }
    let invalid = Validation.check(command)
    if let expected = independentlyInvalid(command) {
        // Invalid commands are refused before anything else, even a replay, and change nothing.
        guard case .refused(let refusal) = applied.outcome, refusal.reason == expected, invalid == refusal,
            !applied.changedState
        else { fatalError("\(command) should be refused \(expected), got \(applied)") }
    } else if invalid != nil {
        fatalError("Validation refused \(command) (\(invalid!.reason)), which is within every limit")
    }
    // A replay answers the first outcome, and only to the very same command under that key.
    let record = before.idempotency.record(for: ExactString(command.idempotencyKey), at: now)
    if applied.replayed {
        guard let record, record.command == command, record.outcome == applied.outcome else {
            fatalError("\(command) replayed \(applied.outcome), but its key holds \(String(describing: record))")
        }
    } else if invalid == nil, !command.idempotencyKey.isEmpty, let record {
        guard record.command != command, case .refused(let refusal) = applied.outcome,
            refusal.reason == "IDEMPOTENCY_KEY_CONFLICT", refusal.code == .alreadyExists
        else { fatalError("\(command) under a live key got \(applied.outcome)") }
    }
    let tokensMoved = after.accounts != before.accounts || after.transactions != before.transactions
        || after.mint != before.mint || after.burn != before.burn || after.nextTransactionID != before.nextTransactionID
    switch applied.outcome {
    case .refused:
        guard !tokensMoved else { fatalError("refused \(command) moved tokens") }
    case .accepted(let receipt):
        guard applied.replayed || (tokensMoved && receipt.transaction.id == before.nextTransactionID) else {
            fatalError("accepted \(command) recorded nothing")
        }
        if applied.replayed && tokensMoved { fatalError("a replay of \(command) moved tokens") }
    }
    // The wire mapping (also the journal's) must carry the command unchanged.
    switch command {
    case .credit(let c):
        let wire = try? Tally_V1_CreditRequest(serializedBytes: Tally_V1_CreditRequest(c).serializedBytes() as [UInt8])
        guard wire?.ledgerValue == c else { fatalError("credit did not survive the wire: \(c)") }
    case .spend(let s):
        let wire = try? Tally_V1_SpendRequest(serializedBytes: Tally_V1_SpendRequest(s).serializedBytes() as [UInt8])
        guard wire?.ledgerValue == s else { fatalError("spend did not survive the wire: \(s)") }
    }
}

/// docs/protocol.md §10, written out again rather than calling Validation: the reason the
/// first failing field (in Validation's order) must be refused with, or nil when valid.
func independentlyInvalid(_ command: Command) -> String? {
    func text(_ s: String, _ limit: Int) -> String? { s.utf8.count > limit ? "FIELD_TOO_LONG" : nil }
    func user(_ id: String) -> String? {
        if id.utf8.isEmpty { return "USER_ID_EMPTY" }
        if id.utf8.count > Limits.maxUserIDBytes { return "FIELD_TOO_LONG" }
        let control = id.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }
        return control ? "USER_ID_INVALID" : nil
    }
    func amount(_ a: Int64) -> String? { a > 0 ? nil : "AMOUNT_NOT_POSITIVE" }
    switch command {
    case .credit(let c):
        return user(c.userID) ?? amount(c.amount) ?? (c.kind == nil ? "CREDIT_KIND_MISSING" : nil)
            ?? text(c.reference, Limits.maxReferenceBytes) ?? text(c.memo, Limits.maxMemoBytes)
            ?? text(c.idempotencyKey, Limits.maxIdempotencyKeyBytes)
    case .spend(let s):
        return user(s.userID) ?? amount(s.amount) ?? text(s.reference, Limits.maxReferenceBytes)
            ?? text(s.memo, Limits.maxMemoBytes) ?? text(s.idempotencyKey, Limits.maxIdempotencyKeyBytes)
    }
}

/// Reads the fuzz bytes as choices; past the end every read is 0, so any input is a sequence.
struct FuzzInput {
    var bytes: ArraySlice<UInt8>
    init(_ buffer: UnsafeBufferPointer<UInt8>) { bytes = ArraySlice(buffer) }
    var isEmpty: Bool { bytes.isEmpty }

    mutating func byte() -> UInt8 { bytes.popFirst() ?? 0 }

    mutating func raw(_ count: Int) -> ArraySlice<UInt8> {
        let taken = bytes.prefix(count)
        bytes = bytes.dropFirst(count)
        return taken
    }

    mutating func int64() -> Int64 {
        raw(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    mutating func amount() -> Int64 {
        let hostile: [Int64] = [Int64.min, Int64.min + 1, -1, 0, 1, 2, 100, Int64.max / 2, Int64.max / 2 + 1, Int64.max - 1, Int64.max]
        let pick = Int(byte())
        return pick < hostile.count ? hostile[pick] : pick < 128 ? Int64(pick) : int64()
    }

    /// A few shared names so accounts and keys repeat, strings at and past each limit (in
    /// bytes, with multi-byte characters across the boundary), control characters, canonically
    /// equivalent spellings, and raw bytes (invalid UTF-8 repaired as a String would be).
    mutating func string() -> String {
        let pick = byte()
        switch pick % 16 {
        case 0, 1: return ""
        case 2: return ["alice", "bob", "k1", "k2"][Int(pick >> 4) % 4]
        case 3: return ["caf\u{E9}", "cafe\u{301}", "\u{FEFF}alice", "alice\u{200B}"][Int(pick >> 4) % 4]
        case 4: return ["\u{0}", "a\u{1F}b", "\u{7F}", "x\u{85}", "\u{9F}", "\n", "\u{2028}", "\u{FFFD}"][Int(pick >> 4) % 8]
        case 5, 6:
            let limits = [Limits.maxUserIDBytes, Limits.maxReferenceBytes, Limits.maxMemoBytes, Limits.maxIdempotencyKeyBytes]
            let n = limits[Int(pick >> 4) % 4] + (pick % 16 == 6 ? 1 : 0)
            return String(repeating: "a", count: n)
        case 7: return String(repeating: "\u{E9}", count: 64 + Int(pick >> 4) % 2)  // 128 or 130 bytes
        case 8: return String(repeating: "\u{1F600}", count: 32 + Int(pick >> 4) % 2)  // 128 or 132 bytes
        case 9: return String(repeating: "z", count: 1 << (10 + Int(pick >> 4) % 5))  // up to 16 KiB
        default: return String(decoding: raw(Int(byte()) % 48), as: UTF8.self)
        }
    }

    mutating func command() -> Command {
        let op = byte()
        let user = string(), amount = amount(), reference = string(), memo = string()
        let key = op & 4 == 0 ? "" : string()
        if op & 1 == 0 {
            // Through the wire message, with any kind number: unknown ones must be refused.
            if op & 2 == 0 {
                var wire = Tally_V1_CreditRequest()
                wire.userID = user
                wire.amount = amount
                wire.kind = Tally_V1_CreditKind(rawValue: Int(Int8(bitPattern: byte()))) ?? .unspecified
                wire.reference = reference
                wire.memo = memo
                wire.idempotencyKey = key
                return .credit(wire.ledgerValue)
            }
            let kind = CreditKind(rawValue: Int(byte()) % 6)  // 0 and 5 are nil
            return .credit(Credit(userID: user, amount: amount, kind: kind, reference: reference, memo: memo, idempotencyKey: key))
        }
        if op & 2 == 0 {
            var wire = Tally_V1_SpendRequest()
            wire.userID = user
            wire.amount = amount
            wire.reference = reference
            wire.memo = memo
            wire.idempotencyKey = key
            return .spend(wire.ledgerValue)
        }
        return .spend(Spend(userID: user, amount: amount, reference: reference, memo: memo, idempotencyKey: key))
    }

    /// The next timestamp, strictly later: steps around the idempotency TTL included. nil when
    /// time would run past Int64.max (the sequence ends there).
    mutating func later(than now: Timestamp, ttl: Int64) -> Timestamp? {
        let steps: [Int64] = [1, 1, 1, 1_000_000, ttl - 1, ttl, ttl + 1, 2 * ttl]
        let (next, overflow) = now.addingReportingOverflow(max(1, steps[Int(byte()) % steps.count]))
        return overflow ? nil : next
    }
}
