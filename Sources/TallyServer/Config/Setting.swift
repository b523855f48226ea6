/// One of tallyd's settings, described once: its name (`--snapshot-interval` on the command
/// line, `snapshot_interval` in the config file), what it means, the values it takes, and where
/// it lands in ServerConfig. The flags, the config file, `check-config` and the table in
/// docs/operations.md all read this description (`Settings.all`).
public struct Setting: Sendable {
    public enum Kind: Sendable {
        /// A whole number within the range.
        case integer(ClosedRange<Int64>)
        case text
        /// One of these words.
        case choice([String])
        /// On when given (a flag without a value; `true` or `false` in the file).
        case flag
    }

    /// A value as given on the command line or in the file.
    public enum Value: Equatable, Sendable, CustomStringConvertible {
        case integer(Int64)
        case text(String)
        case on(Bool)

        public var description: String {
            switch self {
            case .integer(let number): String(number)
            case .text(let text): text
            case .on(let on): on ? "on" : "off"
            }
        }
    }

    /// The flag without its dashes: "snapshot-interval".
    public let name: String
    public let kind: Kind
    /// What it does, for `tallyd --help` and docs/operations.md.
    public let meaning: String
    /// What the default means when there is no value (an unset socket group: "tallyd's group").
    public let unset: String
    /// Whether the config file may set it; `--repair` is for one start only.
    public let inFile: Bool
    /// The values it accepts beyond its kind, in words ("octal like 660 ..."), with the test.
    let rule: (words: String, accepts: @Sendable (Value) -> Bool)?
    let read: @Sendable (ServerConfig) -> Value?
    let write: @Sendable (inout ServerConfig, Value) -> Void

    init(
        _ name: String, _ kind: Kind, _ meaning: String, unset: String = "none", inFile: Bool = true,
        rule: (words: String, accepts: @Sendable (Value) -> Bool)? = nil,
        read: @escaping @Sendable (ServerConfig) -> Value?, write: @escaping @Sendable (inout ServerConfig, Value) -> Void
    ) {
        self.name = name
        self.kind = kind
        self.meaning = meaning
        self.unset = unset
        self.inFile = inFile
        self.rule = rule
        self.read = read
        self.write = write
    }

    public var flag: String { "--" + name }
    /// Its key in the config file: "snapshot_interval".
    public var key: String { String(name.map { $0 == "-" ? "_" : $0 }) }

    /// The value tallyd runs with when neither a flag nor the file sets it.
    public var defaultValue: String { read(ServerConfig()).map(\.description) ?? unset }

    /// `meaning` with the default, for `--help`.
    public var help: String { "\(meaning) (default: \(defaultValue))" }

    /// The values it takes, as the end of "SETTING must be ...".
    public var expectation: String {
        switch kind {
        case .integer(let range):
            switch (range.lowerBound, range.upperBound) {
            case (let low, .max): low == 0 ? "0 or more" : "at least \(low)"
            case (let low, let high): "a whole number from \(low) to \(high)"
            }
        case .choice(let words): "one of " + words.joined(separator: ", ")
        case .text: rule?.words ?? "a non-empty text"
        case .flag: "true or false"
        }
    }

    /// Why `value` is not accepted (what it must be instead); nil when it is.
    public func problem(_ value: Value) -> String? {
        let fits: Bool =
            switch (kind, value) {
            case (.integer(let range), .integer(let number)): range.contains(number)
            case (.choice(let words), .text(let word)): words.contains(word)
            case (.text, .text(let text)): !text.isEmpty
            case (.flag, .on): true
            default: false
            }
        return fits && rule?.accepts(value) != false ? nil : expectation
    }

    /// Sets it in `config`; the value must have no `problem`.
    public func apply(_ value: Value, to config: inout ServerConfig) {
        precondition(problem(value) == nil, "\(name) = \(value) was not checked")
        write(&config, value)
    }

    /// The value in force in `config`, or what no value means.
    public func current(in config: ServerConfig) -> String {
        read(config).map(\.description) ?? unset
    }
}
