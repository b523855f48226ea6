import TallyLedger
import TallyWire

/// tally.v1.Ledger: balances, credits, spends, transactions.
enum LedgerEndpoints {
    static let all: [Endpoint] = [
        Endpoint(.getBalance, .read, request: Tally_V1_GetBalanceRequest.self) { body, _ in
            if let invalid = Validation.userID(body.userID) { return .invalid(invalid) }
            return .writer(.balance(userID: body.userID))
        } answer: { id, result in
            guard case .balance(let balance) = result else { return nil }
            return .balance(callID: id, balance)
        },
        Endpoint(.credit, .write, mutates: true, rateClass: .credit, request: Tally_V1_CreditRequest.self) { body, _ in
            .writer(.apply(.credit(body.ledgerValue)))
        } answer: { id, result in
            Responses.accepted(id, result) { receipt, replayed in
                Tally_V1_CreditResponse.with {
                    $0.transaction = Tally_V1_Transaction(receipt.transaction)
                    $0.balance = Tally_V1_Balance(receipt.balance)
                    $0.replayed = replayed
                }
            }
        },
        Endpoint(.spend, .write, mutates: true, rateClass: .spend, request: Tally_V1_SpendRequest.self) { body, _ in
            .writer(.apply(.spend(body.ledgerValue)))
        } answer: { id, result in
            Responses.accepted(id, result, Tally_V1_SpendResponse.init(_:replayed:))
        },
        Endpoint(.getTransaction, .read, request: Tally_V1_GetTransactionRequest.self) { body, _ in
            .writer(.transaction(id: body.transactionID))
        } answer: { id, result in
            guard case .transaction(let transaction, let transactionID, _) = result else { return nil }
            guard let transaction else {
                return .envelope(Responses.error(
                    callID: id, .notFound, reason: "TRANSACTION_NOT_FOUND", "no transaction \(transactionID): none was made with that id",
                    details: ["transaction_id": String(transactionID)]))
            }
            return .ok(callID: id, payload: Tally_V1_GetTransactionResponse.with { $0.transaction = Tally_V1_Transaction(transaction) })
        },
        Endpoint(.listTransactions, .read, request: Tally_V1_ListTransactionsRequest.self) { body, role in
            switch HistoryQuery.decode(body, role: role) {
            case .failure(let refusal): .invalid(refusal)
            case .success(let query): .query(.history(query))
            }
        },
    ]
}

extension Tally_V1_SpendResponse {
    /// Spends by amount and by priced action answer alike.
    init(_ receipt: Receipt, replayed: Bool) {
        self.init()
        transaction = Tally_V1_Transaction(receipt.transaction)
        balance = Tally_V1_Balance(receipt.balance)
        self.replayed = replayed
    }
}
