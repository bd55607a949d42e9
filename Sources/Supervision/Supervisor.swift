import Backoff
import Foundation
import Logging
import TileStore

/// Runs the workers under mpirun and keeps them running: restarts mpirun
/// with backoff when it exits abnormally (a rank died: Open MPI takes the
/// whole world down), tells the new world why, and stops it cleanly on
/// SIGINT or SIGTERM: the ranks finish the work in hand, then exit.
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
        /// A world with a rank silent (no heartbeat in Redis) this long is stopped and
        /// started again on the hosts still reachable: a rank blocked on a dead peer or
        /// cut off from the network must not hang the system.
        public var stallTimeout = 30.0
        /// Name of rank 0 in the job queue's group, the same for every world this
        /// supervisor starts, so a new world resumes the jobs of the last at once.
        public var consumer = "workers@\(ThisHost.name)"
        /// How long the ranks may take to finish the work in hand once asked to stop;
        /// after it (or a second signal) they are stopped at once.
        public var stopTimeout = 60.0

        /// - Parameters:
        ///   - ranks: ranks per world.
        ///   - hostfile: an Open MPI hostfile, or nil for this machine.
        ///   - redis: the Redis the ranks use.
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
    private var stall: String?
    private var signalSources: [DispatchSourceSignal] = []

    /// - Parameters:
    ///   - configuration: ranks, hosts, Redis, timeouts and the workers' options.
    ///   - logger: where starts, restarts and stops are logged.
    public init(_ configuration: Configuration, logger: Logger = Logger(label: "imgproc.workers")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The executable next to this one (imgproc-worker beside imgproc).
    static func sibling(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// This executable's folder, read once: once a rebuild or an upgrade
    /// replaces the file, /proc/self/exe names a deleted file, and restarts
    /// must still find the new imgproc-worker.
    private static let folder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()

    /// Options every mpirun of ours takes, and the environment it passes to the ranks.
    func mpirunOptions(ranks: Int, hostfile: String?) -> [String] {
        var args = ["-np", String(ranks)]
        if let hostfile { args += ["--hostfile", hostfile] }
        if getuid() == 0 { args.append("--allow-run-as-root") }
        if hostfile == nil && ranks > ProcessInfo.processInfo.activeProcessorCount { args.append("--oversubscribe") }
        // Ranks move freely between cores (oversubscribed worlds and busy machines).
        args += ["--bind-to", "none"]
        let env = ProcessInfo.processInfo.environment
        for name in env.keys.sorted()
        where ["GLIBC_TUNABLES", "AMQP_URL"].contains(name) || name.hasPrefix("IMGPROC_") || name.hasPrefix("OMPI_MCA_") {
            args += ["-x", name]
        }
        // REDIS_URL may hold a password: it goes through the environment, never the command line (ps).
        return args + ["-x", "IMGPROC_LUA_DIR", "-x", "REDIS_URL"]
    }

    /// The mpirun command line for one world.
    func mpirunArguments(ranks: Int, hostfile: String?, worldID: String, lastExit: String?) -> [String] {
        var args = mpirunOptions(ranks: ranks, hostfile: hostfile)
        args.append(Self.sibling("imgproc-worker"))
        args += ["--consumer", configuration.consumer, "--world-id", worldID]
        args += configuration.workerArguments
        if let lastExit { args += ["--last-exit", lastExit] }
        return args
    }

    /// The hostfile's lines for hosts that can run a rank that reaches Redis
    /// (checked by starting `imgproc-worker --probe` there through mpirun, as
    /// the world itself would start), and their slots.
    func reachableHosts(_ hostfile: String) -> (lines: [String], slots: Int) {
        let text = (try? String(contentsOfFile: hostfile, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        let reachable = Locked([Bool](repeating: false, count: lines.count))
        let group = DispatchGroup()
        for (i, line) in lines.enumerated() {
            let host = String(line.split(separator: " ")[0])
            group.enter()
            DispatchQueue.global().async { [self] in
                defer { group.leave() }
                let args = mpirunOptions(ranks: 1, hostfile: nil).filter { $0 != "--oversubscribe" }
                    + ["--host", host, Self.sibling("imgproc-worker"), "--probe"]
                guard let probe = try? ChildProcess("mpirun", args, environment: [
                    "IMGPROC_LUA_DIR": (try? Scripts.directory().path) ?? "", "REDIS_URL": configuration.redis.full,
                ], output: "/dev/null") else { return }
                let deadline = Date().addingTimeInterval(15)
                while Date() < deadline {
                    if let ended = probe.poll() {
                        if ended == .exited(0) { reachable.with { $0[i] = true } }
                        return
                    }
                    Thread.sleep(forTimeInterval: 0.1)
                }
                probe.signal(SIGKILL)
                _ = probe.wait()
            }
        }
        group.wait()
        let ok = reachable.with { $0 }
        let kept = lines.enumerated().filter { ok[$0.offset] }.map(\.element)
        let slots = kept.reduce(0) { total, line in
            total + (line.split(separator: " ").first { $0.hasPrefix("slots=") }.flatMap { Int($0.dropFirst(6)) } ?? 1)
        }
        for (i, line) in lines.enumerated() where !ok[i] {
            logger.warning("leaving out a host that cannot run a rank reaching Redis", metadata: ["host": "\(line)"])
        }
        return (kept, slots)
    }

    /// Runs until stopped by a signal (or, with `stopWhenWorkersExit`, until the
    /// workers exit normally). Returns the exit status for this process.
    public func run() throws -> Int32 {
        installSignalHandlers()
        let luaDir = try Scripts.directory().path
        var backoff = Backoff(first: 1, ceiling: configuration.maxBackoff)
        var lastExit: String?
        while !isStopping {
            var ranks = configuration.ranks
            var hostfile = configuration.hostfile
            if let original = configuration.hostfile {
                let (lines, slots) = reachableHosts(original)
                guard slots > 0 else {
                    let wait = backoff.next()
                    logger.warning("no host of \(original) can run a rank now; trying again in \(Int(wait)) s")
                    sleepUnlessStopping(wait)
                    continue
                }
                let kept = FileManager.default.temporaryDirectory.appendingPathComponent("imgproc-hosts-\(getpid())").path
                try (lines.joined(separator: "\n") + "\n").write(toFile: kept, atomically: true, encoding: .utf8)
                hostfile = kept
                ranks = min(ranks, slots)
            }
            let worldID = UUID().uuidString.prefix(8).lowercased()
            let args = mpirunArguments(ranks: ranks, hostfile: hostfile, worldID: String(worldID), lastExit: lastExit)
            logger.info("starting \(ranks) workers", metadata: ["command": "mpirun \(args.joined(separator: " "))"])
            let started = Date()
            let process = try ChildProcess("mpirun", args, environment: ["IMGPROC_LUA_DIR": luaDir,
                                                                         "REDIS_URL": configuration.redis.full])
            lock.withLock { child = process }
            let watch = StallWatch(redis: configuration.redis, worldID: String(worldID), ranks: ranks,
                                   timeout: configuration.stallTimeout, logger: logger) { [self] reason in
                lock.withLock { stall = reason }
                process.signal(SIGKILL)
            }
            let ended = process.wait()
            watch.stop()
            lock.withLock { child = nil }
            if isStopping { break }
            let stalled = lock.withLock { () -> String? in defer { stall = nil }; return stall }
            if ended == .exited(0) && stalled == nil {
                if configuration.stopWhenWorkersExit { return 0 }
                lastExit = nil
                backoff.reset()
                continue
            }
            lastExit = stalled ?? "the workers' mpirun \(ended) (a rank died or could not start)"
            if Date().timeIntervalSince(started) > 60 { backoff.reset() }
            let wait = backoff.next()
            logger.warning("workers stopped; restarting in \(Int(wait)) s", metadata: ["why": "\(lastExit!)"])
            sleepUnlessStopping(wait)
        }
        logger.info("workers stopped")
        return 0
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    private func sleepUnlessStopping(_ seconds: Double) {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end && !isStopping { Thread.sleep(forTimeInterval: 0.1) }
    }

    /// SIGINT and SIGTERM ask the ranks to finish the work in hand and exit
    /// (SIGUSR1, which mpirun forwards to every rank; rank 0 then ends the
    /// world). After ``Configuration/stopTimeout``, or at a second signal,
    /// mpirun gets SIGTERM (it kills the ranks), and SIGKILL 10 s later.
    private func installSignalHandlers() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in
                let (running, again): (ChildProcess?, Bool) = lock.withLock {
                    defer { stopping = true }
                    return (child, stopping)
                }
                guard let running else { return }
                @Sendable func hardStop() {
                    running.signal(SIGTERM)
                    DispatchQueue.global().asyncAfter(deadline: .now() + 10) { running.signal(SIGKILL) }
                }
                if again {
                    logger.info("stopping the workers now")
                    hardStop()
                    return
                }
                logger.info("stopping the workers once the work in hand is done (a second signal stops them now)")
                running.signal(SIGUSR1)
                DispatchQueue.global().asyncAfter(deadline: .now() + configuration.stopTimeout) { [self] in
                    guard lock.withLock({ child?.pid == running.pid }) else { return }
                    logger.warning("the workers did not stop within \(Int(configuration.stopTimeout)) s; stopping them now")
                    hardStop()
                }
            }
            source.resume()
            signalSources.append(source)
        }
    }
}

/// Watches a world's heartbeats in Redis and calls `stalled` once when a rank
/// has been silent for `timeout` seconds (or never reported after it).
final class StallWatch: @unchecked Sendable {
    // @unchecked: `stopped` is guarded by `lock`; the store is used by the watching thread only.
    private let lock = NSLock()
    private var stopped = false

    init(redis: RedisURL, worldID: String, ranks: Int, timeout: Double, logger: Logger,
         stalled: @escaping @Sendable (String) -> Void) {
        let started = Date()
        let thread = Thread { [self] in
            var store: TileStore?
            while !lock.withLock({ stopped }) {
                Thread.sleep(forTimeInterval: 1)
                guard Date().timeIntervalSince(started) > timeout else { continue }
                do {
                    if store == nil { store = try TileStore(url: redis) }
                    let now = Int(Date().timeIntervalSince1970 * 1000)
                    var seen: [Int: (host: String, last: Int)] = [:]
                    for beat in try store!.heartbeats().values where beat.worldID == worldID {
                        seen[beat.rank] = (beat.host, beat.lastSeen)
                    }
                    var reason: String?
                    for rank in 0..<ranks {
                        guard let s = seen[rank] else { reason = "rank \(rank) never reported"; break }
                        let silent = Double(now - s.last) / 1000
                        if silent > timeout { reason = "rank \(rank) on \(s.host) went silent for \(Int(silent)) s"; break }
                    }
                    if let reason {
                        logger.warning("the world is stalled; stopping it", metadata: ["why": "\(reason)"])
                        stalled("the world stalled: \(reason)")
                        return
                    }
                } catch {
                    // Redis itself unreachable from here: that is no rank's fault; keep watching.
                    store = nil
                }
            }
        }
        thread.start()
    }

    func stop() { lock.withLock { stopped = true } }
}

/// A lock-protected value.
final class Locked<T>: @unchecked Sendable {
    // @unchecked: every access goes through the lock.
    private var value: T
    private let lock = NSLock()
    init(_ value: T) { self.value = value }
    func with<R>(_ body: (inout T) -> R) -> R { lock.withLock { body(&value) } }
}
