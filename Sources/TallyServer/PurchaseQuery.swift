import NIOCore
import SwiftProtobuf
import TallyLedger
import TallyWire

/// Package and purchase lists, run on the durable state's O(1) copy off the Writer (a user's
/// purchases are found by a scan of all of them, which must not stall the Writer).
enum PurchaseQuery: Sendable {
    case packages(includeInactive: Bool)
    case purchases(userID: String, limit: Int)

    func run(on ledger: Ledger) -> any SwiftProtobuf.Message {
        switch self {
        case .packages(let includeInactive):
            let packages = includeInactive
                ? ledger.packages.values.sorted { ($0.sortOrder, ExactString($0.id)) < ($1.sortOrder, ExactString($1.id)) }
                : ledger.activePackages()
            return Tally_V1_ListPackagesResponse.with { $0.packages = packages.map(Tally_V1_TokenPackage.init) }
        case .purchases(let userID, let limit):
            let user = ExactString(userID)
            let mine = ledger.purchases.values.filter { ExactString($0.userID) == user }.sorted { $0.id > $1.id }.prefix(limit)
            return Tally_V1_ListPurchasesResponse.with { $0.purchases = mine.map(Tally_V1_Purchase.init) }
        }
    }

    func answer(callID: UInt64, writer: Writer) -> EventLoopFuture<Tally_V1_Response> {
        writer.scanDurable(callID: callID) { ledger, _ in self.run(on: ledger) }
    }
}
