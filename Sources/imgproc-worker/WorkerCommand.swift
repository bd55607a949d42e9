import ArgumentParser
import Foundation
import JobEvents
import TileStore
import Worker
import WorkerOptions

/// One MPI rank of the workers: `mpirun -np N imgproc-worker --redis URL`.
@main
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imgproc-worker",
        abstract: "An MPI rank of imgproc's workers; start N of them with mpirun (or 'imgproc workers').",
        discussion: """
            Rank 0 takes jobs from Redis and coordinates; every rank claims, steals and
            processes tiles. Example: mpirun -np 4 .build/release/imgproc-worker --redis redis://10.0.0.1:6379/0
            """
    )

    @Option(help: "Redis URL, or redis+cluster://host:port,host:port/ for a Redis Cluster (default: $REDIS_URL or redis://127.0.0.1:6379/0).")
    var redis: String?

    @Option(help: "RabbitMQ URL for job events (default: $AMQP_URL or amqp://guest:guest@127.0.0.1:5672/); 'none' to do without.")
    var amqp: String?

    @Option(help: "Name of rank 0 in the job queue's consumer group; a world restarted under the same name resumes its jobs at once (default: workers@HOST).")
    var consumer: String?

    @OptionGroup var options: WorkerOptions

    @Option(help: "Why the previous world ended (the supervisor passes it), recorded on interrupted jobs.")
    var lastExit: String?

    @Option(help: "Identifies this world in the heartbeats (the supervisor passes it).")
    var worldId: String?

    @Flag(help: "Only check that Redis can be reached from this host, and exit (0 when it can).")
    var probe = false

    func run() throws {
        let urlText = redis ?? ProcessInfo.processInfo.environment["REDIS_URL"] ?? ""
        let url: RedisURL
        do { url = urlText.isEmpty ? .default : try RedisURL(urlText) } catch { throw ValidationError("\(error)") }
        if probe {
            do { try TileStore.ping(url, timeout: 2) } catch { throw ExitCode(1) }
            return
        }
        var config = WorkerConfiguration(redis: url, consumer: consumer ?? "workers@\(ThisHost.name)")
        let amqpText = amqp ?? ProcessInfo.processInfo.environment["AMQP_URL"] ?? ""
        if amqpText != "none" {
            do { config.amqp = amqpText.isEmpty ? .default : try AMQPURL(amqpText) } catch { throw ValidationError("\(error)") }
        }
        config.claimBatch = options.batch.map { max(1, $0) }
        config.stealing = !options.noSteal
        config.durableTiles = options.durableTiles
        config.jobsPerRound = options.jobsPerRound.map { max(1, $0) }
        config.jobTimeout = max(0, options.jobTimeout)
        config.maxAttempts = options.maxAttempts
        config.reclaimAfter = options.reclaimAfter
        config.exitWhenIdle = options.exitWhenIdle
        config.lastExit = lastExit
        config.worldID = worldId ?? ""
        // Test hooks, off unless set.
        let env = ProcessInfo.processInfo.environment
        config.tileDelay = (env["IMGPROC_TEST_TILE_DELAY_MS"].flatMap(Double.init) ?? 0) / 1000
        config.slowRank = env["IMGPROC_TEST_SLOW_RANK"].flatMap(Int.init)
        config.crashOnOps = env["IMGPROC_TEST_CRASH_ON_OPS"]
        let status = WorkerRank.run(config)
        if status != 0 { throw ExitCode(status) }
    }
}
