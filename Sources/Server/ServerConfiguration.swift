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

    public init() {}
}
