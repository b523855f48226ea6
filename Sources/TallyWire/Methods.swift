/// The protocol version this build speaks, and the method names, gRPC style ("/package.Service/Method").
/// protoc-gen-swift ignores `service` blocks, so this table is written from Protos/tally/v1/*.proto.
public enum WireProtocol {
    public static let version: UInt32 = UInt32(Tally_V1_ProtocolVersion.protocolVersion1.rawValue)
    public static let supportedVersions: [UInt32] = [version]
}

/// Every method by its wire name. What each one does, who may call it and how it is answered is
/// its endpoint in tallyd (Sources/TallyServer/Endpoints).
public enum Method: String, CaseIterable, Sendable {
    case getBalance = "/tally.v1.Ledger/GetBalance"
    case credit = "/tally.v1.Ledger/Credit"
    case spend = "/tally.v1.Ledger/Spend"
    case getTransaction = "/tally.v1.Ledger/GetTransaction"
    case listTransactions = "/tally.v1.Ledger/ListTransactions"
    case snapshot = "/tally.v1.Admin/Snapshot"
    case backup = "/tally.v1.Admin/Backup"
    case health = "/tally.v1.Admin/Health"
    case stats = "/tally.v1.Admin/Stats"
    case checkUsage = "/tally.v1.Usage/Check"
    case consume = "/tally.v1.Usage/Consume"
    case reserve = "/tally.v1.Usage/Reserve"
    case settle = "/tally.v1.Usage/Settle"
    case release = "/tally.v1.Usage/Release"
    case getLimits = "/tally.v1.Usage/GetLimits"
    case setLimits = "/tally.v1.Usage/SetLimits"
    case usageHistory = "/tally.v1.Usage/History"
    case topUsers = "/tally.v1.Usage/TopUsers"
    case monthByTier = "/tally.v1.Usage/MonthByTier"
    case savePackage = "/tally.v1.Purchases/SavePackage"
    case deactivatePackage = "/tally.v1.Purchases/DeactivatePackage"
    case listPackages = "/tally.v1.Purchases/ListPackages"
    case startPurchase = "/tally.v1.Purchases/StartPurchase"
    case completePurchase = "/tally.v1.Purchases/CompletePurchase"
    case failPurchase = "/tally.v1.Purchases/FailPurchase"
    case getPurchase = "/tally.v1.Purchases/GetPurchase"
    case listPurchases = "/tally.v1.Purchases/ListPurchases"
    case commit = "/tally.v1.Predictions/Commit"
    case cancelCommitment = "/tally.v1.Predictions/CancelCommitment"
    case resolvePrediction = "/tally.v1.Predictions/ResolvePrediction"
    case voidPrediction = "/tally.v1.Predictions/VoidPrediction"
    case closePrediction = "/tally.v1.Predictions/ClosePrediction"
    case listCommitments = "/tally.v1.Predictions/ListCommitments"
    case setMembership = "/tally.v1.Memberships/SetMembership"
    case getMembership = "/tally.v1.Memberships/GetMembership"
    case setPrice = "/tally.v1.Actions/SetPrice"
    case listPrices = "/tally.v1.Actions/ListPrices"
    case spendAction = "/tally.v1.Actions/Spend"
    case listAudit = "/tally.v1.Audit/List"
    case reconcile = "/tally.v1.Admin/Reconcile"
    case metrics = "/tally.v1.Admin/Metrics"
    case watchBalance = "/tally.v1.Ledger/WatchBalance"
    case watchUsage = "/tally.v1.Usage/WatchUsage"
    case changes = "/tally.v1.Admin/Changes"
}

/// The kinds of method a role may be allowed.
public enum MethodAccess: String, Sendable, CaseIterable {
    /// Reads of ledger state.
    case read
    /// Ledger mutations: credits, spends.
    case write
    /// Daily-limit checks and consumes of chat gateways.
    case usage
    /// Operating tallyd: snapshots, backups, configuration.
    case admin
}

/// The method classes that per-user rate limits are configured for.
public enum RateClass: String, Sendable, CaseIterable, Hashable {
    case credit, spend
    /// Consumes and reservations (settling and releasing end what a reservation began).
    case usage
    /// Purchase starts (completing and failing end what a start began).
    case purchase
    /// Commitments to predictions.
    case commit
}
