import Foundation
import Hummingbird
import NIOCore
import Uploads

/// Reads an upload as it streams in, refusing it (413) as soon as it passes
/// the byte limit, without reading the rest: a multipart form, or a raw image body.
enum UploadReader {
    static func tooLarge(_ limit: Int) -> APIError {
        APIError(.contentTooLarge, .tooLarge, "the upload is larger than \(limit / 1024 / 1024) MiB")
    }

    static func tooManyFiles(_ most: Int) -> APIError {
        APIError(.contentTooLarge, .tooManyFiles, "a request holds at most \(most) files; send the others in another request")
    }

    /// The parts of a multipart/form-data body, or one part named "file" for a raw body.
    /// - Parameter maxFiles: most file parts; reading stops at the one past it.
    /// - Parameter deadline: reading must end by then (408 after it: a client
    ///   trickling its body must not hold the server).
    /// - Parameter staging: where a raw body is copied as it arrives.
    static func read(_ request: Request, limit: Int, maxFiles: Int = .max, deadline: ContinuousClock.Instant = .now + .seconds(3600),
                     staging: SourceStaging? = nil) async throws -> [UploadPart] {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit { throw tooLarge(limit) }
        let contentType = request.headers[.contentType] ?? ""
        if contentType.lowercased().hasPrefix("multipart/form-data") {
            guard let boundary = MultipartCollector.parameter("boundary", in: contentType) else {
                throw APIError(.badRequest, .badRequest, "multipart/form-data without a boundary")
            }
            return try await multipart(request.body, boundary: boundary, limit: limit, maxFiles: maxFiles, deadline: deadline)
        }
        var total = 0
        var data: [UInt8] = []
        // Grown once, not by doubling (which would hold up to twice the upload).
        if let length = request.headers[.contentLength].flatMap({ Int($0) }) { data.reserveCapacity(length) }
        for try await buffer in request.body {
            total += buffer.readableBytes
            if total > limit { throw tooLarge(limit) }
            if ContinuousClock.now > deadline { throw tooSlow }
            data.append(contentsOf: buffer.readableBytesView)
            try await staging?.add(data)
        }
        return [UploadPart(name: "file", filename: nil, contentType: contentType, data: data)]
    }

    static let tooSlow = APIError(.requestTimeout, .uploadTimeout, "the upload took too long to arrive")

    static func multipart(_ body: RequestBody, boundary: String, limit: Int, maxFiles: Int,
                          deadline: ContinuousClock.Instant) async throws -> [UploadPart] {
        let collector = MultipartCollector(boundary: boundary, limit: limit, maxFiles: maxFiles)
        do {
            for try await buffer in body {
                if ContinuousClock.now > deadline { throw tooSlow }
                try collector.feed(buffer)
            }
            try collector.finish()
        } catch let failure as UploadFailure {
            switch failure {
            case let .tooLarge(limit): throw tooLarge(limit)
            case let .tooManyFiles(most): throw tooManyFiles(most)
            case let .unreadable(why): throw APIError(.badRequest, .badRequest, "the multipart form cannot be read: \(why)")
            }
        }
        return collector.completeParts
    }
}
