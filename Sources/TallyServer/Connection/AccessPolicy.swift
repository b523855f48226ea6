/// Which role each peer gets, from the uid and gid the kernel reports for the socket's other
/// end (SO_PEERCRED), so no client can claim an identity it does not have.
///
/// A rule for the peer's uid wins over one for its gid. The uid tallyd runs as is always admin
/// (it can read the data directory anyway); anyone matching no rule is turned away.
public struct AccessPolicy: Sendable, Equatable {
    public enum Subject: Sendable, Hashable, CustomStringConvertible {
        case uid(UInt32)
        case gid(UInt32)

        public var description: String {
            switch self {
            case .uid(let uid): "uid \(uid)"
            case .gid(let gid): "gid \(gid)"
            }
        }
    }

    public private(set) var rules: [Subject: Role]
    public let ownerUID: UInt32

    public init(ownerUID: UInt32, rules: [Subject: Role] = [:]) {
        self.ownerUID = ownerUID
        self.rules = rules
    }

    public func role(uid: UInt32, gid: UInt32) -> Role? {
        if uid == ownerUID { return .admin }
        return rules[.uid(uid)] ?? rules[.gid(gid)]
    }

    /// One line for the start-up banner and `tallyd check-config`.
    public var summary: String {
        let granted = rules.sorted { "\($0.key)" < "\($1.key)" }.map { "\($0.key) \($0.value.rawValue)" }
        return "uid \(ownerUID) (tallyd's own) is admin"
            + (granted.isEmpty ? ", no one else may connect" : "; " + granted.joined(separator: ", "))
    }
}
