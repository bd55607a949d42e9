import ArgumentParser
import Foundation
import Hummingbird
import JobEvents
import Jobs
import Logging
import Server
import SystemMemory
import TileStore

/// The HTTP server: upload page, tracking pages and the JSON API.
@main
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imgproc-server",
        abstract: "imgproc's HTTP server: the web page, the API, and results kept in processed_imgs/.",
        discussion: "Example: imgproc-server --port 8080 --redis redis://127.0.0.1:6379/0 --amqp amqp://guest:guest@127.0.0.1:5672/"
    )

    @Option(help: "Address to listen on.")
    var host = "0.0.0.0"

    @Option(help: "Port to listen on.")
    var port = 8080

    @Option(help: "Redis URL, or redis+cluster://host:port,host:port/ for a Redis Cluster (default: $REDIS_URL or redis://127.0.0.1:6379/0).")
    var redis: String?

    @Option(help: "RabbitMQ URL (default: $AMQP_URL or amqp://guest:guest@127.0.0.1:5672/).")
    var amqp: String?

    @Option(help: "Bearer token the API requires (default: $IMGPROC_AUTH_TOKEN; none when unset).")
    var authToken: String?

    @Option(help: "Largest upload in MiB, refused while it is read.")
    var maxUploadMib = 50

    @Option(help: "Largest image in megapixels (input and every stage), checked from its header.")
    var maxMegapixels = 100

    @Option(help: "Largest estimated work of one job, in seconds of one core; costlier pipelines are refused (too_costly).")
    var maxJobCost = JobLimits().maxCost

    @Option(help: "Most files in one request.")
    var maxFiles = 32

    @Option(help: "Most megapixels of all the files of one request together.")
    var maxRequestMegapixels = 400

    @Option(help: "Most jobs waiting or running before uploads get 429 (Retry-After).")
    var maxQueued = 1000

    @Option(help: "Most uploads read at once; more get 429.")
    var maxUploads = 16

    @Option(help: "Longest time, in seconds, to read one upload (408 past it).")
    var uploadTimeout = 60.0

    @Option(help: "Close a connection that sends nothing for this many seconds (a stalled request or an idle keep-alive).")
    var idleTimeout = 15.0

    @Option(help: "Seconds between keep-alive comments on a quiet event stream; a stream whose client has gone ends at the next one.")
    var eventKeepAlive = 5.0

    @Option(help: "Most event streams open at once; more get 429.")
    var maxEventStreams = 256

    @Option(help: "Hours after which finished jobs (files and Redis keys) are deleted; 0 keeps them.")
    var retentionHours = 24.0

    @Option(help: "Refuse uploads (507) when the uploads folder's disk has less free space than this many MiB.")
    var minFreeDiskMib = 512

    @Option(help: "An origin allowed to POST from a browser (repeat it; '*' for any). Default: only the server's own pages.")
    var corsOrigin: [String] = []

    @Flag(help: "Serve /metrics without the token even when one is set.")
    var metricsPublic = false

    @Option(help: "Tile size for new jobs (default: images up to --whole-max-megapixels run whole on one rank, larger ones in 256-pixel tiles).")
    var tile: Int?

    @Option(help: "Images up to this many megapixels run whole on one rank unless a tile size is given.")
    var wholeMaxMegapixels: Double = Double(JobLimits().wholeMaxPixels) / 1_000_000

    @Option(help: "Folder for uploaded originals.")
    var uploads = "uploaded_imgs"

    @Option(help: "Folder for processed results.")
    var processed = "processed_imgs"

    @Flag(help: "Keep results and originals in Redis until --retention-hours, so that any of several servers behind a load balancer answers for any job; the two folders become this server's caches.")
    var stateless = false

    static func main() async {
        // Before any thread starts: after a burst of requests, glibc's
        // defaults leave the server 15-20% larger than before it.
        SystemMemory.restartTunedForBursts()
        await main(nil)
    }

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        var config = ServerConfiguration()
        config.host = host
        config.port = port
        do {
            if let text = redis ?? env["REDIS_URL"], !text.isEmpty { config.redis = try RedisURL(text) }
            if let text = amqp ?? env["AMQP_URL"], !text.isEmpty { config.amqp = try AMQPURL(text) }
        } catch { throw ValidationError("\(error)") }
        config.authToken = authToken ?? env["IMGPROC_AUTH_TOKEN"]
        config.maxUploadBytes = maxUploadMib * 1024 * 1024
        config.limits.maxPixels = maxMegapixels * 1_000_000
        config.limits.maxCost = maxJobCost
        config.limits.wholeMaxPixels = Int(wholeMaxMegapixels * 1_000_000)
        config.maxFiles = maxFiles
        config.maxRequestPixels = maxRequestMegapixels * 1_000_000
        config.tileSize = tile
        config.maxQueued = maxQueued
        config.maxUploads = maxUploads
        config.uploadTimeout = uploadTimeout
        config.idleTimeout = idleTimeout
        config.eventTick = eventKeepAlive
        config.maxEventStreams = maxEventStreams
        config.retention = retentionHours * 3600
        config.minFreeDisk = minFreeDiskMib * 1024 * 1024
        config.corsOrigins = corsOrigin
        config.metricsPublic = metricsPublic
        config.uploads = URL(fileURLWithPath: uploads)
        config.processed = URL(fileURLWithPath: processed)
        config.stateless = stateless
        var logger = Logger(label: "imgproc.server")
        logger.logLevel = .info
        let app = try buildApplication(config, logger: logger)
        logger.info("imgproc server on http://\(host == "0.0.0.0" ? "127.0.0.1" : host):\(port)/",
                    metadata: ["redis": "\(config.redis)", "amqp": "\(config.amqp)", "auth": "\(config.authToken == nil ? "off" : "on")"])
        try await app.runService()
    }
}
