import TallyLedger
import TallyWire

/// tally.v1.Audit: every mutation attempt, accepted or refused, and who made it.
enum AuditEndpoints {
    static let all: [Endpoint] = [
        Endpoint(.listAudit, .admin, request: Tally_V1_ListAuditRequest.self) { body, _ in
            switch AuditQuery.decode(body) {
            case .failure(let refusal): .invalid(refusal)
            case .success(let query): .query(.audit(query))
            }
        },
    ]
}
