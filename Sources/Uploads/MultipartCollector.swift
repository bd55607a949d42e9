import Foundation
import NIOCore

/// An uploaded file or form field.
public struct UploadPart: Sendable, Equatable {
    public var name = ""
    public var filename: String?
    public var contentType: String?
    public var data: [UInt8] = []

    /// - Parameters:
    ///   - name: the form field's name.
    ///   - filename: the file's name, for file parts.
    ///   - contentType: the part's Content-Type.
    ///   - data: its bytes.
    public init(name: String = "", filename: String? = nil, contentType: String? = nil, data: [UInt8] = []) {
        self.name = name
        self.filename = filename
        self.contentType = contentType
        self.data = data
    }

    /// A file rather than a plain form field.
    public var isFile: Bool { filename != nil || name == "file" }
}

/// Why an upload was refused while it was read.
public enum UploadFailure: Error, Sendable, Equatable {
    case tooLarge(limit: Int)
    case tooManyFiles(most: Int)
    /// The body is not multipart/form-data as its header says.
    case unreadable(String)
}

/// Collects the parts of a multipart/form-data body (RFC 7578) fed to it
/// buffer by buffer, refusing it as soon as it passes the byte or file limit:
/// nothing past the limit is read or held. Body bytes move to their part as
/// soon as they cannot be the start of a boundary, so the body is held once.
public final class MultipartCollector {
    private enum State { case preamble, boundaryLine, headers, body, done }

    /// Longest header line or boundary line kept while waiting for its end.
    static let maxLine = 8 * 1024

    /// CRLF "--" boundary: what ends every part.
    private let delimiter: [UInt8]
    private let limit: Int
    private let maxFiles: Int
    private var total = 0
    private var state = State.preamble
    /// Bytes read and not yet placed; the body starts as if after a CRLF,
    /// so the first boundary (which has none before it) is found the same way.
    private var pending: [UInt8] = [13, 10]
    private var parts: [UploadPart] = []
    private var current = UploadPart()

    /// - Parameters:
    ///   - boundary: the `boundary` parameter of the request's Content-Type.
    ///   - limit: most bytes of all parts together (past it: ``UploadFailure/tooLarge(_:)``).
    ///   - maxFiles: most file parts (past it: ``UploadFailure/tooManyFiles(_:)``).
    public init(boundary: String, limit: Int, maxFiles: Int = .max) {
        delimiter = Array("\r\n--\(boundary)".utf8)
        self.limit = limit
        self.maxFiles = maxFiles
    }

    /// Reads the next piece of the body.
    public func feed(_ buffer: ByteBuffer) throws(UploadFailure) {
        total += buffer.readableBytes
        if total > limit { throw .tooLarge(limit: limit) }
        if state == .done { return }  // the epilogue is ignored
        pending.append(contentsOf: buffer.readableBytesView)
        try advance()
        if parts.count(where: \.isFile) > maxFiles { throw .tooManyFiles(most: maxFiles) }
    }

    /// The body has ended: it must have ended with the closing boundary.
    public func finish() throws(UploadFailure) {
        guard state == .done else { throw .unreadable("the body ends before its closing boundary") }
    }

    /// The parts read so far (a part still arriving is not among them).
    public var completeParts: [UploadPart] { parts }

    private func advance() throws(UploadFailure) {
        while true {
            switch state {
            case .preamble:
                guard let at = find(delimiter) else {
                    pending.removeFirst(max(0, pending.count - delimiter.count + 1))
                    return
                }
                pending.removeFirst(at + delimiter.count)
                state = .boundaryLine
            case .boundaryLine:
                if pending.starts(with: [45, 45]) {  // "--": the closing boundary
                    pending = []
                    state = .done
                    return
                }
                guard let line = try takeLine() else { return }
                // Transport padding (RFC 2046) is all a boundary line may carry.
                guard line.allSatisfy({ $0 == 32 || $0 == 9 }) else { throw .unreadable("text after a boundary") }
                current = UploadPart()
                state = .headers
            case .headers:
                guard let line = try takeLine() else { return }
                if line.isEmpty { state = .body; continue }
                try header(line)
            case .body:
                guard let at = find(delimiter) else {
                    let safe = pending.count - delimiter.count + 1
                    if safe > 0 {
                        current.data.append(contentsOf: pending[..<safe])
                        pending.removeFirst(safe)
                    }
                    return
                }
                current.data.append(contentsOf: pending[..<at])
                pending.removeFirst(at + delimiter.count)
                parts.append(current)
                state = .boundaryLine
            case .done:
                return
            }
        }
    }

    /// The next CRLF-ended line, taken from the pending bytes; nil until its end arrives.
    private func takeLine() throws(UploadFailure) -> [UInt8]? {
        guard let end = find([13, 10]) else {
            if pending.count > Self.maxLine { throw .unreadable("a header line is longer than \(Self.maxLine) bytes") }
            return nil
        }
        if end > Self.maxLine { throw .unreadable("a header line is longer than \(Self.maxLine) bytes") }
        let line = Array(pending[..<end])
        pending.removeFirst(end + 2)
        return line
    }

    private func header(_ line: [UInt8]) throws(UploadFailure) {
        guard let colon = line.firstIndex(of: 58), colon > 0 else { throw .unreadable("a part header without a name") }
        let field = String(decoding: line[..<colon], as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased()
        let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        switch field {
        case "content-disposition":
            current.name = Self.parameter("name", in: value) ?? ""
            current.filename = Self.parameter("filename", in: value)
        case "content-type":
            current.contentType = value
        default:
            break
        }
    }

    /// Where `needle` first starts in the pending bytes.
    private func find(_ needle: [UInt8]) -> Int? {
        let last = pending.count - needle.count  // the last place it can start
        guard last >= 0 else { return nil }
        return pending.withUnsafeBytes { hay in
            needle.withUnsafeBytes { n in
                let base = hay.baseAddress!
                var from = 0
                while from <= last {
                    guard let hit = memchr(base + from, Int32(needle[0]), last - from + 1) else { return nil }
                    let at = base.distance(to: UnsafeRawPointer(hit))
                    if memcmp(base + at, n.baseAddress!, n.count) == 0 { return at }
                    from = at + 1
                }
                return nil
            }
        }
    }

    /// A `key=value` parameter of a header value (quoted or not).
    /// - Parameters:
    ///   - key: the parameter's name (`boundary`, `name`, `filename`).
    ///   - header: a header value with `; key=value` parameters.
    public static func parameter(_ key: String, in header: String) -> String? {
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
