import Foundation
import ImageCore

/// Jobs and tiles in Redis: every state change is one Lua script (see `lua/`).
/// Redis holds the work (jobs, tile descriptors, claims, the original and the
/// result); pixels move between the ranks over MPI.
///
/// A store owns one ``RedisConnection`` and so follows its rule: one store
/// per thread or task, never shared.
public final class TileStore {
    let connection: RedisConnection
    let runner: ScriptRunner

    /// - Parameters:
    ///   - connection: the store's own connection (one thread at a time).
    ///   - scripts: the Lua scripts, loaded on first use.
    public init(connection: RedisConnection, scripts: Scripts) {
        self.connection = connection
        runner = ScriptRunner(connection: connection, scripts: scripts)
    }

    /// Connects to `url` with the scripts of this installation.
    public convenience init(url: RedisURL) throws(RedisError) {
        self.init(connection: try RedisConnection(url: url), scripts: try Scripts.locate())
    }

    static var now: RedisArgument { .int(Int(Date().timeIntervalSince1970 * 1000)) }

    /// A new random job id: 128 bits, hex, unguessable.
    public static func newJobID() -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let s = String(rng.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }.joined()
    }

    func checked(_ replies: [RedisReply]) throws(RedisError) -> [RedisReply] {
        for case let .error(message) in replies {
            let auth = message.hasPrefix("NOAUTH") || message.hasPrefix("WRONGPASS")
            throw RedisError(auth ? .authFailed : .server, message)
        }
        return replies
    }

    // MARK: Submitting

    /// Stores a job's original and stage-0 tile descriptors, then publishes the
    /// job with `submit.lua` (visible and queued in one atomic step). A small
    /// job takes one round trip.
    /// - Parameters:
    ///   - id: the new job's id (``newJobID()``).
    ///   - fields: job fields (ops, sizes, format, tile_size, stages, ...); tiles_total is added.
    ///   - tiles: stage 0's tile descriptors.
    ///     With `source_bytes`, the original Redis holds must have that many bytes.
    ///   - source: the original; nil when ``stageSource(id:_:)`` copied it in already.
    ///   - batch: tile descriptors sent per round trip.
    /// - Returns: the job queue entry id.
    /// - Throws: ``RedisError`` `.jobExists`, `.sourceMissing` (a staged original is short), or a connection error.
    @discardableResult
    public func submit(id: String, fields: [String: String], tiles: [StageTile], source: [UInt8]?,
                       batch: Int = 512) throws(RedisError) -> String {
        let keys = JobKeys(id)
        var args: [RedisArgument] = [.text(id), Self.now, "tiles_total", .int(tiles.count)]
        for (k, v) in fields.sorted(by: { $0.key < $1.key }) where k != "tiles_total" { args += [.text(k), .text(v)] }
        // On a cluster the queue and the index are in other slots: the script
        // writes the job alone, and it is queued after (see submit.lua).
        let cluster = connection.configuration.url.isCluster
        let submitKeys: [RedisArgument] = [.text(keys.job), .text(keys.tiles), .text(keys.source)]
            + (cluster ? [] : [.text(JobKeys.queue), .text(JobKeys.index)])
        // Unpublished data expires, so an upload abandoned half way cleans itself up.
        var commands: [[RedisArgument]] = [["DEL", .text(keys.tiles)]]
        if let source { commands.append(["SET", .text(keys.source), .bytes(source), "EX", "86400"]) }
        for tile in tiles {
            commands.append(["XADD", .text(keys.tiles), .text("0-\(tile.index + 1)")] + tile.fields)
            if commands.count >= batch {
                _ = try checked(connection.pipeline(commands))
                commands.removeAll(keepingCapacity: true)
            }
        }
        commands.append(["EXPIRE", .text(keys.tiles), "86400"])
        commands.append(try runner.command("submit", keys: submitKeys, args: args))
        let replies = try connection.pipeline(commands)
        _ = try checked(Array(replies.dropLast()))
        var entry = replies.last!.text ?? ""
        if case let .error(message) = replies.last! {
            guard message.hasPrefix("NOSCRIPT") else { throw RedisError.script("submit", message) }
            runner.forget("submit")
            entry = try runner.run("submit", keys: submitKeys, args: args).text ?? ""
        }
        if cluster {
            let queued = try checked(connection.pipeline([["ZADD", .text(JobKeys.index), args[1], .text(id)],
                                                          ["XADD", .text(JobKeys.queue), "*", "id", .text(id)]]))
            entry = queued[1].text ?? ""
            try connection.command(["PERSIST", .text(keys.job)])
        }
        try connection.command(["HINCRBY", .text(Self.statsKey), "created", "1"])
        return entry
    }

    /// Appends the next part of an original while its upload is still arriving,
    /// so that Redis (and its append-only file) takes it in during the upload
    /// rather than after; ``submit(id:fields:tiles:source:batch:)`` with a nil
    /// source then publishes the job. Until then the original expires an hour
    /// after its last part, so an upload abandoned half way cleans itself up.
    /// - Parameters:
    ///   - id: the job the original will belong to.
    ///   - part: the bytes that follow those already staged.
    /// - Returns: the bytes Redis holds so far.
    @discardableResult
    public func stageSource(id: String, _ part: [UInt8]) throws(RedisError) -> Int {
        let key = JobKeys(id).source
        let replies = try checked(connection.pipeline([["APPEND", .text(key), .bytes(part)], ["EXPIRE", .text(key), "3600"]]))
        return replies[0].int ?? 0
    }

    /// Deletes a staged original whose upload was refused or cut off.
    public func dropStagedSource(id: String) throws(RedisError) {
        try connection.command(["UNLINK", .text(JobKeys(id).source)])
    }

    // MARK: Taking jobs

    /// A job taken from the queue by a consumer.
    public struct QueueEntry: Sendable, Equatable {
        public let entry: String
        public let jobID: String
        /// Taken before and not finished (by this consumer's previous run, or by
        /// one that went silent), or left for a later round by this consumer.
        public let reclaimed: Bool
    }

    /// Up to `count` job entries for `consumer`, without waiting: its own
    /// unacknowledged ones first, then those of consumers silent for `minIdle`
    /// seconds (XAUTOCLAIM), then new ones (`next.lua`).
    /// - Parameters:
    ///   - consumer: rank 0's name in the queue's group; the entries become its.
    ///   - minIdle: seconds another consumer's entry must have gone untouched to be taken over.
    ///   - count: most entries.
    public func nextJobs(consumer: String, minIdle: Double, count: Int = 1) throws(RedisError) -> [QueueEntry] {
        let reply = try runner.run("next", keys: [.text(JobKeys.queue)],
                                   args: [.text(JobKeys.group), .text(consumer), .int(Int(minIdle * 1000)), .int(count)])
        let items = reply.array ?? []
        return stride(from: 0, to: items.count - 2, by: 3).compactMap { i in
            guard let kind = items[i].text, let entry = items[i + 1].text, let id = items[i + 2].text else { return nil }
            return QueueEntry(entry: entry, jobID: id, reclaimed: kind != "new")
        }
    }

    /// The next job entry for `consumer` (see ``nextJobs(consumer:minIdle:count:)``).
    /// - Parameters:
    ///   - consumer: rank 0's name in the queue's group.
    ///   - minIdle: seconds another consumer's entry must have gone untouched to be taken over.
    public func nextJob(consumer: String, minIdle: Double) throws(RedisError) -> QueueEntry? {
        try nextJobs(consumer: consumer, minIdle: minIdle).first
    }

    /// Waits up to `seconds` for a new job entry (XREADGROUP BLOCK), so that an
    /// idle consumer starts a job as soon as it is queued. What arrives becomes
    /// the consumer's own, returned first by the next ``nextJobs(consumer:minIdle:count:)``.
    /// - Parameters:
    ///   - consumer: rank 0's name in the queue's group.
    ///   - seconds: longest wait.
    /// - Returns: whether anything arrived.
    @discardableResult
    public func waitForJobs(consumer: String, seconds: Double) throws(RedisError) -> Bool {
        do {
            let reply = try connection.command(["XREADGROUP", "GROUP", .text(JobKeys.group), .text(consumer), "COUNT", "1",
                                                "BLOCK", .int(max(1, Int(seconds * 1000))), "STREAMS", .text(JobKeys.queue), ">"])
            return !reply.isNull
        } catch where Self.isGone(error) {
            return false
        }
    }

    /// The queue or its group was deleted (FLUSHDB, DEL) while a read waited
    /// or before it: nothing arrived; the next look at the queue recreates them.
    static func isGone(_ error: RedisError) -> Bool {
        error.message.hasPrefix("UNBLOCKED") || error.message.hasPrefix("NOGROUP")
    }

    /// Removes a finished job's entry from the queue (acknowledged and deleted,
    /// since XACK alone keeps the entry in the stream).
    public func acknowledge(_ entry: QueueEntry) throws(RedisError) {
        _ = try checked(connection.pipeline([["XACK", .text(JobKeys.queue), .text(JobKeys.group), .text(entry.entry)],
                                             ["XDEL", .text(JobKeys.queue), .text(entry.entry)]]))
    }

    /// Marks queue entries as still being worked on, so no other world takes them over.
    /// - Parameters:
    ///   - entries: queue entry ids this consumer holds.
    ///   - consumer: rank 0's name in the queue's group.
    public func touch(_ entries: [String], consumer: String) throws(RedisError) {
        guard !entries.isEmpty else { return }
        try connection.command(["XCLAIM", .text(JobKeys.queue), .text(JobKeys.group), .text(consumer), "0"]
                               + entries.map { .text($0) } + ["JUSTID"])
    }

    // MARK: Reading

    /// The job's hash, or nil when there is no such job.
    public func job(_ id: String) throws(RedisError) -> JobRecord? {
        try jobs([id])[0]
    }

    /// Several jobs' hashes in one round trip (nil where there is no such job).
    public func jobs(_ ids: [String]) throws(RedisError) -> [JobRecord?] {
        guard !ids.isEmpty else { return [] }
        let replies = try checked(connection.pipeline(ids.map { ["HGETALL", .text(JobKeys($0).job)] }))
        return zip(ids, replies).map { id, reply in
            let fields = reply.fields.mapValues { String(decoding: $0, as: UTF8.self) }
            return fields.isEmpty ? nil : JobRecord(id: id, fields: fields)
        }
    }

    /// A job's hash and its original.
    public func jobAndSource(_ id: String) throws(RedisError) -> (JobRecord?, [UInt8]?) {
        let keys = JobKeys(id)
        let replies = try checked(connection.pipeline([["HGETALL", .text(keys.job)], ["STRLEN", .text(keys.source)]]))
        let fields = replies[0].fields.mapValues { String(decoding: $0, as: UTF8.self) }
        return (fields.isEmpty ? nil : JobRecord(id: id, fields: fields), try value(keys.source, length: replies[1].int ?? 0))
    }

    /// The encoded original.
    public func source(_ id: String) throws(RedisError) -> [UInt8]? {
        let key = JobKeys(id).source
        return try value(key, length: try connection.command(["STRLEN", .text(key)]).int ?? 0)
    }

    /// A string value of `length` bytes (0: missing), read straight from the
    /// socket (``RedisConnection/bulk(_:)``); nil when it is missing or was
    /// replaced meanwhile.
    func value(_ key: String, length: Int) throws(RedisError) -> [UInt8]? {
        guard length > 0, let bytes = try connection.bulk(["GET", .text(key)]) else { return nil }
        // Deleted meanwhile (the job ended): nothing, or another value, comes back.
        return bytes.count == length ? bytes : nil
    }

    /// The encoded result, once the job is done (read straight from the socket:
    /// a PNG result is tens of megabytes).
    public func result(_ id: String) throws(RedisError) -> [UInt8]? {
        try connection.bulk(["GET", .text(JobKeys(id).result)])
    }

    /// Statistics stored for the next stage (see ``JobKeys/stats``).
    /// - Parameters:
    ///   - id: the job.
    ///   - values: the summed statistics (clahe's histograms).
    public func setStats(_ id: String, _ values: [UInt32]) throws(RedisError) {
        var bytes = [UInt8]()
        bytes.reserveCapacity(values.count * 4)
        for v in values { for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
        try connection.command(["SET", .text(JobKeys(id).stats), .bytes(bytes)])
    }

    public func stats(_ id: String) throws(RedisError) -> [UInt32]? {
        guard let bytes = try connection.command(["GET", .text(JobKeys(id).stats)]).bytes else { return nil }
        return stride(from: 0, to: bytes.count - 3, by: 4).map { i in
            (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[i + $1]) << (8 * $1) }
        }
    }

    /// The raw input of the current stage, kept with --durable-tiles (see ``JobKeys/input``).
    /// - Parameters:
    ///   - id: the job.
    ///   - pixels: the stage's whole input image.
    public func setStageInput(_ id: String, _ pixels: [UInt8]) throws(RedisError) {
        try connection.command(["SET", .text(JobKeys(id).input), .bytes(pixels)])
    }

    public func stageInput(_ id: String) throws(RedisError) -> [UInt8]? {
        try connection.command(["GET", .text(JobKeys(id).input)]).bytes
    }

    /// Job ids, newest first.
    public func recentJobs(limit: Int = 20) throws(RedisError) -> [String] {
        (try connection.command(["ZREVRANGE", .text(JobKeys.index), "0", .int(limit - 1)]).array ?? []).compactMap(\.text)
    }
}
