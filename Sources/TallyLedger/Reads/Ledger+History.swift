/// Which transactions a history read asks for.
public struct TransactionFilter: Equatable, Sendable {
    /// nil: every user's.
    public var userID: String?
    /// Empty: every type.
    public var types: Set<TransactionType>
    /// since ≤ createdAt < until.
    public var since: Timestamp
    public var until: Timestamp

    public init(userID: String? = nil, types: Set<TransactionType> = [], since: Timestamp = 0, until: Timestamp = .max) {
        self.userID = userID
        self.types = types
        self.since = since
        self.until = until
    }
}

extension Ledger {
    /// Transactions in memory newest first that pass `filter`, with ids below `beforeID` (0: from
    /// the newest), at most `limit`. Ids follow time, so the walk stops at the first one older
    /// than `since`; archived ids are skipped.
    public func transactions(matching filter: TransactionFilter, beforeID: UInt64 = 0, limit: Int) -> [Transaction] {
        let user = filter.userID.map { ExactString($0) }
        var page: [Transaction] = []
        var id = beforeID == 0 ? nextTransactionID : min(beforeID, nextTransactionID)
        while id > 1, page.count < limit {
            id -= 1
            guard let tx = transactions[id] else { continue }  // archived (retention) or never made
            if tx.createdAt < filter.since { break }
            guard tx.createdAt < filter.until, user == nil || ExactString(tx.userID) == user,
                filter.types.isEmpty || filter.types.contains(tx.type)
            else { continue }
            page.append(tx)
        }
        return page
    }
}
