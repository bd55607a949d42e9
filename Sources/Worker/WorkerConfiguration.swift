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
    /// Tiles taken per claim or steal (K).
    public var claimBatch = 4
    /// Steal from other ranks when the own queue is empty.
    public var stealing = true
    /// Seconds between looks at the job queue while idle.
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
    /// Store each tile's output in Redis as it is made, so a restart after a
    /// crash redoes only unfinished tiles; off, outputs travel by MPI only
    /// (less Redis traffic) and a restart redoes the interrupted stage.
    public var durableTiles = true
    /// JPEG quality of results.
    public var jpegQuality = 90

    /// Test hook: seconds `slowRank` (every rank when nil) sleeps before each tile.
    public var tileDelay = 0.0
    public var slowRank: Int?
    /// Test hook: the last rank kills itself (SIGKILL) when it starts work on a
    /// job whose pipeline contains this text: a job that crashes every time.
    public var crashOnOps: String?

    public init(redis: RedisURL, consumer: String) {
        self.redis = redis
        self.consumer = consumer
    }
}
