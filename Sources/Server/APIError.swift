import Failure
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An error the API answers with: a status and a JSON body
/// `{"error": CODE, "message": ...}`.
public struct APIError: HTTPResponseError, CodedFailure {
    public let status: HTTPResponse.Status
    public let code: APIErrorCode
    public let message: String
    public let cause: (any Error & Sendable)?
    /// Seconds after which the client may try again (429).
    public var retryAfter: Int?

    /// - Parameters:
    ///   - status: the HTTP status.
    ///   - code: the `error` field, stable text for programs.
    ///   - message: the `message` field, for people.
    ///   - cause: the error underneath, if any (logged, never sent).
    public init(_ status: HTTPResponse.Status, _ code: APIErrorCode, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { "\(status.code) \(code.rawValue): \(message)" }

    /// 429: the server is busy; try again after `retryAfter` seconds.
    static func busy(_ why: String, retryAfter: Int) -> APIError {
        var error = APIError(.tooManyRequests, .busy, "\(why); try again in \(retryAfter) s")
        error.retryAfter = retryAfter
        return error
    }

    static func expired(_ id: String) -> APIError {
        APIError(.gone, .expired, "job \(id) ended longer ago than this server keeps jobs (--retention-hours), and was deleted")
    }

    /// - Parameters:
    ///   - request: the request that failed.
    ///   - context: its context.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONSerialization.data(withJSONObject: ["error": code.rawValue, "message": message], options: [.sortedKeys])
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func notFound(_ id: String) -> APIError { APIError(.notFound, .notFound, "no job \(id)") }
}

/// The `error` field of an API error: stable text for programs (listed in /openapi.yaml).
public enum APIErrorCode: String, Sendable {
    case badOption = "bad_option"
    case badPipeline = "bad_pipeline"
    case badRequest = "bad_request"
    case badTile = "bad_tile"
    case busy
    case corruptImage = "corrupt_image"
    case crossOrigin = "cross_origin"
    case emptyFile = "empty_file"
    case expired
    case insufficientStorage = "insufficient_storage"
    case `internal`
    case jobFailed = "job_failed"
    case noFile = "no_file"
    case notFound = "not_found"
    case notReady = "not_ready"
    case resultMissing = "result_missing"
    case tooCostly = "too_costly"
    case tooLarge = "too_large"
    case tooManyFiles = "too_many_files"
    case tooManyPixels = "too_many_pixels"
    case unauthorized
    case unknownFormat = "unknown_format"
    case unsupportedFormat = "unsupported_format"
    case uploadTimeout = "upload_timeout"
}
