import TallyLedger
import TallyCodec
import TallyWire

/// tally.v1.Memberships: a tier per user, with an optional expiry.
enum MembershipEndpoints {
    static let all: [Endpoint] = [
        Endpoint(.setMembership, .admin, mutates: true, request: Tally_V1_SetMembershipRequest.self) { body, _ in
            .writer(.apply(.setMembership(body.ledgerValue)))
        } answer: { id, result in
            guard case .membership(let status)? = Responses.applied(result)?.outcome else { return nil }
            return .ok(callID: id, payload: Tally_V1_MembershipResponse(status))
        },
        Endpoint(.getMembership, .read, request: Tally_V1_GetMembershipRequest.self) { body, _ in
            if let invalid = Validation.userID(body.userID) { return .invalid(invalid) }
            return .writer(.membership(userID: body.userID))
        } answer: { id, result in
            guard case .membership(let status) = result else { return nil }
            return .ok(callID: id, payload: Tally_V1_MembershipResponse(status))
        },
    ]
}
