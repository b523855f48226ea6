import Foundation
import Logging
import Synchronization

/// `--log-format json`: one JSON object per line on stderr, for log shippers (journald's
/// JSON, Loki, Elasticsearch): `time` (UTC, ISO 8601 with milliseconds), `level`, `message`,
/// `label`, then every metadata key as a field of its own. A metadata key that would hide one of
/// those four is written as `meta.KEY`.
struct JSONLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    let label: String

    /// One writer for every handler, so concurrent lines never interleave.
    private static let stderr = Mutex(FileHandle.standardError)

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = self.metadata
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        let line = Self.line(
            time: Date(), level: event.level, label: label, message: "\(event.message)", metadata: fields)
        Self.stderr.withLock { $0.write(Data((line + "\n").utf8)) }
    }

    static func line(time: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var object: [String: Any] = [
            "time": time.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)),
            "level": level.rawValue,
            "label": label,
            "message": message,
        ]
        for (key, value) in metadata {
            object[object[key] == nil ? key : "meta." + key] = json(value)
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return #"{"level":"error","message":"a log line could not be written as JSON"}"#
        }
        return String(decoding: data, as: UTF8.self)
    }

    private static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): values.map(json)
        case .dictionary(let entries): entries.mapValues(json)
        }
    }
}
