import TallyLedger
import TallyCodec
import TallyWire

/// tally.v1.Actions: prices of actions per tier, and spends by action.
enum ActionEndpoints {
    static let all: [Endpoint] = [
        Endpoint(.setPrice, .admin, mutates: true, request: Tally_V1_SetPriceRequest.self) { body, _ in
            .writer(.apply(.setActionPrice(body.ledgerValue)))
        } answer: { id, result in
            guard case .actionPrice(let price)? = Responses.applied(result)?.outcome else { return nil }
            return .ok(callID: id, payload: Tally_V1_SetPriceResponse.with { $0.price = Tally_V1_ActionPrice(price) })
        },
        Endpoint(.listPrices, .read, request: Tally_V1_ListPricesRequest.self) { _, _ in
            .writer(.actionPrices)
        } answer: { id, result in
            guard case .actionPrices(let prices) = result else { return nil }
            return .ok(callID: id, payload: Tally_V1_ListPricesResponse.with { $0.prices = prices.map(Tally_V1_ActionPrice.init) })
        },
        Endpoint(.spendAction, .write, mutates: true, rateClass: .spend, request: Tally_V1_SpendActionRequest.self) { body, _ in
            .writer(.apply(.spendAction(body.ledgerValue)))
        } answer: { id, result in
            Responses.accepted(id, result, Tally_V1_SpendResponse.init(_:replayed:))
        },
    ]
}
