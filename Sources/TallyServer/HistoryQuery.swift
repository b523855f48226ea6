import NIOCore
import TallyLedger
import TallyWire

/// Transaction history, newest first, filtered by user, type and time, paged by id: the
/// cursor is "ids below this", so pages stay right while new transactions (higher ids) arrive.
/// Runs on the durable state's O(1) copy off the Writer; it walks ids downwards from the cursor.
struct HistoryQuery: Sendable {
    var userID: String?
    var types: Set<TransactionType>
    var since: Timestamp
    var until: Timestamp
    var limit: Int
    var beforeID: UInt64

    static func decode(_ body: Tally_V1_ListTransactionsRequest, role: Role) -> Result<HistoryQuery, Refusal> {
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
        let limit: Int
        switch PageLimit.decode(body.limit) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let value): limit = value
        }
        return .success(HistoryQuery(
            userID: body.userID.isEmpty ? nil : body.userID, types: types, since: body.sinceUs,
            until: body.untilUs == 0 ? .max : body.untilUs, limit: limit, beforeID: body.beforeID))
    }

    func run(on ledger: Ledger) -> Tally_V1_ListTransactionsResponse {
        let user = userID.map { ExactString($0) }
        var page: [Transaction] = []
        var id = beforeID == 0 ? ledger.nextTransactionID : min(beforeID, ledger.nextTransactionID)
        var more = false
        while id > 1 {
            id -= 1
            guard let tx = ledger.transactions[id] else { continue }  // archived (retention) or never made
            if tx.createdAt < since { break }  // ids follow time: nothing older can match
            guard tx.createdAt < until, user == nil || ExactString(tx.userID) == user, types.isEmpty || types.contains(tx.type)
            else { continue }
            if page.count == limit {
                more = true
                break
            }
            page.append(tx)
        }
        return Tally_V1_ListTransactionsResponse.with {
            $0.transactions = page.map(Tally_V1_Transaction.init)
            $0.nextBeforeID = more ? (page.last?.id ?? 0) : 0
        }
    }

    func answer(callID: UInt64, writer: Writer) -> EventLoopFuture<Tally_V1_Response> {
        writer.scanDurable(callID: callID) { ledger, now in self.run(on: ledger) }
    }
}
