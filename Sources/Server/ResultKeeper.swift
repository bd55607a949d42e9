import Foundation
import ImageCodecs
import Logging
import TileStore

/// Moves finished results out of Redis into `processed_imgs/ID.EXT`: on each
/// job.done event, and every few seconds for jobs whose event was lost or
/// arrived while the server was down. Idempotent, and harmless when several
/// servers do it: the first marks the job stored. With `shared` (stateless
/// servers) Redis keeps its copy until retention, and the folder is a cache
/// every server fills as it serves results.
final class ResultKeeper: @unchecked Sendable {
    // @unchecked: immutable after init; the metrics it touches are thread-safe.
    let directory: URL
    let shared: Bool
    let metrics: Metrics
    let logger: Logger

    init(directory: URL, shared: Bool = false, metrics: Metrics, logger: Logger) {
        self.directory = directory
        self.shared = shared
        self.metrics = metrics
        self.logger = logger
    }

    func file(for id: String, format: String?) -> URL {
        let ext = ImageFormat(rawValue: format ?? "png")?.fileExtension ?? "png"
        return directory.appendingPathComponent("\(id).\(ext)")
    }

    /// Stores the result of job `id` if it is done and not yet stored.
    /// - Returns: whether a file was written now.
    @discardableResult
    func keep(_ id: String, store: TileStore) throws -> Bool {
        guard let job = try store.job(id), job.isFinished else { return false }
        if job.status == .failed {
            if try store.countFinished(job) { metrics.jobFinished(job) }
            return false
        }
        guard !job.isStored else { return false }
        let target = file(for: id, format: job.format)
        if let bytes = try store.result(id) {
            do { try writeAtomically(bytes, to: target) } catch {
                // Tried again later, with backoff (the event) or at the next reconciliation.
                logger.warning("could not store the result of job \(id), will try again: \(error)")
                throw error
            }
        } else if !FileManager.default.fileExists(atPath: target.path) {
            logger.error("job \(id) is done but its result is neither in Redis nor on disk")
            return false
        }
        // Recorded, then the copy in Redis goes: a crash in between only repeats the write.
        try store.markStored(id, keepResult: shared)
        try store.countFinished(job)
        metrics.jobFinished(job)
        logger.info("stored result", metadata: ["job": "\(id)", "file": "\(target.lastPathComponent)"])
        return true
    }

    /// The result of job `id` that another server stored, read from Redis
    /// and kept in this server's cache (best effort: a failed write only
    /// means Redis is read again next time).
    func cache(_ bytes: [UInt8], for id: String, format: String?) {
        do { try writeAtomically(bytes, to: file(for: id, format: format)) } catch {
            logger.warning("could not cache the result of job \(id): \(error)")
        }
    }

    /// Stores every recent finished job not yet stored.
    func reconcile(store: TileStore, limit: Int = 500) throws {
        for id in try store.recentJobs(limit: limit) { _ = try? keep(id, store: store) }
    }
}
