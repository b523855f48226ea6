/// `tally credit alice -5`: swift-argument-parser reads `-5` as a short option and answered
/// "Missing expected argument '<amount>'". A whole number with a minus sign is never one of
/// tally's options, so when the command line does not parse as given and does parse with such
/// numbers taken as positionals (as after `--`), it runs that way, and the amount gets the same
/// clear AMOUNT_NOT_POSITIVE answer as `tally credit alice -- -5`.
enum NegativeNumbers {
    static func isNegativeNumber(_ argument: String) -> Bool {
        argument.count > 1 && argument.first == "-" && argument.dropFirst().allSatisfy(\.isASCIIDigit)
    }

    /// `arguments` with its negative numbers moved behind `--` (keeping their order, before
    /// anything already there) when that is what makes them parse; else `arguments` unchanged.
    static func asPositionals(_ arguments: [String], parses: ([String]) -> Bool) -> [String] {
        let end = arguments.firstIndex(of: "--") ?? arguments.endIndex
        let negatives = arguments[..<end].filter(isNegativeNumber)
        guard !negatives.isEmpty, !parses(arguments) else { return arguments }
        let moved = arguments[..<end].filter { !isNegativeNumber($0) } + ["--"] + negatives + arguments[end...].dropFirst()
        return parses(moved) ? moved : arguments
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
