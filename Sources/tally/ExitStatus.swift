import TallyWire

/// The exit status for a refused call, by the class of its code, in the style of sysexits(3),
/// so that a script can tell "fix the input" from "it is not there" from "try again later"
/// without parsing messages. README.md has the table.
enum ExitStatus {
    static func of(_ code: Tally_V1_Code) -> Int32 {
        switch code {
        case .invalidArgument, .outOfRange: 65  // EX_DATAERR: the request was wrong
        case .notFound: 66  // EX_NOINPUT: no such user, transaction, purchase, action...
        case .unavailable: 69  // EX_UNAVAILABLE: tallyd refuses mutations for now (or is stopping)
        case .internal, .dataLoss, .unknown, .unimplemented: 70  // EX_SOFTWARE
        case .deadlineExceeded: 75  // EX_TEMPFAIL: not run in time; safe to retry
        case .permissionDenied, .unauthenticated: 77  // EX_NOPERM
        default: 1  // refused by the ledger's rules: not enough tokens, over a limit, already done
        }
    }
}
