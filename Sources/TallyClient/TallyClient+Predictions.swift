import TallyWire

// tally.v1.Predictions: commitments to yes/no predictions, resolved or voided once.
extension TallyClient {
    /// `oddsMicros`: decimal odds in millionths (2.5 is 2_500_000).
    public func commit(
        userID: String, predictionID: String, position: Tally_V1_Position, stake: Int64, oddsMicros: Int64,
        idempotencyKey: String = "", timeoutMs: UInt32 = 0
    ) async throws -> Tally_V1_CommitResponse {
        try await unary(
            .commit,
            Tally_V1_CommitRequest.with {
                $0.userID = userID
                $0.predictionID = predictionID
                $0.position = position
                $0.stake = stake
                $0.oddsMicros = oddsMicros
                $0.idempotencyKey = idempotencyKey
            }, timeoutMs: timeoutMs)
    }

    public func cancelCommitment(id: UInt64, timeoutMs: UInt32 = 0) async throws -> Tally_V1_CommitResponse {
        try await unary(.cancelCommitment, Tally_V1_CancelCommitmentRequest.with { $0.commitmentID = id }, timeoutMs: timeoutMs)
    }

    public func resolve(predictionID: String, winning: Tally_V1_Position, timeoutMs: UInt32 = 0) async throws
        -> Tally_V1_SettlePredictionResponse
    {
        try await unary(
            .resolvePrediction,
            Tally_V1_ResolvePredictionRequest.with {
                $0.predictionID = predictionID
                $0.winning = winning
            }, timeoutMs: timeoutMs)
    }

    public func void(predictionID: String, timeoutMs: UInt32 = 0) async throws -> Tally_V1_SettlePredictionResponse {
        try await unary(.voidPrediction, Tally_V1_VoidPredictionRequest.with { $0.predictionID = predictionID }, timeoutMs: timeoutMs)
    }

    /// `closesAtUs` 0 clears the close time.
    public func closePrediction(predictionID: String, closesAtUs: Int64, timeoutMs: UInt32 = 0) async throws -> Tally_V1_Prediction {
        let response: Tally_V1_ClosePredictionResponse = try await unary(
            .closePrediction,
            Tally_V1_ClosePredictionRequest.with {
                $0.predictionID = predictionID
                $0.closesAtUs = closesAtUs
            }, timeoutMs: timeoutMs)
        return response.prediction
    }

    public func listCommitments(_ request: Tally_V1_ListCommitmentsRequest, timeoutMs: UInt32 = 0) async throws
        -> Tally_V1_ListCommitmentsResponse
    {
        try await unary(.listCommitments, request, timeoutMs: timeoutMs)
    }
}
