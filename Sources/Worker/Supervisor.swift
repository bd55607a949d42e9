import Foundation
import Logging
import TileStore

/// Runs the workers under mpirun and keeps them running: restarts mpirun
/// with backoff when it exits abnormally (a rank died: Open MPI takes the
/// whole world down), tells the new world why, and stops it cleanly on
/// SIGINT or SIGTERM.
public final class Supervisor: @unchecked Sendable {
    // @unchecked: `child` and `stopping` are guarded by `lock`; the rest is set once.
    public struct Configuration: Sendable {
        public var ranks: Int
        public var hostfile: String?
        public var redis: RedisURL
        /// Extra arguments for every imgproc-worker.
        public var workerArguments: [String] = []
        /// Stop instead of restarting when mpirun exits normally (the workers went idle).
        public var stopWhenWorkersExit = false
        public var maxBackoff = 30.0

        public init(ranks: Int, hostfile: String?, redis: RedisURL) {
            self.ranks = ranks
            self.hostfile = hostfile
            self.redis = redis
        }
    }

    let configuration: Configuration
    let logger: Logger
    private let lock = NSLock()
    private var child: ChildProcess?
    private var stopping = false
    private var signalSources: [DispatchSourceSignal] = []

    public init(_ configuration: Configuration, logger: Logger = Logger(label: "imgproc.workers")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The executable next to this one (imgproc-worker beside imgproc).
    static func sibling(_ name: String) -> String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent(name).path
    }

    /// The mpirun command line for one world.
    func mpirunArguments(lastExit: String?) throws -> [String] {
        var args = ["-np", String(configuration.ranks)]
        if let hostfile = configuration.hostfile { args += ["--hostfile", hostfile] }
        if getuid() == 0 { args.append("--allow-run-as-root") }
        if configuration.hostfile == nil && configuration.ranks > ProcessInfo.processInfo.activeProcessorCount {
            args.append("--oversubscribe")
        }
        // Ranks move freely between cores (oversubscribed worlds and busy machines).
        args += ["--bind-to", "none"]
        let env = ProcessInfo.processInfo.environment
        for name in env.keys.sorted()
        where ["GLIBC_TUNABLES", "AMQP_URL"].contains(name) || name.hasPrefix("IMGPROC_") || name.hasPrefix("OMPI_MCA_") {
            args += ["-x", name]
        }
        args += ["-x", "IMGPROC_LUA_DIR"]
        args.append(Self.sibling("imgproc-worker"))
        args += ["--redis", "\(configuration.redis.redacted(false))"] + configuration.workerArguments
        if let lastExit { args += ["--last-exit", lastExit] }
        return args
    }

    /// Runs until stopped by a signal (or, with `stopWhenWorkersExit`, until the
    /// workers exit normally). Returns the exit status for this process.
    public func run() throws -> Int32 {
        installSignalHandlers()
        let luaDir = try Scripts.directory().path
        var backoff = 1.0
        var lastExit: String?
        while !isStopping {
            let args = try mpirunArguments(lastExit: lastExit)
            logger.info("starting \(configuration.ranks) workers", metadata: ["command": "mpirun \(args.joined(separator: " "))"])
            let started = Date()
            let process = try ChildProcess("mpirun", args, environment: ["IMGPROC_LUA_DIR": luaDir])
            lock.withLock { child = process }
            let ended = process.wait()
            lock.withLock { child = nil }
            if isStopping { break }
            if ended == .exited(0) {
                if configuration.stopWhenWorkersExit { return 0 }
                lastExit = nil
                backoff = 1
                continue
            }
            lastExit = "the workers' mpirun \(ended) (a rank died or could not start)"
            if Date().timeIntervalSince(started) > 60 { backoff = 1 }
            logger.warning("workers stopped; restarting in \(Int(backoff)) s", metadata: ["why": "\(ended)"])
            sleepUnlessStopping(backoff)
            backoff = min(backoff * 2, configuration.maxBackoff)
        }
        logger.info("workers stopped")
        return 0
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    private func sleepUnlessStopping(_ seconds: Double) {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end && !isStopping { Thread.sleep(forTimeInterval: 0.1) }
    }

    /// SIGINT and SIGTERM stop mpirun (which stops its ranks), then this process.
    private func installSignalHandlers() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in
                let running: ChildProcess? = lock.withLock {
                    stopping = true
                    return child
                }
                guard let running else { return }
                logger.info("stopping the workers")
                running.signal(SIGTERM)
                // mpirun forwards the signal to every rank; if it hangs, stop it harder.
                DispatchQueue.global().asyncAfter(deadline: .now() + 10) { running.signal(SIGKILL) }
            }
            source.resume()
            signalSources.append(source)
        }
    }
}

extension RedisURL {
    /// The URL with its password, for passing to child processes (not for logs).
    func redacted(_ hide: Bool) -> String {
        let credentials = password.map { "\(user ?? ""):\($0)@" } ?? ""
        return hide ? description : "redis://\(credentials)\(host):\(port)/\(database)"
    }
}
