import ArgumentParser

/// A worker rank's options, declared once: `imgproc-worker` reads them, and
/// `imgproc workers` takes the same ones and hands them to every rank.
public struct WorkerOptions: ParsableArguments {
    @Option(help: "Tiles taken per claim or steal (default: sized to the job, up to 16).")
    public var batch: Int?

    @Flag(help: "Do not steal tiles from other ranks (for comparisons).")
    public var noSteal = false

    @Flag(help: "Store each tile's output in Redis as it is made, so a restart redoes only unfinished tiles (pixels then go through Redis).")
    public var durableTiles = false

    @Option(help: "Fail a tiled job still running after this many seconds (0: no limit).")
    public var jobTimeout: Double = 600

    @Option(help: "Jobs rank 0 takes from the queue at once, the most a round of small jobs holds (default: 4 per rank).")
    public var jobsPerRound: Int?

    @Option(help: "Attempts a job gets before it is failed.")
    public var maxAttempts: Int = 3

    @Option(help: "Seconds a job may go untouched before another world takes it over.")
    public var reclaimAfter: Double = 30

    @Option(help: "Stop after this many idle seconds (default: run until stopped).")
    public var exitWhenIdle: Double?

    public init() {}

    /// The same options as a rank's arguments.
    public var arguments: [String] {
        var out = ["--job-timeout", String(jobTimeout), "--max-attempts", String(maxAttempts), "--reclaim-after", String(reclaimAfter)]
        if let batch { out += ["--batch", String(batch)] }
        if noSteal { out.append("--no-steal") }
        if durableTiles { out.append("--durable-tiles") }
        if let jobsPerRound { out += ["--jobs-per-round", String(jobsPerRound)] }
        if let exitWhenIdle { out += ["--exit-when-idle", String(exitWhenIdle)] }
        return out
    }
}
