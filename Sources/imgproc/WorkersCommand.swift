import ArgumentParser
import Foundation
import Supervision
import WorkerOptions

struct WorkersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "Run the MPI workers under mpirun and keep them running.",
        discussion: """
            Starts 'mpirun -np N imgproc-worker', restarts it with backoff when a rank dies
            (rank 0 then resumes the interrupted job), and stops it on Ctrl-C or SIGTERM: the
            ranks finish the work in hand first (up to --stop-timeout; a second signal stops them now).
            Example: imgproc workers --np 4 --hostfile hosts.txt --redis redis://10.0.0.1:6379/0
            Several worlds share one queue when each has its own --consumer (README, "Scaling out").
            """
    )

    @Option(help: "Number of ranks (default: one per core).")
    var np: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Open MPI hostfile naming the machines to run ranks on.")
    var hostfile: String?

    @OptionGroup var redis: RedisOptions

    @OptionGroup var worker: WorkerOptions

    @Option(help: "This world's name in the job queue's group (default: workers@HOST). Several worlds on one queue each need their own; a world started again under the same name resumes its jobs at once, others take them over after --reclaim-after.")
    var consumer: String?

    @Option(help: "Restart the world when a rank has been silent this many seconds (a dead host or link).")
    var stallTimeout: Double = 30

    @Option(help: "On Ctrl-C or SIGTERM, how many seconds the ranks may take to finish the work in hand.")
    var stopTimeout: Double = 60

    func validate() throws {
        if np < 1 { throw ValidationError("--np must be at least 1") }
        if let consumer, consumer.isEmpty || consumer.contains(where: \.isWhitespace) {
            throw ValidationError("--consumer must be a name without spaces")
        }
        if let hostfile, !FileManager.default.fileExists(atPath: hostfile) {
            throw ValidationError("no hostfile at \(hostfile)")
        }
    }

    func run() throws {
        var config = Supervisor.Configuration(ranks: np, hostfile: hostfile, redis: try redis.resolved())
        config.stallTimeout = stallTimeout
        config.stopTimeout = stopTimeout
        if let consumer { config.consumer = consumer }
        config.workerArguments = worker.arguments
        config.stopWhenWorkersExit = worker.exitWhenIdle != nil
        let status: Int32
        do { status = try Supervisor(config).run() } catch { throw CLIError("\(error)") }
        if status != 0 { throw ExitCode(status) }
    }
}
