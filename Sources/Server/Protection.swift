import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Refuses state-changing requests a browser sends from another site's page
/// (its `Origin` is neither this server nor one allowed with --cors-origin),
/// so a visitor's browser cannot be made to submit jobs. Answers the
/// preflight of allowed origins, and tells browsers which origins may read.
/// Requests without `Origin` (curl, the CLI) are not browsers' and pass.
struct OriginGuard<Context: RequestContext>: RouterMiddleware {
    let allowed: [String]

    func isAllowed(_ origin: String, _ request: Request) -> Bool {
        if allowed.contains("*") || allowed.contains(origin) { return true }
        // The server's own pages: the origin names the host the request went to.
        guard let host = request.head.authority else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin] else { return try await next(request, context) }
        let ok = isAllowed(origin, request)
        if request.method == .options {
            guard ok else { throw APIError(.forbidden, .crossOrigin, "requests from \(origin) are not allowed") }
            var headers = HTTPFields()
            headers[.accessControlAllowOrigin] = origin
            headers[.accessControlAllowMethods] = "GET, POST"
            headers[.accessControlAllowHeaders] = "Authorization, Content-Type"
            headers[.accessControlMaxAge] = "600"
            headers[.vary] = "Origin"
            return Response(status: .noContent, headers: headers)
        }
        if !ok && ![.get, .head].contains(request.method) {
            throw APIError(.forbidden, .crossOrigin,
                           "requests from \(origin) are not allowed; start the server with --cors-origin \(origin) to allow them")
        }
        var response = try await next(request, context)
        if ok {
            response.headers[.accessControlAllowOrigin] = origin
            response.headers[.vary] = "Origin"
        }
        return response
    }
}

/// Headers every response carries: no content sniffing, no framing by
/// other sites, no referrer leaking job ids.
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do { response = try await next(request, context) } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.referrerPolicy] = "no-referrer"
        return response
    }
}

/// At most `limit` holders at once; the rest are turned away, not queued.
final class Gate: @unchecked Sendable {
    // @unchecked: `count` is guarded by `lock`.
    private let lock = NSLock()
    private var count = 0
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func enter() -> Bool { lock.withLock { count < limit ? { count += 1; return true }() : false } }
    func leave() { lock.withLock { count -= 1 } }
    var inside: Int { lock.withLock { count } }
}

extension HTTPField.Name {
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let contentSecurityPolicy = Self("Content-Security-Policy")!
    static let retryAfter = Self("Retry-After")!
}
