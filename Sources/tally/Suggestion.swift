import ArgumentParser

/// "did you mean": ArgumentParser answers a mistyped subcommand with "unexpected arguments";
/// before parsing, the words that should name subcommands are checked against the names there
/// are, and a near miss is named.
enum Suggestion {
    /// The message for the first word that names no subcommand where one is expected, with the
    /// closest name if one is close; nil when every such word is a subcommand.
    static func unknownSubcommand(in arguments: [String], root: any ParsableCommand.Type) -> String? {
        var command = root
        var path = [root._commandName]
        for word in arguments {
            let subcommands = command.configuration.subcommands
            // An option, a command that takes arguments, or one with a default subcommand: the
            // parser's own message says it better.
            guard !word.hasPrefix("-"), !subcommands.isEmpty, command.configuration.defaultSubcommand == nil, word != "help"
            else { return nil }
            if let next = subcommands.first(where: { $0._commandName == word || $0.configuration.aliases.contains(word) }) {
                command = next
                path.append(word)
                continue
            }
            let names = subcommands.map { $0._commandName }
            let near = names.map { ($0, distance(word, $0)) }.filter { $0.1 <= max(1, word.count / 3) }.min { $0.1 < $1.1 }?.0
            let hint = near.map { "; did you mean '\(path.joined(separator: " ")) \($0)'?" } ?? ""
            return "unknown command '\(word)' for '\(path.joined(separator: " "))'\(hint) (see '\(path.joined(separator: " ")) --help')"
        }
        return nil
    }

    /// Levenshtein distance between two words.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var row = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = row
        }
        return previous[b.count]
    }
}
