/// This build's version, as `tally --version` and `tallyd --version` print it. The protocol
/// and the file formats carry versions of their own (docs/protocol.md, docs/operations.md).
public enum TallyVersion {
    public static let release = "0.25.0"

    /// "0.25.0 (protocol 1)".
    public static var description: String { "\(release) (protocol \(WireProtocol.version))" }
}
