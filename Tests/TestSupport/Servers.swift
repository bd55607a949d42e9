import Foundation

/// A redis-server of a test's own, on a free port, stopped by its pid.
public final class RedisTestServer: @unchecked Sendable {
    // @unchecked: the fields are set once in init and only read afterwards.
    public let port: Int
    public let directory: URL
    public let password: String?

    /// Starts `redis-server` with append-only persistence in a temporary folder.
    public init(password: String? = nil, extra: [String] = []) throws {
        port = freePort()
        self.password = password
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("imgproc-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try start(extra: extra)
    }

    var pidFile: String { directory.appendingPathComponent("redis.pid").path }

    public var url: String {
        password.map { "redis://:\($0)@127.0.0.1:\(port)/0" } ?? "redis://127.0.0.1:\(port)/0"
    }

    /// Starts (or restarts) the server on the same port and folder.
    public func start(extra: [String] = []) throws {
        var args = ["--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory.path, "--appendonly", "yes",
                    "--pidfile", pidFile, "--daemonize", "yes", "--save", "",
                    "--logfile", directory.appendingPathComponent("redis.log").path]
        if let password { args += ["--requirepass", password] }
        let r = try run(URL(fileURLWithPath: "/usr/bin/env"), ["redis-server"] + args + extra, capture: false)
        guard r.status == 0 else { throw TestServerError("redis-server did not start (see \(directory.path)/redis.log)") }
        try waitUntil(seconds: 10) { canConnect(port: self.port) }
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
