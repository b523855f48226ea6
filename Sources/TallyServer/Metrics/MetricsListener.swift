import NIOCore
import NIOHTTP1
import NIOPosix

/// `--metrics-listen`: `GET /metrics` answered with the Prometheus text of `Meters`, over HTTP/1.1
/// from swift-nio (no web framework), on a loopback `HOST:PORT` or a `unix:PATH`, on the admin's
/// kind of loop of its own so a scrape never waits behind clients' calls.
enum MetricsListener {
    /// Where to listen, as the setting gives it.
    enum Address: Equatable, Sendable {
        case unix(path: String)
        case loopback(host: String, port: Int)

        /// "unix:/run/tally/metrics.sock", "127.0.0.1:9464", "[::1]:9464", "localhost:9464".
        init?(_ text: String) {
            if text.hasPrefix("unix:") {
                let path = String(text.dropFirst(5))
                guard !path.isEmpty, path.utf8.count <= 107 else { return nil }
                self = .unix(path: path)
                return
            }
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port)
            else { return nil }
            var host = String(text[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard host == "localhost" || host == "::1" || host.hasPrefix("127.") else { return nil }
            self = .loopback(host: host == "localhost" ? "127.0.0.1" : host, port: port)
        }
    }

    static func bind(_ address: Address, group: any EventLoopGroup, scrape: MetricsScrape) async throws -> any Channel {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 16)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ScrapeHandler(scrape: scrape))
                }
            }
        switch address {
        case .unix(let path):
            try SocketFile.prepare(path)
            return try await bootstrap.bind(unixDomainSocketPath: path).get()
        case .loopback(let host, let port):
            return try await bootstrap.bind(host: host, port: port).get()
        }
    }
}

/// Answers each request: `GET /metrics` with the text, anything else 404 (405 for other verbs).
private final class ScrapeHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let scrape: MetricsScrape
    private var request: HTTPRequestHead?

    init(scrape: MetricsScrape) {
        self.scrape = scrape
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): request = head
        case .body: break
        case .end:
            guard let request else { return }
            self.request = nil
            let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
            switch (request.method, path) {
            case (.GET, "/metrics"):
                scrape.text().hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                    switch result {
                    case .success(let text): self.respond(context, request, .ok, text)
                    case .failure(let error): self.respond(context, request, .internalServerError, "could not gather the metrics: \(error)\n")
                    }
                }
            case (_, "/metrics"): respond(context, request, .methodNotAllowed, "only GET /metrics\n")
            default: respond(context, request, .notFound, "tallyd serves GET /metrics here\n")
            }
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus, _ body: String) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: status == .ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) } }
    }
}
