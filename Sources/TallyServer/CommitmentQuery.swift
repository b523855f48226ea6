import NIOCore
import TallyLedger
import TallyWire

/// Commitments by user, prediction and status, newest first, paged by id: run on the durable
/// state's O(1) copy off the Writer (a scan of the commitments).
struct CommitmentQuery: Sendable {
    var userID: String?
    var predictionID: String?
    var status: Commitment.Status?
    var limit: Int
    /// Only ids below this (0: from the newest).
    var beforeID: UInt64

    static func decode(_ body: Tally_V1_ListCommitmentsRequest) -> Result<CommitmentQuery, Refusal> {
        guard !body.userID.isEmpty || !body.predictionID.isEmpty else {
            return .failure(Refusal(
                code: .invalidArgument, reason: "FILTER_MISSING", message: "name a user_id or a prediction_id (or both)",
                details: ["field": "user_id"]))
        }
        if !body.userID.isEmpty, let invalid = Validation.userID(body.userID) { return .failure(invalid) }
        let limit: Int
        switch PageLimit.decode(body.limit) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let value): limit = value
        }
        let status = Commitment.Status(rawValue: body.status.rawValue)
        if body.status != .unspecified && status == nil {
            return .failure(Refusal(
                code: .invalidArgument, reason: "STATUS_INVALID", message: "unknown commitment status \(body.status.rawValue)",
                details: ["field": "status"]))
        }
        return .success(CommitmentQuery(
            userID: body.userID.isEmpty ? nil : body.userID, predictionID: body.predictionID.isEmpty ? nil : body.predictionID,
            status: status, limit: limit, beforeID: body.beforeID))
    }

    func run(on ledger: Ledger) -> Tally_V1_ListCommitmentsResponse {
        let user = userID.map { ExactString($0) }, prediction = predictionID.map { ExactString($0) }
        // A prediction lists its own commitments: no scan of the others.
        let candidates: [Commitment] = if let prediction {
            (ledger.predictions[prediction]?.commitmentIDs ?? []).compactMap { ledger.commitments[$0] }
        } else {
            Array(ledger.commitments.values)
        }
        let matching = candidates.filter { c in
            (user == nil || ExactString(c.userID) == user) && (status == nil || c.status == status)
                && (beforeID == 0 || c.id < beforeID)
        }.sorted { $0.id > $1.id }
        let page = matching.prefix(limit)
        return Tally_V1_ListCommitmentsResponse.with {
            $0.commitments = page.map(Tally_V1_Commitment.init)
            $0.nextBeforeID = matching.count > limit ? (page.last?.id ?? 0) : 0
        }
    }

    func answer(callID: UInt64, writer: Writer) -> EventLoopFuture<Tally_V1_Response> {
        writer.scanDurable(callID: callID) { ledger, now in self.run(on: ledger) }
    }
}
