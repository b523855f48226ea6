import Dispatch
import NIOCore
import TallyLedger
import TallyWire

/// Package and purchase lists, run on the durable state's O(1) copy off the Writer (a user's
/// purchases are found by a scan of all of them, which must not stall the Writer).
enum PurchaseQuery: Sendable {
    case packages(includeInactive: Bool)
    case purchases(userID: String, limit: Int)

    func answer(callID: UInt64, writer: Writer) -> EventLoopFuture<Tally_V1_Response> {
        let state = writer.loop.submit { writer.assumeIsolated { $0.durableState().ledger } }
        return state.flatMap { ledger in
            let promise = writer.loop.makePromise(of: Tally_V1_Response.self)
            DispatchQueue.global().async {
                switch self {
                case .packages(let includeInactive):
                    let packages = includeInactive
                        ? ledger.packages.values.sorted { ($0.sortOrder, ExactString($0.id)) < ($1.sortOrder, ExactString($1.id)) }
                        : ledger.activePackages()
                    promise.succeed(Responses.ok(callID: callID, Tally_V1_ListPackagesResponse.with {
                        $0.packages = packages.map(Tally_V1_TokenPackage.init)
                    }))
                case .purchases(let userID, let limit):
                    let user = ExactString(userID)
                    let mine = ledger.purchases.values.filter { ExactString($0.userID) == user }.sorted { $0.id > $1.id }.prefix(limit)
                    promise.succeed(Responses.ok(callID: callID, Tally_V1_ListPurchasesResponse.with {
                        $0.purchases = mine.map(Tally_V1_Purchase.init)
                    }))
                }
            }
            return promise.futureResult
        }
    }
}
