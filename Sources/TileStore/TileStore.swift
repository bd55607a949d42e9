import Foundation
import ImageCore

/// Jobs and tiles in Redis: every state change is one Lua script (see `lua/`).
///
/// A store owns one ``RedisConnection`` and so follows its rule: one store
/// per thread or task, never shared.
public final class TileStore {
    public let connection: RedisConnection
    let runner: ScriptRunner

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

    // MARK: Submitting

    /// Stores a job's stage-0 tiles and original, then publishes the job with
    /// `submit.lua`: the job becomes visible and queued in one atomic step.
    /// - Parameters:
    ///   - fields: job fields (ops, sizes, format, tile_size, stages, ...); tiles_total is added.
    ///   - batch: tiles sent per round trip.
    /// - Returns: the job queue entry id.
    @discardableResult
    public func submit(id: String, fields: [String: String], tiles: [TileData], source: [UInt8],
                       batch: Int = 32) throws(RedisError) -> String {
        let keys = JobKeys(id)
        // Unpublished data expires, so an upload abandoned half way cleans itself up.
        _ = try checked(connection.pipeline([["DEL", .text(keys.tiles)],
                                             ["SET", .text(keys.source), .bytes(source), "EX", "86400"]]))
        try addTiles(tiles, to: keys, batch: batch)
        var args: [RedisArgument] = [.text(id), Self.now, "tiles_total", .int(tiles.count)]
        for (k, v) in fields.sorted(by: { $0.key < $1.key }) where k != "tiles_total" { args += [.text(k), .text(v)] }
        let reply = try runner.run("submit", keys: [.text(keys.job), .text(keys.tiles), .text(keys.source),
                                                    .text(JobKeys.queue), .text(JobKeys.index)], args: args)
        return reply.text ?? ""
    }

    /// Appends tiles to a job's tile stream, `batch` per round trip.
    func addTiles(_ tiles: [TileData], to keys: JobKeys, batch: Int) throws(RedisError) {
        var commands: [[RedisArgument]] = []
        for tile in tiles {
            commands.append(["XADD", .text(keys.tiles), .text("0-\(tile.index + 1)")] + tile.fields)
            if commands.count >= batch {
                _ = try checked(connection.pipeline(commands))
                commands.removeAll(keepingCapacity: true)
            }
        }
        commands.append(["EXPIRE", .text(keys.tiles), "86400"])
        _ = try checked(connection.pipeline(commands))
    }

    private func checked(_ replies: [RedisReply]) throws(RedisError) -> [RedisReply] {
        for case let .error(message) in replies { throw RedisError(.server, message) }
        return replies
    }

    // MARK: Taking jobs

    /// A job taken from the queue by a consumer.
    public struct QueueEntry: Sendable, Equatable {
        public let entry: String
        public let jobID: String
        /// Taken before and not finished (by this consumer's previous run, or by
        /// one that went silent): the job was interrupted.
        public let reclaimed: Bool
    }

    /// The next job for `consumer`, without waiting: one whose consumer has been
    /// silent for `minIdle` seconds first (XAUTOCLAIM), else a new one.
    public func nextJob(consumer: String, minIdle: Double) throws(RedisError) -> QueueEntry? {
        let reply = try runner.run("next", keys: [.text(JobKeys.queue)],
                                   args: [.text(JobKeys.group), .text(consumer), .int(Int(minIdle * 1000))])
        guard let items = reply.array, items.count == 3, let kind = items[0].text,
              let entry = items[1].text, let id = items[2].text else { return nil }
        return QueueEntry(entry: entry, jobID: id, reclaimed: kind != "new")
    }

    /// Removes a finished job's entry from the queue (acknowledged and deleted,
    /// since XACK alone keeps the entry in the stream).
    public func acknowledge(_ entry: QueueEntry) throws(RedisError) {
        _ = try checked(connection.pipeline([["XACK", .text(JobKeys.queue), .text(JobKeys.group), .text(entry.entry)],
                                             ["XDEL", .text(JobKeys.queue), .text(entry.entry)]]))
    }

    /// Marks the queue entry as still being worked on, so it is not taken over.
    public func touch(_ entry: QueueEntry, consumer: String) throws(RedisError) {
        try connection.command(["XCLAIM", .text(JobKeys.queue), .text(JobKeys.group), .text(consumer), "0",
                                .text(entry.entry), "JUSTID"])
    }

    // MARK: Dealing, claiming, stealing

    public enum DealResult: Sendable, Equatable {
        case running(attempt: Int, dealt: Int)
        case failed(reason: String)
    }

    /// Deals the job's unfinished tiles to `world` rank queues (`deal.lua`).
    /// - Parameter counted: whether this is a new attempt (a start or a restart);
    ///   false for the next stage or tiles lost in transit.
    public func deal(id: String, world: Int, maxAttempts: Int, reason: String,
                     counted: Bool = true) throws(RedisError) -> DealResult {
        let keys = JobKeys(id)
        let previous = try job(id)?.world ?? 0
        let reply = try runner.run("deal", keys: [.text(keys.job), .text(keys.out), .text(keys.owner), .text(keys.tiles)]
                                   + keys.queues(max(world, previous)),
                                   args: [.int(world), Self.now, .int(maxAttempts), .text(reason),
                                          .text(counted ? "attempt" : "continue")])
        guard let items = reply.array, let kind = items.first?.text else {
            throw RedisError(.protocolError, "deal.lua: unexpected reply")
        }
        if kind == "failed" { return .failed(reason: items.count > 1 ? items[1].text ?? "" : "") }
        return .running(attempt: items.count > 1 ? items[1].int ?? 0 : 0, dealt: items.count > 2 ? items[2].int ?? 0 : 0)
    }

    /// Up to `count` tiles from the head of `rank`'s own queue, with their data.
    public func claim(id: String, rank: Int, count: Int) throws(RedisError) -> [TileData] {
        let keys = JobKeys(id)
        let reply = try runner.run("claim", keys: [.text(keys.queue(rank)), .text(keys.tiles), .text(keys.owner)],
                                   args: [.int(rank), .int(count)])
        var tiles: [TileData] = []
        for item in reply.array ?? [] { tiles.append(try TileData(reply: item)) }
        return tiles
    }

    /// Up to `count` tiles (at most half) from the tail of the longest other
    /// queue; `victim` is -1 when there was nothing to steal.
    public func steal(id: String, rank: Int, world: Int, count: Int) throws(RedisError) -> (victim: Int, tiles: [TileData]) {
        let keys = JobKeys(id)
        let reply = try runner.run("steal", keys: [.text(keys.tiles), .text(keys.owner)] + keys.queues(world),
                                   args: [.int(rank), .int(count)])
        guard let items = reply.array, let victim = items.first?.int else {
            throw RedisError(.protocolError, "steal.lua: unexpected reply")
        }
        var tiles: [TileData] = []
        for item in items.dropFirst() { tiles.append(try TileData(reply: item)) }
        return (victim, tiles)
    }

    /// Records processed tiles (idempotent): who made each, and its output
    /// unless that is empty (then a restart redoes the tile). Returns tiles done and total.
    @discardableResult
    public func complete(id: String, rank: Int, outputs: [(index: Int, pixels: [UInt8])]) throws(RedisError) -> (done: Int, total: Int) {
        let keys = JobKeys(id)
        var args: [RedisArgument] = [.int(rank)]
        for o in outputs { args += [.int(o.index), .bytes(o.pixels)] }
        let reply = try runner.run("complete", keys: [.text(keys.job), .text(keys.done), .text(keys.out)], args: args)
        let items = reply.array ?? []
        return (items.first?.int ?? 0, items.count > 1 ? items[1].int ?? 0 : 0)
    }

    // MARK: Stages and endings

    /// Moves the job to `stage` and stores that stage's tiles (`advance.lua`);
    /// deal them next.
    public func advance(id: String, stage: Int, tiles: [TileData], world: Int, fields: [String: String] = [:],
                        batch: Int = 32) throws(RedisError) {
        let keys = JobKeys(id)
        var args: [RedisArgument] = [.int(stage), .int(tiles.count)]
        for (k, v) in fields.sorted(by: { $0.key < $1.key }) { args += [.text(k), .text(v)] }
        _ = try runner.run("advance", keys: [.text(keys.job), .text(keys.tiles), .text(keys.done), .text(keys.out),
                                             .text(keys.owner)] + keys.queues(world), args: args)
        try addTiles(tiles, to: keys, batch: batch)
        try connection.command(["PERSIST", .text(keys.tiles)])
    }

    /// Stores the encoded result and marks the job done (`finish.lua`).
    public func finish(id: String, result: [UInt8], world: Int, fields: [String: String] = [:]) throws(RedisError) {
        let keys = JobKeys(id)
        var args: [RedisArgument] = [Self.now, .bytes(result)]
        for (k, v) in fields.sorted(by: { $0.key < $1.key }) { args += [.text(k), .text(v)] }
        _ = try runner.run("finish", keys: [.text(keys.job), .text(keys.result)] + keys.working + keys.queues(world),
                           args: args)
    }

    /// Marks the job failed with `reason` (`fail.lua`).
    public func fail(id: String, reason: String, world: Int) throws(RedisError) {
        let keys = JobKeys(id)
        _ = try runner.run("fail", keys: [.text(keys.job)] + keys.working + keys.queues(world),
                           args: [Self.now, .text(reason)])
    }

    // MARK: Reading

    /// The job's hash, or nil when there is no such job.
    public func job(_ id: String) throws(RedisError) -> JobRecord? {
        let reply = try connection.command(["HGETALL", .text(JobKeys(id).job)])
        let fields = reply.fields.mapValues { String(decoding: $0, as: UTF8.self) }
        return fields.isEmpty ? nil : JobRecord(id: id, fields: fields)
    }

    /// The encoded original.
    public func source(_ id: String) throws(RedisError) -> [UInt8]? {
        try connection.command(["GET", .text(JobKeys(id).source)]).bytes
    }

    /// Statistics stored for the next stage (see ``JobKeys/stats``).
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

    /// The encoded result, once the job is done.
    public func result(_ id: String) throws(RedisError) -> [UInt8]? {
        try connection.command(["GET", .text(JobKeys(id).result)]).bytes
    }

    /// Processed tile outputs stored so far, by tile index.
    public func outputs(_ id: String) throws(RedisError) -> [Int: [UInt8]] {
        let reply = try connection.command(["HGETALL", .text(JobKeys(id).out)])
        var out: [Int: [UInt8]] = [:]
        for (k, v) in reply.fields { if let i = Int(k) { out[i] = v } }
        return out
    }

    /// Stored outputs of the tiles `indexes` (those without one are left out).
    public func outputs(_ id: String, of indexes: [Int]) throws(RedisError) -> [Int: [UInt8]] {
        guard !indexes.isEmpty else { return [:] }
        let reply = try connection.command(["HMGET", .text(JobKeys(id).out)] + indexes.map { .int($0) })
        var out: [Int: [UInt8]] = [:]
        for (index, value) in zip(indexes, reply.array ?? []) { if let bytes = value.bytes { out[index] = bytes } }
        return out
    }

    /// Tile index → rank, for the claims of this attempt (`owner`) or the completions (`done`).
    public func tileRanks(_ id: String, completed: Bool) throws(RedisError) -> [Int: Int] {
        let keys = JobKeys(id)
        let reply = try connection.command(["HGETALL", .text(completed ? keys.done : keys.owner)])
        var out: [Int: Int] = [:]
        for (k, v) in reply.fields { if let i = Int(k), let r = Int(String(decoding: v, as: UTF8.self)) { out[i] = r } }
        return out
    }

    /// Lengths of the rank queues of a world.
    public func queueLengths(_ id: String, world: Int) throws(RedisError) -> [Int] {
        let keys = JobKeys(id)
        guard world > 0 else { return [] }
        return try checked(connection.pipeline((0..<world).map { ["LLEN", .text(keys.queue($0))] })).map { $0.int ?? 0 }
    }

    /// Job ids, newest first.
    public func recentJobs(limit: Int = 20) throws(RedisError) -> [String] {
        (try connection.command(["ZREVRANGE", .text(JobKeys.index), "0", .int(limit - 1)]).array ?? []).compactMap(\.text)
    }
}
