import Testing
@testable import TallyLedger

/// Malformed commands: refused with INVALID_ARGUMENT and a specific reason, and nothing changes.
@Suite struct ValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var command: Command
        var reason: String
        var details: [String: String]
        var testDescription: String { name }
    }

    static let tooLongUser = String(repeating: "u", count: Limits.maxUserIDBytes + 1)
    /// 65 characters but 130 bytes: the limit counts UTF-8 bytes.
    static let tooLongUserMultibyte = String(repeating: "é", count: 65)

    static func tooLong(_ field: String, limit: Int, length: Int) -> [String: String] {
        ["field": field, "limit": String(limit), "length": String(length)]
    }

    static let cases: [Case] = {
        var cases: [Case] = []
        for amount: Int64 in [0, -1, -1_000, Int64.min] {
            let details = ["field": "amount", "amount": String(amount)]
            cases.append(Case(name: "credit amount \(amount)", command: credit("alice", amount), reason: "AMOUNT_NOT_POSITIVE", details: details))
            cases.append(Case(name: "spend amount \(amount)", command: spend("alice", amount), reason: "AMOUNT_NOT_POSITIVE", details: details))
        }
        cases.append(Case(name: "credit empty user", command: credit("", 5), reason: "USER_ID_EMPTY", details: ["field": "user_id"]))
        cases.append(Case(name: "spend empty user", command: spend("", 5), reason: "USER_ID_EMPTY", details: ["field": "user_id"]))
        cases.append(
            Case(name: "credit user of 129 bytes", command: credit(tooLongUser, 5), reason: "FIELD_TOO_LONG",
                 details: tooLong("user_id", limit: 128, length: 129)))
        cases.append(
            Case(name: "spend user of 129 bytes", command: spend(tooLongUser, 5), reason: "FIELD_TOO_LONG",
                 details: tooLong("user_id", limit: 128, length: 129)))
        cases.append(
            Case(name: "credit user of 65 two-byte characters", command: credit(tooLongUserMultibyte, 5),
                 reason: "FIELD_TOO_LONG", details: tooLong("user_id", limit: 128, length: 130)))
        for (label, user) in [
            ("NUL", "a\u{0}b"), ("newline", "line\nbreak"), ("tab", "tab\there"), ("escape", "\u{1B}[31mred"),
            ("DEL", "del\u{7F}"), ("unit separator", "\u{1F}"), ("carriage return", "cr\r"),
            ("C1 next line", "next\u{85}line"), ("C1 CSI", "\u{9B}31m"),
        ] {
            cases.append(
                Case(name: "credit user with \(label)", command: credit(user, 5), reason: "USER_ID_INVALID", details: ["field": "user_id"]))
            cases.append(
                Case(name: "spend user with \(label)", command: spend(user, 5), reason: "USER_ID_INVALID", details: ["field": "user_id"]))
        }
        cases.append(Case(name: "credit without kind", command: credit("alice", 5, kind: nil), reason: "CREDIT_KIND_MISSING", details: ["field": "kind"]))
        let longReference = String(repeating: "r", count: Limits.maxReferenceBytes + 1)
        let longMemo = String(repeating: "m", count: Limits.maxMemoBytes + 1)
        let longKey = String(repeating: "k", count: Limits.maxIdempotencyKeyBytes + 1)
        cases.append(
            Case(name: "credit reference too long", command: credit("alice", 5, reference: longReference), reason: "FIELD_TOO_LONG",
                 details: tooLong("reference", limit: 256, length: 257)))
        cases.append(
            Case(name: "spend reference too long", command: spend("alice", 5, reference: longReference), reason: "FIELD_TOO_LONG",
                 details: tooLong("reference", limit: 256, length: 257)))
        cases.append(
            Case(name: "credit memo too long", command: credit("alice", 5, memo: longMemo), reason: "FIELD_TOO_LONG",
                 details: tooLong("memo", limit: 1_024, length: 1_025)))
        cases.append(
            Case(name: "spend memo too long", command: spend("alice", 5, memo: longMemo), reason: "FIELD_TOO_LONG",
                 details: tooLong("memo", limit: 1_024, length: 1_025)))
        cases.append(
            Case(name: "credit idempotency key too long", command: credit("alice", 5, key: longKey), reason: "FIELD_TOO_LONG",
                 details: tooLong("idempotency_key", limit: 128, length: 129)))
        cases.append(
            Case(name: "spend idempotency key too long", command: spend("alice", 5, key: longKey), reason: "FIELD_TOO_LONG",
                 details: tooLong("idempotency_key", limit: 128, length: 129)))
        cases.append(
            Case(name: "memo of 513 two-byte characters", command: credit("alice", 5, memo: String(repeating: "ø", count: 513)),
                 reason: "FIELD_TOO_LONG", details: tooLong("memo", limit: 1_024, length: 1_026)))
        return cases
    }()

    /// A ledger with some history and an idempotency record that has expired by the time the
    /// invalid command arrives: an invalid command must not even purge it.
    static func populatedLedger() throws -> Ledger {
        var ledger = Ledger(config: LedgerConfig(idempotencyTTL: second))
        try accept(&ledger, credit("alice", 100, key: "old-key"), at: t0)
        try accept(&ledger, spend("alice", 10), at: t0 + 1)
        #expect(ledger.idempotency.records.count == 1)
        return ledger
    }

    @Test("invalid command is refused and changes nothing", arguments: cases)
    func invalid(_ testCase: Case) throws {
        var ledger = try Self.populatedLedger()
        let refusal = try refuseWithoutChange(
            &ledger, testCase.command, at: t0 + 10 * second, code: .invalidArgument, reason: testCase.reason)
        #expect(refusal.details == testCase.details)
        #expect(!refusal.message.isEmpty)
        #expect(ledger.idempotency.records.count == 1, "the expired record was purged by an invalid command")
    }

    @Test func megabyteUserIDIsRefused() throws {
        var ledger = try Self.populatedLedger()
        let huge = String(repeating: "x", count: 1 << 20)
        for command in [credit(huge, 5), spend(huge, 5)] {
            let refusal = try refuseWithoutChange(
                &ledger, command, at: t0 + 10 * second, code: .invalidArgument, reason: "FIELD_TOO_LONG")
            #expect(refusal.details == Self.tooLong("user_id", limit: 128, length: 1 << 20))
        }
    }

    @Test func invalidCommandWithKeyIsNotRemembered() throws {
        var ledger = Ledger()
        try refuseWithoutChange(&ledger, credit("alice", 0, key: "K"), at: t0, code: .invalidArgument, reason: "AMOUNT_NOT_POSITIVE")
        #expect(ledger.idempotency.records.isEmpty)
        // The key is still free: the corrected command is applied, not a conflict.
        let receipt = try accept(&ledger, credit("alice", 10, key: "K"), at: t0 + 1)
        #expect(receipt.transaction.amount == 10)
    }

    @Test("values at the limits are accepted and stored intact")
    func valuesAtLimits() throws {
        var ledger = Ledger()
        let user = String(repeating: "u", count: Limits.maxUserIDBytes)
        let multibyteUser = String(repeating: "é", count: 64)  // 128 bytes
        let reference = String(repeating: "r", count: Limits.maxReferenceBytes)
        let memo = String(repeating: "m", count: Limits.maxMemoBytes)
        let key = String(repeating: "k", count: Limits.maxIdempotencyKeyBytes)
        let r1 = try accept(&ledger, credit(user, 9, reference: reference, memo: memo, key: key), at: t0)
        #expect(r1.transaction.userID == user)
        #expect(r1.transaction.reference == reference)
        #expect(r1.transaction.memo == memo)
        #expect(r1.transaction.idempotencyKey == key)
        let r2 = try accept(&ledger, spend(user, 9, reference: reference, memo: memo, key: String(repeating: "j", count: 128)), at: t0 + 1)
        #expect(r2.transaction.balanceAfter == 0)
        try accept(&ledger, credit(multibyteUser, 1), at: t0 + 2)
        #expect(ledger.balance(of: multibyteUser).account.available == 1)
        expectInvariants(ledger)
    }

    @Test(
        "printable and non-ASCII user ids are valid",
        arguments: ["a", " ", "user with spaces", "ünïcødé", "用户", "🙂👍🏽", "a.b-c_d@e", "~"])
    func printableUserIDs(user: String) throws {
        var ledger = Ledger()
        try accept(&ledger, credit(user, 3), at: t0)
        #expect(ledger.balance(of: user).account.available == 3)
    }

    @Test("the byte check for control characters agrees with Unicode's general category on every scalar")
    func controlCharactersByBytes() {
        var disagreements: [UInt32] = []
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }  // surrogates
            let text = "a" + String(Character(scalar)) + "z"
            if hasControlCharacter(text) != (scalar.properties.generalCategory == .control) { disagreements.append(value) }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10).map { String($0, radix: 16) })")
    }
}
