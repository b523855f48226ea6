import TallyWire

/// The samples of Prometheus text (format 0.0.4) as Admin/Metrics answers them: parsed from the
/// very text `GET /metrics` serves, so the two cannot disagree.
enum PrometheusText {
    /// Every sample line's name, labels and value, in order; comments and blank lines skipped.
    /// A line that does not parse is skipped rather than answered wrong (the text is our own).
    static func samples(_ text: String) -> [Tally_V1_MetricSample] {
        text.split(separator: "\n").compactMap { line in
            line.hasPrefix("#") ? nil : sample(Substring(line))
        }
    }

    /// `name{label="value",...} value` or `name value`.
    static func sample(_ line: Substring) -> Tally_V1_MetricSample? {
        var sample = Tally_V1_MetricSample()
        var rest = line[...]
        if let brace = rest.firstIndex(of: "{") {
            sample.name = String(rest[..<brace])
            rest = rest[rest.index(after: brace)...]
            guard let labels = labels(&rest) else { return nil }
            sample.labels = labels
        } else {
            guard let space = rest.firstIndex(of: " ") else { return nil }
            sample.name = String(rest[..<space])
            rest = rest[space...]
        }
        // The value, then an optional timestamp (tallyd writes none).
        guard let text = rest.split(separator: " ").first, let value = Double(text) ?? special(text) else { return nil }
        sample.value = value
        return sample.name.isEmpty ? nil : sample
    }

    /// The labels after `{`, through the closing `}`; `\\`, `\"` and `\n` unescaped.
    private static func labels(_ rest: inout Substring) -> [Tally_V1_MetricLabel]? {
        var labels: [Tally_V1_MetricLabel] = []
        while true {
            if rest.first == "}" {
                rest = rest.dropFirst()
                return labels
            }
            guard let equals = rest.firstIndex(of: "=") else { return nil }
            let name = String(rest[..<equals])
            rest = rest[rest.index(after: equals)...]
            guard rest.first == "\"" else { return nil }
            rest = rest.dropFirst()
            var value = ""
            var escaped = false
            while let character = rest.first {
                rest = rest.dropFirst()
                if escaped {
                    value.append(character == "n" ? "\n" : character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    break
                } else {
                    value.append(character)
                }
            }
            labels.append(.with {
                $0.name = name
                $0.value = value
            })
            if rest.first == "," { rest = rest.dropFirst() }
        }
    }

    private static func special(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: nil
        }
    }
}
