import Cluster
import Foundation
import JobEvents
import Logging
import SystemMemory
import TileStore

extension Cluster: ClusterLink {}

/// The MPI operations the worker needs (the ``Cluster`` in production; tests
/// run a world of threads in one process).
package protocol ClusterLink {
    var rank: Int { get }
    var size: Int { get }
    func broadcast(_ bytes: [UInt8], root: Int) throws -> [UInt8]
    /// The same into fresh memory the caller owns (``Cluster/broadcastBuffer(_:root:)``).
    func broadcastBuffer(_ bytes: [UInt8], root: Int) throws -> UnsafeMutableRawBufferPointer
    func gatherv(_ bytes: [UInt8], root: Int) throws -> [[UInt8]]
    func alltoallv(_ parts: [[UInt8]]) throws -> [[UInt8]]
    func allreduceSum(_ values: [UInt32]) throws -> [UInt32]
    func allreduceMax(_ values: [Double]) throws -> [Double]
}

extension ClusterLink {
    func broadcast(_ bytes: [UInt8]) throws -> [UInt8] { try broadcast(bytes, root: 0) }
    func gatherv(_ bytes: [UInt8]) throws -> [[UInt8]] { try gatherv(bytes, root: 0) }
}

/// What a rank works with: its place in the world, Redis, MPI and its settings.
package struct RankContext {
    let config: WorkerConfiguration
    let store: TileStore
    let cluster: ClusterLink
    let heartbeat: Heartbeat
    let logger: Logger

    package init(config: WorkerConfiguration, store: TileStore, cluster: ClusterLink, heartbeat: Heartbeat, logger: Logger) {
        self.config = config
        self.store = store
        self.cluster = cluster
        self.heartbeat = heartbeat
        self.logger = logger
    }

    var index: Int { cluster.rank }
    var world: Int { cluster.size }
    var isRoot: Bool { cluster.rank == 0 }

    /// Test hook: a rank that starts work on a job whose pipeline contains
    /// the configured text kills itself, as a poison image would.
    func crashIfPoisoned(_ header: JobHeader) {
        if let poison = config.crashOnOps, header.ops.contains(poison) {
            logger.warning("test hook: crashing on purpose", metadata: ["job": "\(header.id)"])
            kill(getpid(), SIGKILL)
        }
    }

    /// Runs the commands rank 0 broadcasts until it says stop (ranks other than 0).
    package func follow() throws {
        while true {
            let command = try Command(bytes: try cluster.broadcast([]))
            switch command.kind {
            case .stop: return
            case .tiled:
                let lane = command.consumer.isEmpty ? nil : Lane(round: WholeRound(rank: self, consumer: command.consumer))
                try TiledJob(rank: self, header: command.jobs[0], startStage: command.stage, lane: lane, laneFeed: nil).run(root: nil)
            case .round: _ = try WholeRound(rank: self, consumer: command.consumer).run()
            case .trim: SystemMemory.giveBack()
            }
        }
    }
}

/// A request to stop once the work in hand is done, from a signal handler to rank 0's loop.
package final class StopRequest: @unchecked Sendable {
    // @unchecked: `requested` is guarded by `lock`.
    private let lock = NSLock()
    private var requested = false
    package init() {}
    var isRequested: Bool { lock.withLock { requested } }
    package func request() { lock.withLock { requested = true } }
}

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
        if let level = ProcessInfo.processInfo.environment["IMGPROC_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) {
            logger.logLevel = level
        }
        // SIGUSR1 (which mpirun forwards to every rank) asks the world to stop once the work
        // in hand is done: rank 0 takes no more jobs and ends the world; the others follow it.
        signal(SIGUSR1, SIG_IGN)
        let stop = StopRequest()
        let wake = DispatchSemaphore(value: 0)
        // (Made and resumed on rank 0 only: libdispatch traps when a suspended source is freed.)
        let stopSignal = cluster.rank == 0 ? DispatchSource.makeSignalSource(signal: SIGUSR1, queue: .global()) : nil
        stopSignal?.setEventHandler {
            stop.request()
            wake.signal()
        }
        stopSignal?.resume()
        defer { stopSignal?.cancel() }
        do {
            let store = try retrying { try TileStore(url: config.redis) }
            let heartbeat = Heartbeat(url: config.redis, rank: cluster.rank, world: cluster.size, worldID: config.worldID,
                                      host: ThisHost.name, consumer: config.consumer, logger: logger)
            heartbeat.start()
            let rank = RankContext(config: config, store: store, cluster: cluster, heartbeat: heartbeat, logger: logger)
            if cluster.rank == 0 {
                logger.info("rank 0 ready", metadata: ["redis": "\(config.redis)", "consumer": "\(config.consumer)",
                                                      "amqp": "\(config.amqp?.description ?? "none")"])
                var events: EventPublisher?
                if let amqp = config.amqp {
                    // job.created only wakes rank 0 early; the queue in Redis says what to do.
                    _ = EventConsumer(url: amqp, queue: EventTopology.workersQueue, logger: logger) { _ in wake.signal() }
                    events = EventPublisher(url: amqp, logger: logger)
                }
                try Coordinator(rank: rank, wake: wake, stop: stop, events: events).run()
                // Give job.done events a moment to reach the broker before this rank exits.
                events?.close(timeout: 5)
            } else {
                try rank.follow()
            }
            heartbeat.stop()
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
