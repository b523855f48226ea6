import Glibc
import NIOCore

/// Why a connect failed, in words rather than NIO's text ("connect(descriptor:addr:size:): ...
/// (errno: 2)"): what the error means for someone at a shell.
enum ConnectFailure {
    static func explain(_ error: any Error) -> String {
        guard let io = error as? IOError else { return "\(error)" }
        switch io.errnoCode {
        case ENOENT: return "no socket there (is tallyd running, and is this its --socket?)"
        case ECONNREFUSED: return "nothing is listening there (tallyd stopped and left its socket file, or the path is not a tallyd socket)"
        case EACCES, EPERM: return "permission denied (the socket's mode or a directory on its path keeps this user out)"
        case EAGAIN: return "tallyd's accept backlog stayed full (it is overloaded); try again"
        case ENOTSOCK: return "that file is not a socket"
        default: return String(cString: strerror(io.errnoCode))
        }
    }
}
