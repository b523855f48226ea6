/// The protocol version this build speaks, and the method names, gRPC style ("/package.Service/Method").
/// protoc-gen-swift ignores `service` blocks, so this table is written from Protos/tally/v1/*.proto.
public enum WireProtocol {
    public static let version: UInt32 = UInt32(Tally_V1_ProtocolVersion.protocolVersion1.rawValue)
    public static let supportedVersions: [UInt32] = [version]
}

public enum Method: String, CaseIterable, Sendable {
    case getBalance = "/tally.v1.Ledger/GetBalance"
    case credit = "/tally.v1.Ledger/Credit"
    case spend = "/tally.v1.Ledger/Spend"
    case snapshot = "/tally.v1.Admin/Snapshot"
    case backup = "/tally.v1.Admin/Backup"

    /// Whether the method changes the ledger (and so goes through the journal).
    public var isMutation: Bool {
        switch self {
        case .getBalance, .snapshot, .backup: false
        case .credit, .spend: true
        }
    }
}
