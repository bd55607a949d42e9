import Foundation
import HTTPTypes
import Hummingbird
import Jobs
import NIOCore

/// A stored image (a result or an original) answered as browsers, CDNs and
/// download managers expect: a job's images never change, so they carry a
/// content hash as ETag and may be cached for a year; `If-None-Match` gets
/// 304, and one byte range gets 206 (416 when it starts past the end).
struct Download {
    /// The image, sent as it is: no copy between the file and the socket's writes.
    let bytes: ByteBuffer
    let contentType: String
    let filename: String
    /// `private` when the API needs a token: a shared cache must not hand
    /// one client's image to another.
    let shared: Bool

    func response(to request: HTTPFields) -> Response {
        let tag = bytes.withUnsafeReadableBytes { EntityTag.of($0) }
        var headers = HTTPFields()
        headers[.eTag] = tag
        headers[.cacheControl] = "\(shared ? "public" : "private"), max-age=31536000, immutable"
        headers[.contentDisposition] = "inline; filename=\"\(filename)\""
        headers[.xContentTypeOptions] = "nosniff"
        if let match = request[.ifNoneMatch], EntityTag.matches(match, tag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = contentType
        headers[.acceptRanges] = "bytes"
        // A Range under an If-Range naming other bytes gets the whole image.
        let ifRange = request[.ifRange]
        guard let range = request[.range], ifRange == nil || ifRange == tag else {
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: bytes))
        }
        let count = bytes.readableBytes
        switch ByteRange(range, length: count) {
        case .whole:
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: bytes))
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(count)"
            headers[.contentType] = "application/json; charset=utf-8"
            let error = #"{"error":"bad_range","message":"the image has \#(count) bytes; the range \#(jsonEscaped(range)) starts past its end"}"#
            return Response(status: .rangeNotSatisfiable, headers: headers, body: .init(byteBuffer: ByteBuffer(string: error)))
        case .part(let part):
            headers[.contentRange] = "bytes \(part.lowerBound)-\(part.upperBound - 1)/\(count)"
            let slice = bytes.getSlice(at: bytes.readerIndex + part.lowerBound, length: part.count)!
            return Response(status: .partialContent, headers: headers, body: .init(byteBuffer: slice))
        }
    }

    /// A whole file read straight into a buffer; nil when it cannot be read.
    static func contents(ofFile path: String) -> ByteBuffer? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { return nil }
        // One byte more than its size, for the read that finds the end.
        var buffer = ByteBufferAllocator().buffer(capacity: Int(status.st_size) + 1)
        while true {
            var error: Int32 = 0
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 1) { out in
                let n = read(fd, out.baseAddress, out.count)
                if n < 0 { error = errno }
                return max(0, n)
            }
            if error == 0 && n == 0 { return buffer }
            if error != 0 && error != EINTR { return nil }
        }
    }

    private func jsonEscaped(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0.value >= 0x20 && $0 != "\"" && $0 != "\\" }.prefix(100).map(Character.init))
    }
}

/// Validators for images that never change (RFC 9110 8.8.3).
public enum EntityTag {
    /// `If-None-Match`: `*` or a list of tags, compared weakly (RFC 9110 13.1.2).
    /// - Parameters:
    ///   - header: an `If-None-Match` value (tags, or `*`).
    ///   - tag: the resource's ETag.
    public static func matches(_ header: String, _ tag: String) -> Bool {
        header.split(separator: ",").contains { item in
            var item = item.trimmingCharacters(in: .whitespaces)
            if item.hasPrefix("W/") { item.removeFirst(2) }
            return item == "*" || item == tag
        }
    }

    /// A strong tag from a 128-bit hash of the bytes: identical images share it,
    /// and hashing a 50 MB image takes a few milliseconds.
    public static func of(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { of($0) } }
    public static func of(_ raw: UnsafeRawBufferPointer) -> String { "\"" + ContentHash.hex(raw) + "\"" }
}

/// The one range of a `Range: bytes=...` header that is served.
public enum ByteRange: Equatable, Sendable {
    /// No range, a malformed one or several: the whole image (RFC 9110 allows it).
    case whole
    case part(Range<Int>)
    /// Every range starts past the end.
    case unsatisfiable

    /// - Parameters:
    ///   - header: a `Range` value.
    ///   - length: the resource's length in bytes.
    public init(_ header: String, length: Int) {
        let spec = header.trimmingCharacters(in: .whitespaces)
        guard spec.lowercased().hasPrefix("bytes="), !spec.contains(",") else { self = .whole; return }
        let bounds = spec.dropFirst(6).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard bounds.count == 2 else { self = .whole; return }
        let digits = { (text: String) in !text.isEmpty && text.count <= 18 && text.allSatisfy(\.isASCIIDigit) }
        switch (digits(bounds[0]) ? Int(bounds[0]) : nil, digits(bounds[1]) ? Int(bounds[1]) : nil) {
        case (let first?, let last?) where first <= last:
            self = first < length ? .part(first..<min(last + 1, length)) : .unsatisfiable
        case (let first?, nil) where bounds[1].isEmpty:
            self = first < length ? .part(first..<length) : .unsatisfiable
        case (nil, let suffix?) where bounds[0].isEmpty:
            self = suffix == 0 || length == 0 ? .unsatisfiable : .part(max(0, length - suffix)..<length)
        default:
            self = .whole
        }
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
