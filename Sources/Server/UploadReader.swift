import Foundation
import Hummingbird
import MultipartKit
import NIOCore

/// An uploaded file or form field.
struct UploadPart {
    var name = ""
    var filename: String?
    var contentType: String?
    var data: [UInt8] = []
}

/// Reads an upload as it streams in, refusing it (413) as soon as it passes
/// the byte limit, without reading the rest: a multipart form, or a raw image body.
enum UploadReader {
    static func tooLarge(_ limit: Int) -> APIError {
        APIError(.contentTooLarge, "too_large", "the upload is larger than \(limit / 1024 / 1024) MiB")
    }

    static func tooManyFiles(_ most: Int) -> APIError {
        APIError(.contentTooLarge, "too_many_files", "a request holds at most \(most) files; send the others in another request")
    }

    /// The parts of a multipart/form-data body, or one part named "file" for a raw body.
    /// - Parameter maxFiles: most file parts; reading stops at the one past it.
    /// - Parameter deadline: reading must end by then (408 after it: a client
    ///   trickling its body must not hold the server).
    static func read(_ request: Request, limit: Int, maxFiles: Int = .max, deadline: ContinuousClock.Instant = .now + .seconds(3600)) async throws -> [UploadPart] {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit { throw tooLarge(limit) }
        let contentType = request.headers[.contentType] ?? ""
        if contentType.lowercased().hasPrefix("multipart/form-data") {
            guard let boundary = parameter("boundary", in: contentType) else {
                throw APIError(.badRequest, "bad_request", "multipart/form-data without a boundary")
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
        }
        return [UploadPart(name: "file", filename: nil, contentType: contentType, data: data)]
    }

    static let tooSlow = APIError(.requestTimeout, "upload_timeout", "the upload took too long to arrive")

    static func multipart(_ body: RequestBody, boundary: String, limit: Int, maxFiles: Int,
                          deadline: ContinuousClock.Instant) async throws -> [UploadPart] {
        /// Parser state, used from this task only.
        final class Collector {
            var parts: [UploadPart] = []
            var current = UploadPart()
        }
        let collector = Collector()
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { field, value in
            switch field.lowercased() {
            case "content-disposition":
                collector.current.name = UploadReader.parameter("name", in: value) ?? ""
                collector.current.filename = UploadReader.parameter("filename", in: value)
            case "content-type":
                collector.current.contentType = value
            default:
                break
            }
        }
        parser.onBody = { buffer in collector.current.data.append(contentsOf: buffer.readableBytesView) }
        parser.onPartComplete = {
            collector.parts.append(collector.current)
            collector.current = UploadPart()
        }
        var total = 0
        do {
            for try await buffer in body {
                total += buffer.readableBytes
                if total > limit { throw tooLarge(limit) }
                if ContinuousClock.now > deadline { throw tooSlow }
                try parser.execute(buffer)
                if collector.parts.count(where: { $0.filename != nil || $0.name == "file" }) > maxFiles { throw tooManyFiles(maxFiles) }
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(.badRequest, "bad_request", "the multipart form cannot be read: \(error)")
        }
        return collector.parts
    }

    /// A `key=value` parameter of a header value (quoted or not).
    static func parameter(_ key: String, in header: String) -> String? {
        for piece in header.split(separator: ";").dropFirst() {
            let kv = piece.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces).lowercased() == key else { continue }
            var value = kv[1].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }
}
