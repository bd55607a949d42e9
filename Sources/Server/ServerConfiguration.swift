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
    /// Largest image, checked from its header before decoding.
    public var maxPixels = 100_000_000
    /// Tile size for new jobs; nil picks one (see ``wholeMaxPixels``).
    public var tileSize: Int?
    /// Images up to this many pixels run whole on one rank unless a tile size is given.
    public var wholeMaxPixels = JobSubmission.defaultWholeMaxPixels
    /// When set, /api requests must carry `Authorization: Bearer TOKEN`.
    public var authToken: String?
    /// Threads with a Redis connection each, for blocking Redis calls.
    public var redisConnections = 8

    public init() {}
}
