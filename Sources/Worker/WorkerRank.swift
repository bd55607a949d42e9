import Cluster
import Foundation
import JobEvents
import Logging
import TileStore

extension Cluster: ClusterLink {}

/// The life of one `imgproc-worker` process under mpirun.
public enum WorkerRank {
    /// Runs this rank until rank 0 stops the world; returns the exit status.
    public static func run(_ config: WorkerConfiguration) -> Int32 {
        let cluster: Cluster
        do { cluster = try Cluster() } catch {
            FileHandle.standardError.write(Data("imgproc-worker: cannot start MPI: \(error)\n".utf8))
            return 1
        }
        var logger = Logger(label: "imgproc.worker")
        logger[metadataKey: "rank"] = "\(cluster.rank)/\(cluster.size)"
        do {
            let store = try retrying { try TileStore(url: config.redis) }
            let heartbeat = Heartbeat(url: config.redis, rank: cluster.rank, world: cluster.size, worldID: config.worldID,
                                      host: Cluster.hostName, consumer: config.consumer, logger: logger)
            heartbeat.start()
            let runner = StageRunner(rank: cluster.rank, world: cluster.size, config: config, store: store, logger: logger)
            if cluster.rank == 0 {
                logger.info("rank 0 ready", metadata: ["redis": "\(config.redis)", "consumer": "\(config.consumer)",
                                                      "amqp": "\(config.amqp?.description ?? "none")"])
                let wake = DispatchSemaphore(value: 0)
                var events: EventPublisher?
                if let amqp = config.amqp {
                    // job.created only wakes rank 0 early; the queue in Redis says what to do.
                    _ = EventConsumer(url: amqp, queue: EventTopology.workersQueue, logger: logger) { _ in wake.signal() }
                    events = EventPublisher(url: amqp, logger: logger)
                }
                try Coordinator(runner: runner, cluster: cluster, heartbeat: heartbeat, wake: wake, events: events).run()
                // Give job.done events a moment to reach the broker before this rank exits.
                events?.flush(timeout: 5)
            } else {
                try Follower(runner: runner, cluster: cluster, heartbeat: heartbeat).run()
            }
        } catch {
            // Any rank that cannot go on takes the world down; the supervisor restarts it
            // and rank 0 resumes the interrupted job.
            logger.critical("stopping the world: \(error)")
            cluster.abort(2)
        }
        cluster.finalize()
        return 0
    }
}
