import ArgumentParser
import Foundation
import Supervision

struct WorkersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "Run the MPI workers under mpirun and keep them running.",
        discussion: """
            Starts 'mpirun -np N imgproc-worker', restarts it with backoff when a rank dies
            (rank 0 then resumes the interrupted job), and stops it on Ctrl-C or SIGTERM.
            Example: imgproc workers --np 4 --hostfile hosts.txt --redis redis://10.0.0.1:6379/0
            """
    )

    @Option(help: "Number of ranks (default: one per core).")
    var np: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Open MPI hostfile naming the machines to run ranks on.")
    var hostfile: String?

    @OptionGroup var redis: RedisOptions

    @Option(help: "Tiles taken per claim or steal.")
    var batch: Int?

    @Flag(help: "Do not steal tiles from other ranks (for comparisons).")
    var noSteal = false

    @Flag(help: "Store each tile's output in Redis as it is made, so a restart redoes only unfinished tiles (pixels then go through Redis).")
    var durableTiles = false

    @Option(help: "Attempts a job gets before it is failed.")
    var maxAttempts: Int?

    @Option(help: "Fail a tiled job still running after this many seconds (default 600; 0: no limit).")
    var jobTimeout: Double?

    @Option(help: "Stop when the workers have been idle this many seconds (for batch runs).")
    var exitWhenIdle: Double?

    @Option(help: "Restart the world when a rank has been silent this many seconds (a dead host or link).")
    var stallTimeout: Double = 30

    func validate() throws {
        if np < 1 { throw ValidationError("--np must be at least 1") }
        if let hostfile, !FileManager.default.fileExists(atPath: hostfile) {
            throw ValidationError("no hostfile at \(hostfile)")
        }
    }

    func run() throws {
        var config = Supervisor.Configuration(ranks: np, hostfile: hostfile, redis: try redis.resolved())
        config.stallTimeout = stallTimeout
        if let batch { config.workerArguments += ["--batch", String(batch)] }
        if noSteal { config.workerArguments.append("--no-steal") }
        if durableTiles { config.workerArguments.append("--durable-tiles") }
        if let maxAttempts { config.workerArguments += ["--max-attempts", String(maxAttempts)] }
        if let jobTimeout { config.workerArguments += ["--job-timeout", String(jobTimeout)] }
        if let exitWhenIdle {
            config.workerArguments += ["--exit-when-idle", String(exitWhenIdle)]
            config.stopWhenWorkersExit = true
        }
        let status: Int32
        do { status = try Supervisor(config).run() } catch { throw CLIError("\(error)") }
        if status != 0 { throw ExitCode(status) }
    }
}
