import TallyWire

/// Every RPC tallyd serves, by service: the one table the connection, the Writer and the docs
/// read a method's facts from.
enum Endpoints {
    static let all: [Endpoint] =
        LedgerEndpoints.all + UsageEndpoints.all + PurchaseEndpoints.all + PredictionEndpoints.all
        + MembershipEndpoints.all + ActionEndpoints.all + AuditEndpoints.all + AdminEndpoints.all

    /// `all` in `Method.allCases` order, so a method finds its endpoint by its ordinal.
    static let byMethod: [Endpoint] = {
        let found = Dictionary(all.map { ($0.method, $0) }, uniquingKeysWith: { first, _ in
            preconditionFailure("two endpoints for \(first.method.rawValue)")
        })
        return Method.allCases.map { method in
            guard let endpoint = found[method] else { preconditionFailure("no endpoint for \(method.rawValue)") }
            return endpoint
        }
    }()
}
