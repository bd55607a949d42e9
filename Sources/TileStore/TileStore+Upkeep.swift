import Foundation

/// Counts for /metrics, retention, and the marks finished jobs leave.
extension TileStore {
    /// Hash of monotonic counters: `created` (submitted), `done`, `failed`.
    public static let statsKey = "imgproc:stats"

    /// Jobs by state, in one round trip whatever the number of jobs.
    public struct Counts: Sendable, Equatable {
        public var queued = 0, running = 0, created = 0, done = 0, failed = 0
    }

    public func counts() throws(RedisError) -> Counts {
        let replies = try connection.pipeline([["HGETALL", .text(Self.statsKey)], ["XLEN", .text(JobKeys.queue)],
                                               ["XPENDING", .text(JobKeys.queue), .text(JobKeys.group)]])
        var counts = Counts()
        let stats = replies[0].fields.mapValues { Int(String(decoding: $0, as: UTF8.self)) ?? 0 }
        counts.created = stats["created"] ?? 0
        counts.done = stats["done"] ?? 0
        counts.failed = stats["failed"] ?? 0
        let entries = replies[1].int ?? 0
        // XPENDING's summary starts with the number of entries taken and not acknowledged (an error: no group yet).
        counts.running = replies[2].array?.first?.int ?? 0
        counts.queued = max(0, entries - counts.running)
        return counts
    }

    /// Counts a finished job's end once, whoever asks first (HSETNX on the job).
    /// - Returns: whether this call counted it.
    @discardableResult
    public func countFinished(_ job: JobRecord) throws(RedisError) -> Bool {
        guard let status = job.status, job.isFinished else { return false }
        guard try connection.command(["HSETNX", .text(JobKeys(job.id).job), "counted", "1"]).int == 1 else { return false }
        try connection.command(["HINCRBY", .text(Self.statsKey), .text(status.rawValue), "1"])
        return true
    }

    /// Jobs in the queue, waiting or running (the entries not yet acknowledged).
    public func queuedJobs() throws(RedisError) -> Int {
        try connection.command(["XLEN", .text(JobKeys.queue)]).int ?? 0
    }

    /// Ids of jobs created before `date`, oldest first.
    /// - Parameters:
    ///   - date: jobs created before it.
    ///   - limit: most ids.
    public func jobs(createdBefore date: Date, limit: Int) throws(RedisError) -> [String] {
        let ms = Int(date.timeIntervalSince1970 * 1000)
        return (try connection.command(["ZRANGEBYSCORE", .text(JobKeys.index), "-inf", .text("(\(ms)"), "LIMIT", "0", .int(limit)])
            .array ?? []).compactMap(\.text)
    }

    /// Deletes a job's keys and index entry, leaving a mark for `remember`
    /// seconds so that it answers "expired" rather than "not found".
    /// - Parameters:
    ///   - id: the job.
    ///   - remember: seconds the "expired" mark is kept.
    public func forget(_ id: String, remember: Int = 7 * 24 * 3600) throws(RedisError) {
        let keys = JobKeys(id)
        _ = try checked(connection.pipeline([
            ["UNLINK", .text(keys.job), .text(keys.done), .text(keys.result)] + keys.working + keys.queues(8),
            ["ZREM", .text(JobKeys.index), .text(id)],
            ["SET", .text(keys.expired), "1", "EX", .int(remember)],
        ]))
    }

    /// The job last submitted under `digest` (``JobKeys/sameUpload(_:)``), if any.
    public func sameUpload(_ digest: String) throws(RedisError) -> String? {
        try connection.command(["GET", .text(JobKeys.sameUpload(digest))]).text
    }

    /// Remembers job `id` under `digest` for `seconds` (nil: as long as Redis keeps it).
    /// - Parameters:
    ///   - digest: the upload's bytes and options, hashed (``JobSubmission/sameUploadDigest``).
    ///   - id: the job that answers for it.
    ///   - seconds: how long it may answer (the retention), nil for as long as Redis keeps it.
    public func rememberUpload(_ digest: String, id: String, seconds: Int?) throws(RedisError) {
        _ = try connection.command(["SET", .text(JobKeys.sameUpload(digest)), .text(id)] + (seconds.map { ["EX", .int($0)] } ?? []))
    }

    /// Whether job `id` was deleted by retention (within the time its mark is kept).
    public func isExpired(_ id: String) throws(RedisError) -> Bool {
        try connection.command(["EXISTS", .text(JobKeys(id).expired)]).int == 1
    }
}
