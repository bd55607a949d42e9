import Foundation

/// What servers, benchmarks and tests ask of Redis beyond jobs and tiles.
extension TileStore {
    /// The Redis this store talks to.
    public var url: RedisURL { connection.configuration.url }

    /// Records that a server keeps the job's result on disk and deletes the
    /// copy in Redis (a crash in between only repeats the server's write).
    /// - Parameters:
    ///   - id: the job.
    ///   - keepResult: Redis keeps its copy too, until retention deletes the
    ///     job (stateless servers, which all read results from Redis).
    public func markStored(_ id: String, keepResult: Bool = false) throws(RedisError) {
        var commands: [[RedisArgument]] = [["HSET", .text(JobKeys(id).job), "stored", "1"]]
        if !keepResult { commands.append(["DEL", .text(JobKeys(id).result)]) }
        _ = try checked(connection.pipeline(commands))
    }

    /// Whether Redis at `url` answers, on a connection of its own that waits
    /// at most `timeout` seconds to connect or for the answer, and is closed after.
    /// - Parameters:
    ///   - url: the Redis to ask.
    ///   - timeout: seconds to connect, and for the answer.
    public static func ping(_ url: RedisURL, timeout: Double) throws(RedisError) {
        var configuration = RedisConnection.Configuration(url: url)
        configuration.connectTimeout = timeout
        configuration.commandTimeout = timeout
        configuration.reconnectFor = 0
        try RedisConnection(configuration).command(["PING"])
    }

    /// The fields of one section of Redis's INFO (`stats`, `memory`, `commandstats`, ...);
    /// on a cluster, one master's.
    public func info(_ section: String) throws(RedisError) -> [String: String] {
        Self.fields(try connection.command(["INFO", .text(section)]).text ?? "")
    }

    /// The section of every master of a cluster (of the one Redis otherwise).
    public func infoOfEveryMaster(_ section: String) throws(RedisError) -> [[String: String]] {
        try connection.commandOnEveryMaster(["INFO", .text(section)]).map { Self.fields($0.text ?? "") }
    }

    private static func fields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        return fields
    }

    /// An INFO field as a number (bytes, counts), added up over a cluster's masters.
    /// - Parameters:
    ///   - section: the INFO section.
    ///   - field: the field (0 when missing or not a number).
    public func info(_ section: String, _ field: String) throws(RedisError) -> Int {
        try infoOfEveryMaster(section).reduce(0) { $0 + (Int($1[field] ?? "") ?? 0) }
    }

    /// How many times Redis (every master of a cluster) has run `command`
    /// (lower case, e.g. `evalsha`) since it started.
    public func calls(of command: String) throws(RedisError) -> Int {
        try infoOfEveryMaster("commandstats").reduce(0) { total, fields in
            let line = fields["cmdstat_\(command)"] ?? ""
            return total + (Int(line.split(separator: ",").first?.split(separator: "=").last ?? "") ?? 0)
        }
    }

    /// Bytes Redis (every master of a cluster) has received and sent since it started.
    public func networkBytes() throws(RedisError) -> Int {
        try info("stats", "total_net_input_bytes") + info("stats", "total_net_output_bytes")
    }

    /// Deletes every key of this store's database: for benchmarks and tests
    /// that have a database of their own.
    public func flushDatabase() throws(RedisError) {
        try connection.command(["FLUSHDB"])
    }

    /// Deletes every key of every database (the multi-host benchmark's own Redis).
    public func flushAll() throws(RedisError) {
        try connection.command(["FLUSHALL"])
    }
}
