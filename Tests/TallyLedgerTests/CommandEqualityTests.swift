import Testing

@testable import TallyLedger

/// A retry is "the same request" when its command is `==` to the recorded one. The compiler
/// writes that `==`; these tests hold it to comparing every string byte for byte.
struct CommandEqualityTests {
    /// One command of every kind, each with every string field filled.
    static let everyCommand: [Command] = [
        .credit(Credit(userID: "u", amount: 1, kind: .grant, reference: "r", memo: "m", idempotencyKey: "k", metadata: ["a": "b"])),
        .spend(Spend(userID: "u", amount: 1, reference: "r", memo: "m", idempotencyKey: "k", metadata: ["a": "b"])),
        .consume(Consume(userID: "u", tokens: 1, idempotencyKey: "k")),
        .reserve(Reserve(userID: "u", tokens: 1, ttlMilliseconds: 5, idempotencyKey: "k")),
        .settle(Settle(reservationID: 1, tokens: 1, idempotencyKey: "k")),
        .release(Release(reservationID: 1, idempotencyKey: "k")),
        .changeUsage(.tierLimit(tier: "free", tokens: 5)),
        .expireReservations,
        .savePackage(SavePackage(id: "p", name: "n", tokens: 1, priceCents: 1, currency: "EUR", externalPriceID: "x")),
        .deactivatePackage(id: "p"),
        .startPurchase(StartPurchase(userID: "u", packageID: "p", paymentID: "pay")),
        .settlePurchase(SettlePurchase(paymentID: "pay", result: .failed(reason: "declined"))),
        .expirePurchases,
        .commit(Commit(userID: "u", predictionID: "q", position: .yes, stake: 1, oddsMicros: 2, idempotencyKey: "k")),
        .cancelCommitment(id: 1),
        .settlePrediction(SettlePrediction(predictionID: "q", result: .void)),
        .closePrediction(id: "q", at: nil),
        .setMembership(SetMembership(userID: "u", tier: "pro", expiresAt: 9)),
        .setActionPrice(SetActionPrice(action: "a", tier: "pro", cost: 2)),
        .spendAction(SpendAction(userID: "u", action: "a", reference: "r", memo: "m", idempotencyKey: "k", metadata: ["a": "b"])),
        .refusedAttempt(RefusedAttempt(userID: "u", refusal: Refusal(code: .permissionDenied, reason: "ROLE", message: "no"))),
        .reconcile(repair: false),
        .trimAudit(through: 1),
        .archiveTransactions(ArchiveTransactions(batch: 1, ids: [1])),
        .archiveCommitments(ArchiveCommitments(batch: 1, ids: [1])),
    ]

    /// The compiler checks this switch is exhaustive: a new kind of command fails to build here
    /// until it has a sample above.
    static func kind(_ command: Command) -> Int {
        switch command {
        case .credit: 0
        case .spend: 1
        case .consume: 2
        case .reserve: 3
        case .settle: 4
        case .release: 5
        case .changeUsage: 6
        case .expireReservations: 7
        case .savePackage: 8
        case .deactivatePackage: 9
        case .startPurchase: 10
        case .settlePurchase: 11
        case .expirePurchases: 12
        case .commit: 13
        case .cancelCommitment: 14
        case .settlePrediction: 15
        case .closePrediction: 16
        case .setMembership: 17
        case .setActionPrice: 18
        case .spendAction: 19
        case .refusedAttempt: 20
        case .reconcile: 21
        case .trimAudit: 22
        case .archiveTransactions: 23
        case .archiveCommitments: 24
        }
    }

    @Test func theSamplesCoverEveryKindOfCommand() {
        #expect(Set(Self.everyCommand.map(Self.kind)) == Set(0...24))
    }

    /// A command struct's string stored as a plain `String` would be compared by Swift's `==`,
    /// which calls canonically equivalent spellings equal. Every one must be an ExactString
    /// (`@ExactString var`). Refusals are the server's own words, not the caller's; the strings
    /// carried directly in an enum case (a tier name, a package id) belong to commands that have
    /// no idempotency key, so no retry is ever compared through them.
    @Test func everyStringInACommandIsComparedByItsBytes() {
        for command in Self.everyCommand {
            guard let payload = Mirror(reflecting: command).children.first?.value,
                Mirror(reflecting: payload).displayStyle == .struct
            else { continue }
            let plain = plainStrings(in: payload, path: "\(Self.kind(command))")
            #expect(plain.isEmpty, "\(command): plain String fields \(plain)")
        }
    }

    private func plainStrings(in value: Any, path: String) -> [String] {
        if value is String { return [path] }
        if value is ExactString || value is Refusal { return [] }
        return Mirror(reflecting: value).children.enumerated().flatMap { index, child in
            plainStrings(in: child.value, path: path + "." + (child.label ?? String(index)))
        }
    }

    /// "é" precomposed (U+00E9) and decomposed (e + U+0301): equal to Swift's `String ==`,
    /// different bytes on the wire, so different requests.
    @Test func canonicallyEquivalentSpellingsAreDifferentRequests() {
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        #expect(composed == decomposed)  // the trap being avoided
        for command in Self.everyCommand {
            for changed in respelled(command, from: composed, to: decomposed) {
                #expect(changed.0 != changed.1, "\(command) compared \(composed) and \(decomposed) as equal")
            }
        }
    }

    /// Pairs of the command with one string field set to each spelling, for every string field.
    private func respelled(_ command: Command, from a: String, to b: String) -> [(Command, Command)] {
        func pair<T>(_ value: T, _ fields: [WritableKeyPath<T, String>], _ wrap: (T) -> Command) -> [(Command, Command)] {
            fields.map { field in
                var x = value, y = value
                x[keyPath: field] = a
                y[keyPath: field] = b
                return (wrap(x), wrap(y))
            }
        }
        switch command {
        case .credit(let c): return pair(c, [\.userID, \.reference, \.memo, \.idempotencyKey], Command.credit)
        case .spend(let s): return pair(s, [\.userID, \.reference, \.memo, \.idempotencyKey], Command.spend)
        case .consume(let c): return pair(c, [\.userID, \.idempotencyKey], Command.consume)
        case .reserve(let r): return pair(r, [\.userID, \.idempotencyKey], Command.reserve)
        case .settle(let s): return pair(s, [\.idempotencyKey], Command.settle)
        case .release(let r): return pair(r, [\.idempotencyKey], Command.release)
        case .savePackage(let p): return pair(p, [\.id, \.name, \.currency, \.externalPriceID], Command.savePackage)
        case .startPurchase(let p): return pair(p, [\.userID, \.packageID, \.paymentID], Command.startPurchase)
        case .settlePurchase(let s):
            return pair(s, [\.paymentID], Command.settlePurchase) + [
                (.settlePurchase(SettlePurchase(paymentID: "p", result: .failed(reason: ExactString(a)))),
                 .settlePurchase(SettlePurchase(paymentID: "p", result: .failed(reason: ExactString(b))))),
            ]
        case .commit(let c): return pair(c, [\.userID, \.predictionID, \.idempotencyKey], Command.commit)
        case .settlePrediction(let s): return pair(s, [\.predictionID], Command.settlePrediction)
        case .setMembership(var m):
            var n = m
            m.tier = a
            n.tier = b
            return pair(m, [\.userID], Command.setMembership) + [(.setMembership(m), .setMembership(n))]
        case .setActionPrice(let p): return pair(p, [\.action, \.tier], Command.setActionPrice)
        case .spendAction(let s): return pair(s, [\.userID, \.action, \.reference, \.memo, \.idempotencyKey], Command.spendAction)
        case .refusedAttempt(let r): return pair(r, [\.userID], Command.refusedAttempt)
        case .changeUsage, .expireReservations, .deactivatePackage, .expirePurchases, .cancelCommitment, .closePrediction,
            .reconcile, .trimAudit, .archiveTransactions, .archiveCommitments:
            return []
        }
    }
}
