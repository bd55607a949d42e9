import Foundation
import JobEvents
import Jobs
import TileStore

/// How the HTTP server runs: where it listens, its services, its folders and limits.
public struct ServerConfiguration: Sendable {
    public var host = "0.0.0.0"
    public var port = 8080
    public var redis: RedisURL = .default
    public var amqp: AMQPURL = .default
    /// Originals are kept here as ID.EXT.
    public var uploads = URL(fileURLWithPath: "uploaded_imgs")
    /// Results are stored here as ID.EXT when their job is done.
    public var processed = URL(fileURLWithPath: "processed_imgs")
    /// Results and originals stay in Redis until retention deletes their job,
    /// so that any of several servers answers for any job; the two folders
    /// are then this server's caches (README, "Scaling out").
    public var stateless = false
    /// Largest request body; refused with 413 while it is being read.
    public var maxUploadBytes = 50 * 1024 * 1024
    /// Pixels (input and every stage), estimated work and what runs whole,
    /// checked from each file's header before anything is stored.
    public var limits = JobLimits()
    /// Most files in one request.
    public var maxFiles = 32
    /// Most pixels of all the files of one request together.
    public var maxRequestPixels = 400_000_000
    /// Tile size for new jobs; nil picks one (see ``JobLimits/wholeMaxPixels``).
    public var tileSize: Int?
    /// When set, /api requests must carry `Authorization: Bearer TOKEN`.
    public var authToken: String?
    /// Threads with a Redis connection each, for blocking Redis calls.
    public var redisConnections = 8

    // Protection: every limit answers with its own JSON error (README, "Limits and protection").

    /// Most jobs waiting or running; past it, uploads get 429 with Retry-After.
    public var maxQueued = 1000
    /// Most uploads being read at once; past it, 429.
    public var maxUploads = 16
    /// Longest time to read one upload, in seconds (408 past it).
    public var uploadTimeout = 60.0
    /// A connection that sends nothing for this many seconds is closed.
    public var idleTimeout = 15.0
    /// Most event streams open at once; past it, 429.
    public var maxEventStreams = 256
    /// An event stream with nothing new sends a keep-alive this often (seconds),
    /// which is also how soon it ends after its client has gone.
    public var eventTick = 5.0
    /// Finished jobs (files and Redis keys) are deleted this many seconds after
    /// they end; 0 keeps them.
    public var retention = 24 * 3600.0
    /// Uploads are refused (507) when the uploads folder's disk has less free space than this, in bytes.
    public var minFreeDisk = 512 * 1024 * 1024
    /// Origins allowed to POST from a browser (`*` for any); none but the server's own by default.
    public var corsOrigins: [String] = []
    /// With a token, /metrics needs it too unless this is set.
    public var metricsPublic = false

    public init() {}
}
