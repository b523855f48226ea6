/// The rules commitments and predictions obey, checked from scratch with the Ledger's.
extension Ledger {
    func predictionViolations() -> [String] {
        var violations: [String] = []
        var staked: [ExactString: Int128] = [:]
        var listed = Set<UInt64>()
        for (key, prediction) in predictions {
            if key != ExactString(prediction.id) { violations.append("prediction stored under \(key) has id \(prediction.id)") }
            for id in prediction.commitmentIDs {
                listed.insert(id)
                guard let commitment = commitments[id], ExactString(commitment.predictionID) == key else {
                    violations.append("prediction \(prediction.id) lists commitment \(id), which is not one of its own")
                    continue
                }
                if prediction.status != .open && commitment.status == .active {
                    violations.append("prediction \(prediction.id) is \(prediction.status) but commitment \(id) is still active")
                }
            }
            if (prediction.status == .open) != (prediction.summary == nil) {
                violations.append("prediction \(prediction.id) is \(prediction.status) with summary \(String(describing: prediction.summary))")
            }
        }
        for (id, commitment) in commitments {
            if id != commitment.id || id >= nextCommitmentID { violations.append("commitment stored under \(id) has id \(commitment.id)") }
            if !listed.contains(id) { violations.append("commitment \(id) is on no prediction's list") }
            if commitment.stake <= 0 || Commitment.potentialWinning(stake: commitment.stake, oddsMicros: commitment.oddsMicros) != commitment.potentialWinning {
                violations.append("commitment \(id): stake \(commitment.stake), odds \(commitment.oddsMicros), potential \(commitment.potentialWinning)")
            }
            if commitment.status == .active { staked[ExactString(commitment.userID), default: 0] += Int128(commitment.stake) }
        }
        for (user, account) in accounts where Int128(account.committed) != staked[user] ?? 0 {
            violations.append("\(user): committed \(account.committed) != active stakes \(staked[user] ?? 0)")
        }
        return violations
    }
}
