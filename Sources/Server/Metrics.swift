import Foundation
import TileStore

/// Prometheus text for /metrics: counters kept here, and job counts kept in
/// Redis as jobs change state (one round trip per scrape, whatever the number of jobs).
final class Metrics: @unchecked Sendable {
    // @unchecked: every field is guarded by `lock`.
    private let lock = NSLock()
    private var uploadBytes = 0
    private var uploads = 0
    private var refused: [String: Int] = [:]
    private var tilesProcessed = 0
    private var finished: [String: Int] = [:]
    static let buckets: [Double] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
    private var durationCounts = [Int](repeating: 0, count: buckets.count)
    private var durationSum = 0.0
    private var durationCount = 0

    func uploaded(bytes: Int, jobs: Int) {
        lock.withLock { uploadBytes += bytes; uploads += jobs }
    }

    func refusedUpload(_ code: String) {
        lock.withLock { refused[code, default: 0] += 1 }
    }

    func jobFinished(_ job: JobRecord) {
        lock.withLock {
            tilesProcessed += job.tilesTotal
            finished[job.status?.rawValue ?? "unknown", default: 0] += 1
            if let start = job.createdAt, let end = job.finishedAt {
                let seconds = Double(end - start) / 1000
                durationSum += seconds
                durationCount += 1
                for (i, bound) in Self.buckets.enumerated() where seconds <= bound { durationCounts[i] += 1 }
            }
        }
    }

    /// The exposition text; `counts` from Redis (nil when it cannot be reached).
    func text(counts: TileStore.Counts?, streams: Int) -> String {
        lock.withLock {
            var out = """
            # HELP imgproc_up Whether Redis answered this scrape.
            # TYPE imgproc_up gauge
            imgproc_up \(counts == nil ? 0 : 1)
            # HELP imgproc_jobs Jobs waiting and running now.
            # TYPE imgproc_jobs gauge
            imgproc_jobs{status="queued"} \(counts?.queued ?? 0)
            imgproc_jobs{status="running"} \(counts?.running ?? 0)
            # HELP imgproc_jobs_total Jobs submitted, and jobs ended, by status.
            # TYPE imgproc_jobs_total counter
            imgproc_jobs_total{status="created"} \(counts?.created ?? 0)
            imgproc_jobs_total{status="done"} \(counts?.done ?? 0)
            imgproc_jobs_total{status="failed"} \(counts?.failed ?? 0)
            # HELP imgproc_event_streams Event streams open on this server.
            # TYPE imgproc_event_streams gauge
            imgproc_event_streams \(streams)

            """
            out += """
            # HELP imgproc_uploads_total Jobs accepted by this server.
            # TYPE imgproc_uploads_total counter
            imgproc_uploads_total \(uploads)
            # HELP imgproc_upload_bytes_total Bytes of accepted uploads.
            # TYPE imgproc_upload_bytes_total counter
            imgproc_upload_bytes_total \(uploadBytes)
            # HELP imgproc_uploads_refused_total Uploads refused, by reason.
            # TYPE imgproc_uploads_refused_total counter

            """
            for (code, n) in refused.sorted(by: { $0.key < $1.key }) { out += "imgproc_uploads_refused_total{reason=\"\(code)\"} \(n)\n" }
            out += """
            # HELP imgproc_tiles_processed_total Tiles of the jobs finished since this server started.
            # TYPE imgproc_tiles_processed_total counter
            imgproc_tiles_processed_total \(tilesProcessed)
            # HELP imgproc_jobs_finished_total Jobs finished since this server started, by status.
            # TYPE imgproc_jobs_finished_total counter

            """
            for (status, n) in finished.sorted(by: { $0.key < $1.key }) { out += "imgproc_jobs_finished_total{status=\"\(status)\"} \(n)\n" }
            out += """
            # HELP imgproc_job_duration_seconds Seconds from upload to result.
            # TYPE imgproc_job_duration_seconds histogram

            """
            for (i, bound) in Self.buckets.enumerated() {
                out += "imgproc_job_duration_seconds_bucket{le=\"\(bound)\"} \(durationCounts[i])\n"
            }
            out += "imgproc_job_duration_seconds_bucket{le=\"+Inf\"} \(durationCount)\n"
            out += "imgproc_job_duration_seconds_sum \(durationSum)\nimgproc_job_duration_seconds_count \(durationCount)\n"
            return out
        }
    }
}
