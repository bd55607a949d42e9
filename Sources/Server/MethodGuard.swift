import HTTPTypes
import Hummingbird

/// The methods each route answers. Another method on a known route gets 405
/// with `Allow` (RFC 9110) instead of the router's 404 (the router answers
/// HEAD wherever GET is); OPTIONS (not a CORS preflight, which OriginGuard
/// answers) lists the methods.
struct MethodGuard<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let methods = RouteMethods.methods(for: request.uri.path) else { return try await next(request, context) }
        if methods.contains(request.method) || (request.method == .head && methods.contains(.get)) {
            return try await next(request, context)
        }
        let allow = (methods + (methods.contains(.get) ? [.head] : []) + [.options]).map(\.rawValue).joined(separator: ", ")
        switch request.method {
        case .options where request.headers[.origin] == nil:
            return Response(status: .noContent, headers: [.allow: allow])
        case .options:
            return try await next(request, context)  // a CORS preflight
        default:
            var response = Respond.json(object: ["error": "method_not_allowed",
                                                 "message": "\(request.uri.path) answers \(allow), not \(request.method)"],
                                        status: .methodNotAllowed)
            response.headers[.allow] = allow
            return response
        }
    }
}

/// The methods of every route (a generic middleware cannot hold a stored table).
enum RouteMethods {
    /// Path patterns ("*" is one segment) and their methods, as the routes are
    /// registered (built once: every request is looked up in it).
    static let routes: [([Substring], [HTTPRequest.Method])] = [
        (["api", "jobs"], [.get, .post]),
        (["api", "jobs", "*"], [.get]),
        (["api", "jobs", "*", "events"], [.get]),
        (["api", "jobs", "*", "result"], [.get]),
        (["api", "jobs", "*", "source"], [.get]),
        ([], [.get]),
        (["jobs", "*"], [.get]),
        (["static", "style.css"], [.get]),
        (["static", "app.js"], [.get]),
        (["openapi.yaml"], [.get]),
        (["metrics"], [.get]),
        (["healthz"], [.get]),
    ]

    static func methods(for path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/")
        return routes.first { pattern, _ in
            pattern.count == segments.count && zip(pattern, segments).allSatisfy { $0 == "*" || $0 == $1 }
        }?.1
    }
}
