import ServiceURL

/// Where Redis is: `redis://[[user]:password@]host[:port][/db]`, or a Redis
/// Cluster by some of its nodes: `redis+cluster://[[user]:password@]h1:p1,h2:p2[/]`
/// (the client learns the rest from them, see ``ClusterRouter``).
///
/// The default is `redis://127.0.0.1:6379/0`; `REDIS_URL` names another.
public struct RedisURL: Sendable, Hashable, CustomStringConvertible {
    /// One node's address.
    public struct Node: Sendable, Hashable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public var host: String
    public var port: Int
    /// Always 0 on a cluster, which has only that one.
    public var database: Int
    public var user: String?
    public var password: String?
    /// The cluster nodes to learn the cluster from; empty for a single Redis
    /// (then ``host`` and ``port`` name it; on a cluster they name the first seed).
    public var seeds: [Node] = []

    public var isCluster: Bool { !seeds.isEmpty }

    /// The same credentials, for one node of the cluster (database 0).
    public func node(_ node: Node) -> RedisURL {
        RedisURL(host: node.host, port: node.port, database: 0, user: user, password: password)
    }

    public static let `default` = RedisURL(host: "127.0.0.1", port: 6379, database: 0)

    /// - Parameters:
    ///   - host: Redis's host.
    ///   - port: its port.
    ///   - database: the database number.
    ///   - user: the ACL user (nil: the default user).
    ///   - password: its password (nil: none).
    public init(host: String, port: Int = 6379, database: Int = 0, user: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.password = password
    }

    /// Parses a URL.
    /// - Throws: ``RedisError`` with code `.badURL` naming what is wrong.
    public init(_ text: String) throws(RedisError) {
        func bad(_ why: String) -> RedisError { RedisError(.badURL, "bad Redis URL '\(text)': \(why)") }
        if text.hasPrefix("redis+cluster://") {
            // ServiceURL reads "h1:p1,h2:p2" as host "h1:p1,h2" and port p2.
            let url: ServiceURL
            do { url = try ServiceURL(text, scheme: "redis+cluster") } catch { throw bad(error.message) }
            guard url.path.isEmpty || url.path == "0" else { throw bad("a cluster has database 0 only") }
            var seeds: [Node] = []
            for item in (url.host + (url.port.map { ":\($0)" } ?? "")).split(separator: ",") {
                let parts = item.split(separator: ":", omittingEmptySubsequences: false)
                guard let host = parts.first, !host.isEmpty, parts.count <= 2 else { throw bad("each node is HOST or HOST:PORT") }
                guard let port = parts.count == 2 ? Int(parts[1]) : 6379, (1...65535).contains(port) else { throw bad("port must be 1...65535") }
                seeds.append(Node(host: String(host), port: port))
            }
            guard let first = seeds.first else { throw bad("no node") }
            let (user, password) = url.password == nil ? (nil, url.user) : (url.user.flatMap { $0.isEmpty ? nil : $0 }, url.password)
            self.init(host: first.host, port: first.port, database: 0, user: user, password: password)
            self.seeds = seeds
            return
        }
        let url: ServiceURL
        do { url = try ServiceURL(text, scheme: "redis") } catch { throw bad(error.message) }
        var database = 0
        if !url.path.isEmpty {
            guard let n = Int(url.path), n >= 0 else { throw bad("database must be a number") }
            database = n
        }
        // `redis://secret@host` names a password alone (Redis's AUTH without a user).
        let (user, password) = url.password == nil ? (nil, url.user) : (url.user.flatMap { $0.isEmpty ? nil : $0 }, url.password)
        self.init(host: url.host, port: url.port ?? 6379, database: database, user: user, password: password)
    }

    /// The URL with any password hidden, for logs and messages.
    public var description: String {
        let credentials = password == nil ? "" : "\(user ?? ""):***@"
        return isCluster ? "redis+cluster://\(credentials)\(seedList)/" : "redis://\(credentials)\(host):\(port)/\(database)"
    }

    private var seedList: String { seeds.map { "\($0.host):\($0.port)" }.joined(separator: ",") }

    /// The URL with its password, for child processes (not for logs); user and
    /// password percent-encoded, so that it parses back the same.
    public var full: String {
        let credentials = password.map { "\(ServiceURL.encoded(user ?? "")):\(ServiceURL.encoded($0))@" } ?? ""
        return isCluster ? "redis+cluster://\(credentials)\(seedList)/" : "redis://\(credentials)\(host):\(port)/\(database)"
    }
}
