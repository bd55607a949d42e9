/// The Redis keys of imgproc. A job's keys share the hash tag `{ID}`, so
/// every script on one job touches one slot (Redis Cluster ready).
public struct JobKeys: Sendable {
    /// Stream of job entries; consumer group ``group``.
    public static let queue = "imgproc:jobs"
    /// Sorted set of job ids by creation time (milliseconds).
    public static let index = "imgproc:index"
    /// Hash of worker heartbeats.
    public static let workers = "imgproc:workers"
    /// The consumer group of worker rank 0s on ``queue``.
    public static let group = "workers"
    /// Pub/sub channel: the scripts publish a job's id whenever its state or
    /// progress changes (the server's event streams wake on it).
    public static let events = "imgproc:events"
    /// String: the job whose upload, pipeline and output options hashed to
    /// `digest` (uploads that repeat it get that job's result).
    public static func sameUpload(_ digest: String) -> String { "imgproc:same:\(digest)" }

    public let id: String
    public init(_ id: String) { self.id = id }

    private var prefix: String { "imgproc:{\(id)}:" }
    /// Hash: status, pipeline, sizes, counters, timings, error.
    public var job: String { prefix + "job" }
    /// Stream: the current stage's tiles; entry `0-(i+1)` is tile i.
    public var tiles: String { prefix + "tiles" }
    /// Hash: tile index → rank that claimed it (this attempt).
    public var owner: String { prefix + "owner" }
    /// Hash: tile index → rank that completed it.
    public var done: String { prefix + "done" }
    /// Hash: tile index → processed pixels of the tile's core (only with --durable-tiles).
    public var out: String { prefix + "out" }
    /// String: the raw input of the current stage after a global step (only
    /// with --durable-tiles, so a restart resumes there).
    public var input: String { prefix + "input" }
    /// String: the encoded original image.
    public var source: String { prefix + "source" }
    /// String: statistics reduced over a stage (clahe's cell histograms), for the next stage.
    public var stats: String { prefix + "stats" }
    /// String: the encoded result as the ranks write it, each band where it
    /// belongs; `finish.lua` adds the head and tail and renames it ``result``.
    public var written: String { prefix + "written" }
    /// Hash: a band's first row → its length, set once the band is in ``written``.
    public var placed: String { prefix + "placed" }
    /// String: the encoded result, until the server has stored it.
    public var result: String { prefix + "result" }
    /// String: left for a while after retention deleted the job (answers "expired").
    public var expired: String { prefix + "expired" }
    /// List: the tile indexes dealt to `rank`.
    public func queue(_ rank: Int) -> String { prefix + "q:\(rank)" }
    public func queues(_ count: Int) -> [RedisArgument] { (0..<count).map { .text(queue($0)) } }
    /// Keys deleted when a job ends (its queues added by the caller).
    var working: [RedisArgument] {
        [.text(tiles), .text(out), .text(owner), .text(stats), .text(written), .text(placed), .text(source), .text(input)]
    }
}

/// The keys of a round of whole jobs dealt by one world's rank 0 (named by
/// its consumer name): one list of job ids per rank, and who took each.
public struct RoundKeys: Sendable {
    public let consumer: String
    public init(consumer: String) { self.consumer = consumer }

    private var prefix: String { "imgproc:{round:\(consumer)}:" }
    /// Hash: job id → rank that took it.
    public var owner: String { prefix + "owner" }
    /// String: exists while rank 0 may still add jobs to the round.
    public var open: String { prefix + "open" }
    /// List: the job ids dealt to `rank`.
    public func queue(_ rank: Int) -> String { prefix + "q:\(rank)" }
}
