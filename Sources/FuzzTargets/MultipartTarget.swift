import NIOCore
import Uploads

/// A multipart body read whole and read in small pieces gives the same
/// parts, or fails both ways; limits hold either way.
///
/// Input: one byte choosing the piece size, then the body (boundary `fuzz`).
enum MultipartTarget {
    static let limit = 1 << 16
    static let maxFiles = 4

    static func run(_ data: [UInt8]) {
        guard let first = data.first, data.count <= limit else { return }
        let body = Array(data.dropFirst())
        let whole = read([body[...]])
        let step = 1 + Int(first) % 17
        let pieces = stride(from: 0, to: body.count, by: step).map { body[$0..<min($0 + step, body.count)] }
        let piecewise = read(pieces)
        switch (whole, piecewise) {
        case let (.success(a), .success(b)): precondition(a == b, "parts differ when the body arrives in pieces of \(step)")
        case (.failure, .failure): break
        default: preconditionFailure("whole: \(whole), in pieces of \(step): \(piecewise)")
        }
        if case let .success(parts) = whole {
            precondition(parts.count(where: \.isFile) <= maxFiles, "more files than the limit")
            precondition(parts.reduce(0) { $0 + $1.data.count } <= body.count, "parts hold more bytes than the body")
        }
    }

    static func read(_ pieces: [ArraySlice<UInt8>]) -> Result<[UploadPart], UploadFailure> {
        let collector = MultipartCollector(boundary: "fuzz", limit: limit, maxFiles: maxFiles)
        do {
            for piece in pieces { try collector.feed(ByteBuffer(bytes: piece)) }
        } catch { return .failure(error) }
        return .success(collector.completeParts)
    }
}
