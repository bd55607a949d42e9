import Foundation
import MultipartKit
import NIOCore

/// An uploaded file or form field.
public struct UploadPart: Sendable, Equatable {
    public var name = ""
    public var filename: String?
    public var contentType: String?
    public var data: [UInt8] = []

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

/// Collects the parts of a multipart/form-data body fed to it buffer by
/// buffer, refusing it as soon as it passes the byte or file limit: nothing
/// past the limit is read or held.
public final class MultipartCollector {
    private let parser: MultipartParser
    private let limit: Int
    private let maxFiles: Int
    private var total = 0
    private var parts: [UploadPart] = []
    private var current = UploadPart()

    public init(boundary: String, limit: Int, maxFiles: Int = .max) {
        parser = MultipartParser(boundary: boundary)
        self.limit = limit
        self.maxFiles = maxFiles
        parser.onHeader = { [unowned self] field, value in
            switch field.lowercased() {
            case "content-disposition":
                current.name = Self.parameter("name", in: value) ?? ""
                current.filename = Self.parameter("filename", in: value)
            case "content-type":
                current.contentType = value
            default:
                break
            }
        }
        parser.onBody = { [unowned self] buffer in current.data.append(contentsOf: buffer.readableBytesView) }
        parser.onPartComplete = { [unowned self] in
            parts.append(current)
            current = UploadPart()
        }
    }

    /// Reads the next piece of the body.
    public func feed(_ buffer: ByteBuffer) throws(UploadFailure) {
        total += buffer.readableBytes
        if total > limit { throw .tooLarge(limit: limit) }
        do { try parser.execute(buffer) } catch { throw .unreadable("\(error)") }
        if parts.count(where: \.isFile) > maxFiles { throw .tooManyFiles(most: maxFiles) }
    }

    /// The parts read so far (a part still arriving is not among them).
    public var completeParts: [UploadPart] { parts }

    /// A `key=value` parameter of a header value (quoted or not).
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
