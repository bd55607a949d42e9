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
        guard text.hasPrefix("redis://") else { throw bad("it must start with redis://") }
        var rest = Substring(text.dropFirst("redis://".count))
        var user: String?, password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let u = credentials[..<colon]
                user = u.isEmpty ? nil : String(u)
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                password = String(credentials)
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !db.isEmpty {
                guard let n = Int(db), n >= 0 else { throw bad("database must be a number") }
                database = n
            }
        }
        var host = String(rest), port = 6379
        if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                throw bad("port must be 1...65535")
            }
            port = p
        }
        if host.isEmpty { throw bad("no host") }
        self.init(host: host, port: port, database: database, user: user, password: password)
    }

    /// The URL with any password hidden, for logs and messages.
    public var description: String {
        let credentials = password == nil ? "" : "\(user ?? ""):***@"
        return "redis://\(credentials)\(host):\(port)/\(database)"
    }
}
