import Foundation
import HTTPTypes
import Hummingbird
import ImageCodecs
import TileStore

/// A job's images: the result (from the kept file, or Redis before it is
/// kept, or always with stateless servers) and the uploaded original, as ``Download``s.
extension JobsAPI {
    func result(_ id: String, _ request: HTTPFields) async throws -> Response {
        let keeper = self.keeper
        let (job, bytes, expired) = try await pool.run { store -> (JobRecord?, ByteBuffer?, Bool) in
            guard let job = try store.job(id) else { return (nil, nil, try store.isExpired(id)) }
            guard job.status == .done else { return (job, nil, false) }
            let file = keeper.file(for: id, format: job.format)
            if let kept = Download.contents(ofFile: file.path) { return (job, kept, false) }
            // The keeper writes the file, then deletes Redis's copy: gone from Redis, it is on disk now.
            guard let bytes = try store.result(id) else { return (job, Download.contents(ofFile: file.path), false) }
            if keeper.shared, job.isStored { keeper.cache(bytes, for: id, format: job.format) }
            return (job, ByteBuffer(bytes: bytes), false)
        }
        guard let job else {
            if expired { throw APIError.expired(id) }
            // Redis lost the job, but a result stored on disk is still the result.
            for format in ImageFormat.allCases {
                if let kept = Download.contents(ofFile: keeper.file(for: id, format: format.rawValue).path) {
                    return download(kept, format, "imgproc-\(id).\(format.fileExtension)", request)
                }
            }
            throw APIError.notFound(id)
        }
        switch job.status {
        case .failed?:
            throw APIError(.conflict, .jobFailed, "job \(id) failed: \(job.error ?? "no reason recorded")")
        case .done?:
            guard let bytes else { throw APIError(.gone, .resultMissing, "job \(id) is done but its result is missing") }
            let format = ImageFormat(rawValue: job.format ?? "png") ?? .png
            return download(bytes, format, "imgproc-\(id).\(format.fileExtension)", request)
        default:
            throw APIError(.conflict, .notReady,
                           "job \(id) is \(job.status?.rawValue ?? "unknown") (\(job.tilesDone)/\(job.tilesTotal) tiles); its result is not ready")
        }
    }

    func source(_ id: String, _ request: HTTPFields) async throws -> Response {
        for format in ImageFormat.allCases {
            let file = config.uploads.appendingPathComponent("\(id).\(format.fileExtension)")
            if let kept = Download.contents(ofFile: file.path) {
                return download(kept, format, "imgproc-\(id)-source.\(format.fileExtension)", request)
            }
        }
        // Not on this server's disk (yet): Redis holds the original while the job runs.
        if let bytes = try await pool.run({ try $0.source(id) }),
           let format = try? bytes.withUnsafeBytes({ raw throws(CodecError) in try ImageFormat.sniff(raw) }) {
            return download(ByteBuffer(bytes: bytes), format, "imgproc-\(id)-source.\(format.fileExtension)", request)
        }
        if try await pool.run({ try $0.isExpired(id) }) { throw APIError.expired(id) }
        throw APIError.notFound(id)
    }

    private func download(_ bytes: ByteBuffer, _ format: ImageFormat, _ filename: String, _ request: HTTPFields) -> Response {
        Download(bytes: bytes, contentType: format.mimeType, filename: filename, shared: config.authToken?.isEmpty ?? true)
            .response(to: request)
    }
}
