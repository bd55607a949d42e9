import ServiceURL

/// Where Redis is: `redis://[[user]:password@]host[:port][/db]`.
///
/// The default is `redis://127.0.0.1:6379/0`; `REDIS_URL` names another.
public struct RedisURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var database: Int
    public var user: String?
    public var password: String?

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
        return "redis://\(credentials)\(host):\(port)/\(database)"
    }

    /// The URL with its password, for child processes (not for logs); user and
    /// password percent-encoded, so that it parses back the same.
    public var full: String {
        let credentials = password.map { "\(ServiceURL.encoded(user ?? "")):\(ServiceURL.encoded($0))@" } ?? ""
        return "redis://\(credentials)\(host):\(port)/\(database)"
    }
}
