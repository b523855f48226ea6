import Foundation
import PostgresNIO

/// Where the command log lives, from a libpq-style URL:
///
///     postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE
///     postgresql://USER@/DATABASE?host=/run/postgresql      (a Unix socket's directory)
///
/// The socket form is what tests and a same-host PostgreSQL use; the port names the socket
/// file (DIR/.s.PGSQL.PORT) as libpq does.
public struct PostgresAddress: Sendable, CustomStringConvertible {
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    public var user: String
    var password: String?
    public var database: String
    public var host: String?
    public var socketDirectory: String?
    public var port: Int

    public init(_ text: String) throws {
        guard text.hasPrefix("postgresql://") || text.hasPrefix("postgres://"), let url = URLComponents(string: text) else {
            throw Invalid(description: "--journal takes `file` or a URL postgresql://USER@HOST[:PORT]/DATABASE (or postgresql://USER@/DATABASE?host=/SOCKET/DIR), got \(text)")
        }
        guard let user = url.user, !user.isEmpty else {
            throw Invalid(description: "the PostgreSQL URL names no user (postgresql://USER@...): \(text)")
        }
        self.user = user
        password = url.password
        port = url.port ?? 5432
        let path = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        database = path.isEmpty ? user : path
        let hostParameter = url.queryItems?.first { $0.name == "host" }?.value
        let host = url.host.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding } ?? hostParameter
        if let unknown = url.queryItems?.first(where: { $0.name != "host" }) {
            throw Invalid(description: "the PostgreSQL URL's parameter \(unknown.name) is not one tallyd reads (only host=): \(text)")
        }
        guard let host else {
            throw Invalid(description: "the PostgreSQL URL names no host: give HOST, or ?host=/SOCKET/DIR for a Unix socket: \(text)")
        }
        if host.hasPrefix("/") {
            socketDirectory = host
        } else {
            self.host = host
        }
    }

    var configuration: PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let socketDirectory {
            configuration = .init(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            configuration = .init(host: host ?? "localhost", port: port, username: user, password: password, database: database, tls: .disable)
        }
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// The address without its password, for logs and errors.
    public var description: String {
        let place = socketDirectory.map { "@/\(database)?host=\($0)" } ?? "@\(host ?? ""):\(port)/\(database)"
        return "postgresql://\(user)\(place)"
    }
}
