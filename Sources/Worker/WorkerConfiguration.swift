import JobEvents
import TileStore

/// How a worker rank behaves. The test hooks at the end exist so tests can
/// slow a rank or make one crash on purpose; they are off unless set.
public struct WorkerConfiguration: Sendable {
    public var redis: RedisURL
    /// RabbitMQ for job events (rank 0 is woken by job.created and publishes job.done); nil for none.
    public var amqp: AMQPURL?
    /// Name of rank 0 in the job queue's consumer group. A world restarted
    /// under the same name resumes the jobs it held at once.
    public var consumer: String
    /// Tiles taken per claim or steal (K); nil sizes it to the job (up to 16).
    public var claimBatch: Int?
    /// Steal from other ranks when the own queue is empty.
    public var stealing = true
    /// Longest wait for a new job while idle (new entries end it at once); jobs
    /// of silent worlds are looked for this often.
    public var pollInterval = 0.1
    /// Attempts a job gets before it is failed (a poison image never loops forever).
    public var maxAttempts = 3
    /// Seconds a job may go untouched by its consumer before another world takes it over.
    public var reclaimAfter = 30.0
    /// Stop after this many seconds with nothing to do (for batch runs and tests); nil runs forever.
    public var exitWhenIdle: Double?
    /// Why the previous world ended, recorded on the jobs it interrupted.
    public var lastExit: String?
    /// Names this world in the heartbeats, so its supervisor can tell its ranks apart.
    public var worldID = ""
    /// Store each tile's output in Redis as it is made (and a stage's input
    /// after a global step), so a restart after a crash redoes only unfinished
    /// tiles. Off by default: pixels then travel by MPI only, and a restart
    /// runs the interrupted job again from its original.
    public var durableTiles = false
    /// A tiled job still running after this many seconds fails, saying so (0: no limit).
    /// Checked between tile batches; small jobs are bounded by the cost limit at submission.
    public var jobTimeout = 600.0
    /// Jobs rank 0 takes from the queue at once, the most a round of whole jobs
    /// holds (default: 4 per rank).
    public var jobsPerRound: Int?
    /// JPEG quality of results.
    public var jpegQuality = 90

    /// Test hook: seconds `slowRank` (every rank when nil) sleeps before each tile, or each whole job.
    public var tileDelay = 0.0
    public var slowRank: Int?
    /// Test hook: a rank kills itself (SIGKILL) when it starts work on a job whose
    /// pipeline contains this text (the last rank for tiled jobs, the rank that
    /// takes it for whole ones): a job that crashes every time.
    public var crashOnOps: String?

    /// - Parameters:
    ///   - redis: the Redis holding the work.
    ///   - consumer: rank 0's name in the queue's group.
    public init(redis: RedisURL, consumer: String) {
        self.redis = redis
        self.consumer = consumer
    }
}
