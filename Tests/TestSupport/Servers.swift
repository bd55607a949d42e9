import Foundation
import Supervision
import TileStore

/// A Redis Cluster of a test's own: three masters on free ports of `host`,
/// each with `replicas` replicas, every slot assigned, stopped with the test.
public final class RedisClusterTestServer: @unchecked Sendable {
    // @unchecked: set once in init.
    public let nodes: [RedisTestServer]

    /// - Parameters:
    ///   - replicas: replicas per master.
    ///   - nodeTimeout: milliseconds before a silent master is failed over (Redis's default is 15000).
    public init(host: String = "127.0.0.1", replicas: Int = 0, nodeTimeout: Int = 15000) throws {
        // Each node's cluster bus port is given, since the default (port + 10000) may pass 65535.
        nodes = try (0..<(3 * (1 + replicas))).map { _ in
            try RedisTestServer(host: host, extra: ["--cluster-enabled", "yes", "--cluster-port", String(freePort()),
                                                    "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", String(nodeTimeout)])
        }
        let create = try run(URL(fileURLWithPath: "/usr/bin/env"),
                             ["redis-cli", "--cluster", "create"] + nodes.map { "\(host):\($0.port)" }
                                + ["--cluster-replicas", String(replicas), "--cluster-yes"])
        guard create.status == 0 else { throw TestServerError("redis-cli --cluster create failed: \(create.stdout) \(create.stderr)") }
        for node in nodes {
            let connection = try RedisConnection(url: RedisURL(node.url))
            try waitUntil(seconds: 30) { (try? connection.command(["CLUSTER", "INFO"]).text)?.contains("cluster_state:ok") == true }
        }
    }

    deinit { stop() }

    public var url: String { "redis+cluster://" + nodes.map { "\($0.host):\($0.port)" }.joined(separator: ",") + "/" }

    /// The node that is the master of `key`'s slot now (the others answer MOVED).
    public func master(of key: String) -> RedisTestServer? {
        nodes.first { node in
            guard let connection = try? RedisConnection(url: RedisURL(node.url)) else { return false }
            return (try? connection.command(["GET", .text(key)])) != nil
        }
    }

    /// How many nodes hold `key` with `value` (masters and, read with READONLY, replicas).
    public func copies(of key: String, value: String) -> Int {
        nodes.filter { node in
            guard let connection = try? RedisConnection(url: RedisURL(node.url)) else { return false }
            _ = try? connection.command(["READONLY"])
            return (try? connection.command(["GET", .text(key)]).text) == value
        }.count
    }

    public func stop() { nodes.forEach { $0.stop() } }
}

/// A redis-server of a test's own, on a free port, stopped by its pid.
public final class RedisTestServer: @unchecked Sendable {
    // @unchecked: the fields are set once in init and only read afterwards.
    public let port: Int
    public let directory: URL
    public let password: String?
    public let host: String

    /// Starts `redis-server` with append-only persistence in a temporary folder,
    /// listening on `host` (another address than loopback turns protected mode off).
    public init(password: String? = nil, host: String = "127.0.0.1", extra: [String] = []) throws {
        port = freePort()
        self.password = password
        self.host = host
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("imgproc-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try start(extra: extra)
    }

    public var pidFile: String { directory.appendingPathComponent("redis.pid").path }

    public var url: String {
        password.map { "redis://:\($0)@\(host):\(port)/0" } ?? "redis://\(host):\(port)/0"
    }

    /// Starts (or restarts) the server on the same port and folder.
    public func start(extra: [String] = []) throws {
        var args = ["--port", "\(port)", "--bind", host, "--protected-mode", host == "127.0.0.1" ? "yes" : "no",
                    "--dir", directory.path, "--appendonly", "yes",
                    "--pidfile", pidFile, "--daemonize", "yes", "--save", "", "--databases", "64",
                    "--logfile", directory.appendingPathComponent("redis.log").path]
        if let password { args += ["--requirepass", password] }
        let r = try run(URL(fileURLWithPath: "/usr/bin/env"), ["redis-server"] + args + extra, capture: false)
        guard r.status == 0 else { throw TestServerError("redis-server did not start (see \(directory.path)/redis.log)") }
        // Ready when a ping is answered, not refused with LOADING (replaying its append-only file).
        let address = try RedisURL(url)
        try waitUntil(seconds: 30) { (try? TileStore.ping(address, timeout: 1)) != nil }
    }

    /// Stops the server by its pid and waits for it to exit.
    public func stop() {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return }
        kill(pid, SIGTERM)
        try? waitUntil(seconds: 10) { !isRunning(pid) }
    }

    /// Kills the server at once (no shutdown save), as a crash would.
    public func crash() {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return }
        kill(pid, SIGKILL)
        try? waitUntil(seconds: 10) { !isRunning(pid) }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// The Redis all tests share: `REDIS_URL` when set (make test starts one),
/// else a private server started on first use and stopped when tests exit.
public let sharedRedisURL: String = {
    if let url = ProcessInfo.processInfo.environment["REDIS_URL"], !url.isEmpty { return url }
    do {
        let server = try RedisTestServer()
        privateRedis = server
        atexit { privateRedis?.stop() }
        return server.url
    } catch {
        fatalError("no REDIS_URL and no redis-server to start: \(error)")
    }
}()

nonisolated(unsafe) private var privateRedis: RedisTestServer?

public struct TestServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// A TCP port nothing listens on right now.
public func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
    }
    _ = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// A port on 127.0.0.1 that refuses connections for as long as this value
/// lives: it is bound and never listened on, so no other process (a Redis or
/// mpirun started meanwhile) can take it, as one could a ``freePort()``.
public final class ClosedPort: @unchecked Sendable {
    // @unchecked: set once in init.
    private let fd: Int32
    public let port: Int

    public init() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
        }
        _ = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    deinit { close(fd) }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
public func canConnect(port: Int, host: String = "127.0.0.1") -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr(host)
    addr.sin_port = UInt16(port).bigEndian
    return withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

/// Polls `condition` every 50 ms until it holds or `seconds` pass.
public func waitUntil(seconds: Double, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return }
        Thread.sleep(forTimeInterval: 0.05)
    }
    throw TestServerError("timed out after \(seconds) s")
}

/// Whether `pid` is a live process (a zombie left for a parent that never
/// reaps, as daemons' parents in containers, counts as gone).
public func isRunning(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return true }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

/// A long-running child process of a test (a supervisor, a world of ranks),
/// with its output in a log file, stopped by its pid.
public final class Background: @unchecked Sendable {
    // @unchecked: `ended` is guarded by `lock`; the rest is set once in init.
    public let pid: pid_t
    public let log: URL
    private let child: ChildProcess
    private let lock = NSLock()
    private var ended: Int32?

    public init(_ path: String, _ arguments: [String], environment: [String: String] = [:], log: URL) throws {
        self.log = log
        FileManager.default.createFile(atPath: log.path, contents: nil)
        child = try ChildProcess(path, arguments, environment: environment, output: log.path)
        pid = child.pid
    }

    /// Waits up to `seconds` for the process to exit; returns its exit status
    /// (128 + signal when killed), or nil if it is still running.
    public func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            // Once reaped, the pid is gone: remember how it ended.
            if let code = lock.withLock({ ended }) { return code }
            if let termination = child.poll() {
                lock.withLock { ended = termination.code }
                return termination.code
            }
            if Date() >= deadline { return nil }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// SIGTERM; if it has not exited after `grace` seconds, a second SIGTERM
    /// (a supervisor then stops its ranks at once, rather than leave mpirun
    /// running without it), and SIGKILL if that is not enough.
    public func stop(grace: Double = 15) {
        if wait(seconds: 0) != nil { return }
        kill(pid, SIGTERM)
        if wait(seconds: grace) == nil {
            kill(pid, SIGTERM)
            if wait(seconds: 12) == nil {
                kill(pid, SIGKILL)
                _ = wait(seconds: 5)
            }
        }
    }

    public var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
}

/// A rabbitmq-server node of a test's own (loopback only, free ports), stopped by rabbitmqctl.
public final class RabbitTestServer: @unchecked Sendable {
    // @unchecked: fields are set once in init.
    public let port: Int
    public let node: String
    public let directory: URL
    public let host: String
    private let environment: [String: String]

    /// Starts a node listening on `host`; on another address than loopback the
    /// guest user may log in from the network (test hosts).
    public init(host: String = "127.0.0.1") throws {
        port = freePort()
        self.host = host
        node = "imgproc-t\(port)@localhost"
        directory = URL(fileURLWithPath: "/tmp/imgproc-rabbit-\(port)")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let conf = "listeners.tcp.default = \(host):\(port)\n" + (host == "127.0.0.1" ? "" : "loopback_users = none\n")
        try conf.write(to: directory.appendingPathComponent("rabbitmq.conf"), atomically: true, encoding: .utf8)
        try "[].\n".write(to: directory.appendingPathComponent("enabled_plugins"), atomically: true, encoding: .utf8)
        _ = try? spawnAndWait("chown", ["-R", "rabbitmq:rabbitmq", directory.path])
        environment = [
            "RABBITMQ_NODENAME": node, "RABBITMQ_NODE_PORT": "\(port)", "RABBITMQ_DIST_PORT": "\(freePort())",
            "RABBITMQ_NODE_IP_ADDRESS": host, "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": directory.appendingPathComponent("mnesia").path,
            "RABBITMQ_LOG_BASE": directory.appendingPathComponent("log").path,
            "RABBITMQ_PID_FILE": directory.appendingPathComponent("rabbit.pid").path,
            "RABBITMQ_ENABLED_PLUGINS_FILE": directory.appendingPathComponent("enabled_plugins").path,
            "RABBITMQ_CONFIG_FILE": directory.appendingPathComponent("rabbitmq").path,
        ]
        _ = try Background("setsid", ["rabbitmq-server"], environment: environment,
                           log: directory.appendingPathComponent("server.out"))
        try waitUntil(seconds: 60) { try ctl(["await_startup"]) == 0 }
    }

    public var url: String { "amqp://guest:guest@\(host):\(port)/" }

    @discardableResult
    public func ctl(_ arguments: [String]) throws -> Int32 {
        try run(URL(fileURLWithPath: "/usr/bin/env"), ["rabbitmqctl", "-q", "-n", node] + arguments,
                environment: environment, capture: false).status
    }

    /// Stops the broker inside the node (as a restart would); durable queues and persistent messages stay.
    public func stopBroker() throws { try ctl(["stop_app"]) }
    public func startBroker() throws {
        try ctl(["start_app"])
        try waitUntil(seconds: 60) { try ctl(["await_startup"]) == 0 }
    }

    deinit {
        _ = try? ctl(["stop"])
        try? FileManager.default.removeItem(at: directory)
    }
}
