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
    /// Hash: tile index → processed pixels of the tile's core.
    public var out: String { prefix + "out" }
    /// String: the encoded original image.
    public var source: String { prefix + "source" }
    /// String: statistics reduced over a stage (clahe's cell histograms), for the next stage.
    public var stats: String { prefix + "stats" }
    /// String: the encoded result, until the server has stored it.
    public var result: String { prefix + "result" }
    /// List: the tile indexes dealt to `rank`.
    public func queue(_ rank: Int) -> String { prefix + "q:\(rank)" }
    public func queues(_ count: Int) -> [RedisArgument] { (0..<count).map { .text(queue($0)) } }
    /// Keys deleted when a job ends (its queues added by the caller).
    var working: [RedisArgument] { [.text(tiles), .text(out), .text(owner), .text(stats), .text(source)] }
}
