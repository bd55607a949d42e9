import Foundation
import ImageCodecs
import Logging
import TileStore

/// Deletes finished jobs `retention` seconds after they end: their Redis keys
/// (leaving a mark, so they answer 410 "expired" for a week) and their files
/// in `uploaded_imgs/` and `processed_imgs/`. Files whose job Redis no longer
/// knows go by their age. Runs every minute (or a tenth of the retention).
final class Sweeper: @unchecked Sendable {
    // @unchecked: immutable after init; the store belongs to the sweeping thread.
    let config: ServerConfiguration
    let logger: Logger

    init(_ config: ServerConfiguration, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Sweeps at once, then every minute (or a tenth of the retention).
    func service() -> ThreadLoop {
        final class Box: @unchecked Sendable {
            // @unchecked: used by the sweeping thread only.
            var store: TileStore?
        }
        let box = Box()
        return ThreadLoop(name: "imgproc-sweeper", every: min(60, max(1, config.retention / 10))) { [self] in
            do {
                if box.store == nil { box.store = try TileStore(url: config.redis) }
                try sweep(box.store!)
            } catch {
                box.store = nil
                logger.warning("retention sweep failed, trying again later: \(error)")
            }
        }
    }

    /// One pass; returns how many jobs were deleted.
    @discardableResult
    func sweep(_ store: TileStore, now: Date = Date()) throws -> Int {
        let cutoff = now.addingTimeInterval(-config.retention)
        var deleted = 0
        for id in try store.jobs(createdBefore: cutoff, limit: 500) {
            let job = try store.job(id)
            if let job {
                // Only jobs that ended before the cutoff; a job still queued or running stays,
                // and so does a result the keeper has not moved to disk yet.
                guard job.isFinished, job.status == .failed || job.isStored,
                      let end = job.finishedAt, Double(end) / 1000 < cutoff.timeIntervalSince1970 else { continue }
            }
            try store.forget(id)
            removeFiles(named: id)
            deleted += 1
        }
        // Files left by jobs Redis no longer knows (it lost them, or they were deleted by hand).
        for folder in [config.uploads, config.processed] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where !name.hasPrefix(".") {
                let url = folder.appendingPathComponent(name)
                guard let modified = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date,
                      modified < cutoff else { continue }
                let id = String(name.prefix { $0 != "." })
                if try store.job(id) == nil {
                    try? FileManager.default.removeItem(at: url)
                }
            }
        }
        if deleted > 0 { logger.info("retention: deleted \(deleted) finished job(s)") }
        return deleted
    }

    func removeFiles(named id: String) {
        for folder in [config.uploads, config.processed] {
            for format in ImageFormat.allCases {
                try? FileManager.default.removeItem(at: folder.appendingPathComponent("\(id).\(format.fileExtension)"))
            }
        }
    }
}
