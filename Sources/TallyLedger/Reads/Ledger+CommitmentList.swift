/// Which commitments a list asks for: at least one of user and prediction.
public struct CommitmentFilter: Equatable, Sendable {
    public var userID: String?
    public var predictionID: String?
    public var status: Commitment.Status?

    public init(userID: String? = nil, predictionID: String? = nil, status: Commitment.Status? = nil) {
        self.userID = userID
        self.predictionID = predictionID
        self.status = status
    }
}

extension Ledger {
    /// Commitments newest first that pass `filter`, with ids below `beforeID` (0: from the
    /// newest), at most `limit`. A prediction's own list is read when one is named; otherwise
    /// every commitment is scanned.
    public func commitments(matching filter: CommitmentFilter, beforeID: UInt64 = 0, limit: Int) -> [Commitment] {
        let user = filter.userID.map { ExactString($0) }
        let candidates: [Commitment] = if let prediction = filter.predictionID {
            (predictions[ExactString(prediction)]?.commitmentIDs ?? []).compactMap { commitments[$0] }
        } else {
            Array(commitments.values)
        }
        let matching = candidates.filter { c in
            (user == nil || ExactString(c.userID) == user) && (filter.status == nil || c.status == filter.status)
                && (beforeID == 0 || c.id < beforeID)
        }.sorted { $0.id > $1.id }
        return Array(matching.prefix(limit))
    }
}
