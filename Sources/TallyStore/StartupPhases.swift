import Foundation

/// How long each step of a recovery took (snapshot read, snapshot decode, journal replay,
/// invariant check), for the start-up log: the figure to look at when a start is slow.
public struct StartupPhases: Sendable, CustomStringConvertible {
    public private(set) var steps: [(name: String, milliseconds: Double)] = []
    private var last = Recovery.monotonicMilliseconds()

    public init() {}

    /// Ends the step `name`, which began when the previous one ended (or at init).
    mutating func finished(_ name: String) {
        let now = Recovery.monotonicMilliseconds()
        steps.append((name, now - last))
        last = now
    }

    public var description: String {
        steps.map { "\($0.name) \(String(format: "%.0f", $0.milliseconds)) ms" }.joined(separator: ", ")
    }
}
