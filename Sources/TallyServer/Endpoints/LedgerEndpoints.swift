import TallyLedger
import TallyCodec
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
        // A stream: durable balance changes (docs/protocol.md §5.1, Writer+Watch.swift).
        Endpoint(.watchBalance, .read, request: Tally_V1_WatchBalanceRequest.self) { body, role in
            watchBalance(body, role: role)
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
            let filter: TransactionFilter, limit: Int
            switch historyFilter(body, role: role) {
            case .failure(let refusal): return .invalid(refusal)
            case .success(let read): (filter, limit) = read
            }
            return .scan { ledger, _ in
                let page = PageLimit.page(ledger.transactions(matching: filter, beforeID: body.beforeID, limit: limit + 1), limit: limit, id: \.id)
                return Tally_V1_ListTransactionsResponse.with {
                    $0.transactions = page.items.map(Tally_V1_Transaction.init)
                    $0.nextBeforeID = page.nextBeforeID
                }
            }
        },
    ]

    /// History newest first, filtered by user, type and time, paged by id: the cursor is "ids
    /// below this", so pages stay right while new transactions (higher ids) arrive.
    static func historyFilter(_ body: Tally_V1_ListTransactionsRequest, role: Role) -> Result<(TransactionFilter, limit: Int), Refusal> {
        if body.userID.isEmpty {
            // A question of permission, not of input: the same call with a user_id is allowed.
            guard role == .admin else {
                return .failure(Refusal(
                    code: .permissionDenied, reason: "ROLE_FORBIDS_ALL_USERS",
                    message: "the \(role.rawValue) role may list one user's history only: name a user_id (every user's history is for admins)",
                    details: ["role": role.rawValue, "field": "user_id"]))
            }
        } else if let invalid = Validation.userID(body.userID) {
            return .failure(invalid)
        }
        var types = Set<TransactionType>()
        for type in body.types {
            guard let known = TransactionType(rawValue: type.rawValue) else {
                return .failure(Refusal(
                    code: .invalidArgument, reason: "TYPE_INVALID", message: "unknown transaction type \(type.rawValue)",
                    details: ["field": "types"]))
            }
            types.insert(known)
        }
        return PageLimit.decode(body.limit).map { limit in
            (TransactionFilter(
                userID: body.userID.isEmpty ? nil : body.userID, types: types, since: body.sinceUs,
                until: body.untilUs == 0 ? .max : body.untilUs), limit)
        }
    }

    /// At most this many users in one watch.
    static let watchUsersLimit = 1_000

    private static func watchBalance(_ body: Tally_V1_WatchBalanceRequest, role: Role) -> Endpoint.Work {
        switch watchedUsers(body.userIds, all: body.allUsers, role: role) {
        case .failure(let refusal): .invalid(refusal)
        case .success(let users): .stream(.balances(users: users, resumeAfter: body.resume ? body.afterPosition : nil))
        }
    }

    /// A watch's users (nil: every user, for admins), checked as every watch checks them.
    static func watchedUsers(_ userIDs: [String], all: Bool, role: Role) -> Result<Set<String>?, Refusal> {
        if all {
            guard userIDs.isEmpty else {
                return .failure(.invalid("WATCH_USERS_AND_ALL", field: "user_ids", "give user_ids or all_users, not both"))
            }
            guard role == .admin else {
                return .failure(Refusal(
                    code: .permissionDenied, reason: "ROLE_FORBIDS_ALL_USERS", message: "only admins may watch every user; name the users to watch",
                    details: ["role": role.rawValue]))
            }
            return .success(nil)
        }
        guard !userIDs.isEmpty else {
            return .failure(.invalid("WATCH_USERS_MISSING", field: "user_ids", "name at least one user in user_ids (or, as an admin, set all_users)"))
        }
        guard userIDs.count <= watchUsersLimit else {
            var refusal = Refusal.invalid(
                "WATCH_TOO_MANY_USERS", field: "user_ids",
                "at most \(watchUsersLimit) users in one watch, got \(userIDs.count); open another watch for the rest")
            refusal.details["limit"] = String(watchUsersLimit)
            return .failure(refusal)
        }
        for user in userIDs {
            if let invalid = Validation.userID(user) { return .failure(invalid) }
        }
        return .success(Set(userIDs))
    }
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
