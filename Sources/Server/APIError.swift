import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An error the API answers with: a status and a JSON body
/// `{"error": CODE, "message": ...}`.
public struct APIError: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    /// Seconds after which the client may try again (429).
    public var retryAfter: Int?

    /// - Parameters:
    ///   - status: the HTTP status.
    ///   - code: the `error` field, stable text for programs.
    ///   - message: the `message` field, for people.
    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// 429: the server is busy; try again after `retryAfter` seconds.
    static func busy(_ why: String, retryAfter: Int) -> APIError {
        var error = APIError(.tooManyRequests, "busy", "\(why); try again in \(retryAfter) s")
        error.retryAfter = retryAfter
        return error
    }

    static func expired(_ id: String) -> APIError {
        APIError(.gone, "expired", "job \(id) ended longer ago than this server keeps jobs (--retention-hours), and was deleted")
    }

    /// - Parameters:
    ///   - request: the request that failed.
    ///   - context: its context.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONSerialization.data(withJSONObject: ["error": code, "message": message], options: [.sortedKeys])
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func notFound(_ id: String) -> APIError { APIError(.notFound, "not_found", "no job \(id)") }
}
