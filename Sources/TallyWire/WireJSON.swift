import SwiftProtobuf

/// One naming style wherever Tally writes JSON (`tally --json`, the archive files): the .proto
/// field names, snake_case, which are also the keys of error details, the names in
/// docs/protocol.md and the Python client's attributes. Codes and enum values are UPPER_SNAKE.
/// Readers accept the camelCase names too (proto3 JSON parsing takes both), so archive files
/// written before this choice still read.
public enum WireJSON {
    public static var encoding: JSONEncodingOptions {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        return options
    }
}
