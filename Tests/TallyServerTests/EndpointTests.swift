import Foundation
import SwiftProtobuf
import TallyLedger
@testable import TallyServer
import TallyWire
import Testing

/// The endpoint table: one entry per method, found by its ordinal, and each entry's decode and
/// answer checked byte by byte for the shapes every method shares (a payload that is not its
/// message, an answer the Writer should never give it), and for Credit and GetBalance in full.
@Suite struct EndpointTests {
    @Test func everyMethodHasExactlyOneEndpointFoundByItsOrdinal() {
        #expect(Endpoints.all.count == Method.allCases.count)
        #expect(Set(Endpoints.all.map(\.method.rawValue)).count == Method.allCases.count)
        for (index, method) in Method.allCases.enumerated() {
            #expect(method.ordinal == index, "\(method.rawValue)")
            #expect(method.endpoint.method == method, "\(method.rawValue) finds \(method.endpoint.method.rawValue)")
        }
    }

    /// Each endpoint names its request message: the name is in MALFORMED_PAYLOAD answers, and
    /// the service in the message's package path is the method's.
    @Test func everyEndpointNamesItsRequestMessageAndRefusesBytesThatAreNotOne() {
        let garbage = Data([0xFF, 0xFF, 0xFF])
        for endpoint in Endpoints.all {
            #expect(endpoint.requestType.hasPrefix("tally.v1.") && endpoint.requestType.hasSuffix("Request"), "\(endpoint.requestType)")
            #expect(throws: (any Error).self, "\(endpoint.method.rawValue)") { try endpoint.decode(garbage, .admin) }
        }
    }

    /// Reads never go through the journal; every mutation does, and only mutations have rate classes.
    @Test func mutationsAndRateClassesAgree() {
        for endpoint in Endpoints.all {
            if endpoint.rateClass != nil { #expect(endpoint.mutates, "\(endpoint.method.rawValue)") }
            if endpoint.access == .read { #expect(!endpoint.mutates, "\(endpoint.method.rawValue)") }
        }
        #expect(Set(Endpoints.all.compactMap(\.rateClass)) == Set(RateClass.allCases), "every rate class is used")
    }

    /// An answer the Writer never gives a method (a balance to Credit, say) is nil, which the
    /// connection answers INTERNAL rather than with another method's message.
    @Test func anEndpointGivenAnotherMethodsResultAnswersNothing() {
        let foreign: WriterAnswer.Result = .membership(Ledger().membership(of: "a", at: 0))
        for endpoint in Endpoints.all where endpoint.method != .getMembership && endpoint.method != .setMembership {
            if let answer = endpoint.answer { #expect(answer(7, foreign) == nil, "\(endpoint.method.rawValue)") }
        }
        let response = Responses.answer(WriterAnswer(callID: 7, method: .credit, result: foreign))
        guard case .envelope(let envelope) = response else { Issue.record("not an envelope: \(response)"); return }
        #expect(envelope.code == .internal && envelope.reason == "INTERNAL" && envelope.callID == 7)
    }

    @Test func creditDecodesToTheLedgersCommandAndAnswersItsReceipt() throws {
        // CreditRequest{user_id: "ann", amount: 5, kind: PURCHASE(1), idempotency_key: "k"}, as protoc writes it.
        let payload = Data([0x0A, 0x03, 0x61, 0x6E, 0x6E, 0x10, 0x05, 0x18, 0x01, 0x32, 0x01, 0x6B])
        let expected = try Tally_V1_CreditRequest(serializedBytes: payload)
        #expect(expected.userID == "ann" && expected.amount == 5 && expected.idempotencyKey == "k")
        guard case .writer(.apply(.credit(let credit))) = try Method.credit.endpoint.decode(payload, .app) else {
            Issue.record("not a credit for the Writer"); return
        }
        #expect(credit == expected.ledgerValue)

        var ledger = Ledger()
        _ = ledger.apply(.credit(credit), at: 1_000_000)
        let applied = ledger.apply(.credit(credit), at: 2_000_000)  // the retry: a replay
        guard case .accepted(let receipt) = applied.outcome, applied.replayed else { Issue.record("\(applied)"); return }
        let (transaction, balance) = (receipt.transaction, receipt.balance)
        let answer = Responses.answer(WriterAnswer(callID: 3, method: .credit, result: .applied(applied)))
        let bytes = try answer.envelopeMessage().serializedBytes() as [UInt8]
        let built = Tally_V1_Response.with {
            $0.callID = 3
            $0.payload = try! Tally_V1_CreditResponse.with {
                $0.transaction = Tally_V1_Transaction(transaction)
                $0.balance = Tally_V1_Balance(balance)
                $0.replayed = true
            }.serializedBytes()
        }
        #expect(bytes == (try built.serializedBytes() as [UInt8]))
    }

    @Test func getBalanceRefusesAnInvalidUserAtOnceAndAnswersAValidOneFromTheWriter() throws {
        let empty = try Tally_V1_GetBalanceRequest().serializedBytes() as Data
        guard case .invalid(let refusal) = try Method.getBalance.endpoint.decode(empty, .readOnly) else {
            Issue.record("an empty user id must be refused before the Writer"); return
        }
        #expect(refusal.code == .invalidArgument && refusal.reason == "USER_ID_EMPTY")
        let ann = try Tally_V1_GetBalanceRequest.with { $0.userID = "ann" }.serializedBytes() as Data
        guard case .writer(.balance(userID: "ann")) = try Method.getBalance.endpoint.decode(ann, .readOnly) else {
            Issue.record("a balance read for ann"); return
        }
    }
}
