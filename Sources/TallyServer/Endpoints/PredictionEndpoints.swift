import TallyLedger
import TallyCodec
import TallyWire

/// tally.v1.Predictions: tokens staked on yes/no predictions, resolved or voided later.
enum PredictionEndpoints {
    static let all: [Endpoint] = [
        Endpoint(.commit, .write, mutates: true, rateClass: .commit, request: Tally_V1_CommitRequest.self) { body, _ in
            .writer(.apply(.commit(body.ledgerValue)))
        } answer: { id, result in commitment(id, result) },
        Endpoint(.cancelCommitment, .write, mutates: true, request: Tally_V1_CancelCommitmentRequest.self) { body, _ in
            .writer(.apply(.cancelCommitment(id: body.commitmentID)))
        } answer: { id, result in commitment(id, result) },
        Endpoint(.resolvePrediction, .admin, mutates: true, request: Tally_V1_ResolvePredictionRequest.self) { body, _ in
            .writer(.apply(.settlePrediction(SettlePrediction(predictionID: body.predictionID, result: .resolve(winning: body.winning.ledgerValue)))))
        } answer: { id, result in settled(id, result) },
        Endpoint(.voidPrediction, .admin, mutates: true, request: Tally_V1_VoidPredictionRequest.self) { body, _ in
            .writer(.apply(.settlePrediction(SettlePrediction(predictionID: body.predictionID, result: .void))))
        } answer: { id, result in settled(id, result) },
        Endpoint(.closePrediction, .admin, mutates: true, request: Tally_V1_ClosePredictionRequest.self) { body, _ in
            .writer(.apply(.closePrediction(id: body.predictionID, at: body.closesAtUs == 0 ? nil : body.closesAtUs)))
        } answer: { id, result in
            guard case .prediction(let prediction)? = Responses.applied(result)?.outcome else { return nil }
            return .ok(callID: id, payload: Tally_V1_ClosePredictionResponse.with { $0.prediction = Tally_V1_Prediction(prediction) })
        },
        Endpoint(.listCommitments, .read, request: Tally_V1_ListCommitmentsRequest.self) { body, _ in
            let filter: CommitmentFilter, limit: Int
            switch commitmentFilter(body) {
            case .failure(let refusal): return .invalid(refusal)
            case .success(let read): (filter, limit) = read
            }
            return .scan { ledger, _ in
                let page = PageLimit.page(ledger.commitments(matching: filter, beforeID: body.beforeID, limit: limit + 1), limit: limit, id: \.id)
                return Tally_V1_ListCommitmentsResponse.with {
                    $0.commitments = page.items.map(Tally_V1_Commitment.init)
                    $0.nextBeforeID = page.nextBeforeID
                }
            }
        },
    ]

    /// Commitments by user, prediction and status, newest first, paged by id.
    private static func commitmentFilter(_ body: Tally_V1_ListCommitmentsRequest) -> Result<(CommitmentFilter, limit: Int), Refusal> {
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
        let filter = CommitmentFilter(
            userID: body.userID.isEmpty ? nil : body.userID, predictionID: body.predictionID.isEmpty ? nil : body.predictionID,
            status: status)
        return .success((filter, limit))
    }

    /// A commitment made or cancelled.
    private static func commitment(_ id: UInt64, _ result: WriterAnswer.Result) -> OutboundResponse? {
        guard let (outcome, replayed) = Responses.applied(result), case .commitment(let receipt) = outcome else { return nil }
        return .ok(callID: id, payload: Tally_V1_CommitResponse(receipt, replayed: replayed))
    }

    /// A prediction resolved or voided: its summary.
    private static func settled(_ id: UInt64, _ result: WriterAnswer.Result) -> OutboundResponse? {
        guard case .predictionSettled(let summary, let alreadyDone)? = Responses.applied(result)?.outcome else { return nil }
        return .ok(callID: id, payload: Tally_V1_SettlePredictionResponse.with {
            $0.summary = Tally_V1_PredictionSummary(summary)
            $0.alreadyDone = alreadyDone
        })
    }
}
