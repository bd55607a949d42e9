import ImageCore

/// Tiled jobs: dealing a stage's tiles to rank queues, claiming, stealing,
/// completing, moving to the next stage, and the ends of a job.
extension TileStore {
    public enum DealResult: Sendable, Equatable {
        case running(attempt: Int, dealt: Int)
        case failed(reason: String)
    }

    /// Deals the job's tiles of its current stage to `world` rank queues (`deal.lua`).
    /// - Parameters:
    ///   - counted: a new attempt (a start or a restart); false for the next stage or tiles lost in transit.
    ///   - only: with `counted` false, deal these tiles only (lost in transit).
    public func deal(id: String, world: Int, maxAttempts: Int, reason: String, counted: Bool = true,
                     only: [Int] = []) throws(RedisError) -> DealResult {
        let keys = JobKeys(id)
        let previous = try job(id)?.world ?? 0
        let reply = try runner.run("deal", keys: [.text(keys.job), .text(keys.out), .text(keys.owner), .text(keys.tiles),
                                                  .text(keys.done)] + keys.queues(max(world, previous)),
                                   args: [.int(world), Self.now, .int(maxAttempts), .text(reason),
                                          .text(counted ? "attempt" : "continue")] + (counted ? [] : only.map { .int($0) }))
        guard let items = reply.array, let kind = items.first?.text else {
            throw RedisError(.protocolError, "deal.lua: unexpected reply")
        }
        if kind == "failed" { return .failed(reason: items.count > 1 ? items[1].text ?? "" : "") }
        return .running(attempt: items.count > 1 ? items[1].int ?? 0 : 0, dealt: items.count > 2 ? items[2].int ?? 0 : 0)
    }

    /// The tiles dealt to `rank` and not yet taken, head first.
    /// - Parameters:
    ///   - id: the job.
    ///   - rank: whose queue.
    public func dealtTiles(_ id: String, rank: Int) throws(RedisError) -> [Int] {
        (try connection.command(["LRANGE", .text(JobKeys(id).queue(rank)), "0", "-1"]).array ?? []).compactMap(\.int)
    }

    /// Up to `count` tiles from the head of `rank`'s own queue (`claim.lua`).
    /// - Parameters:
    ///   - id: the job.
    ///   - rank: the claiming rank; its queue, and the owner recorded for each tile.
    ///   - count: most tiles to take.
    /// - Returns: the tiles' descriptors, in queue order; empty when the queue is.
    public func claim(id: String, rank: Int, count: Int) throws(RedisError) -> [StageTile] {
        let keys = JobKeys(id)
        let reply = try runner.run("claim", keys: [.text(keys.queue(rank)), .text(keys.tiles), .text(keys.owner)],
                                   args: [.int(rank), .int(count)])
        var tiles: [StageTile] = []
        for item in reply.array ?? [] { tiles.append(try StageTile(reply: item)) }
        return tiles
    }

    /// Up to `count` tiles (at most half) from the tail of the longest other
    /// queue (`steal.lua`).
    /// - Parameters:
    ///   - id: the job.
    ///   - rank: the thief, recorded as the tiles' owner.
    ///   - world: ranks in the world (the queues looked at).
    ///   - count: most tiles to take.
    /// - Returns: whose queue they came from (-1 when there was nothing to steal) and the tiles.
    public func steal(id: String, rank: Int, world: Int, count: Int) throws(RedisError) -> (victim: Int, tiles: [StageTile]) {
        let keys = JobKeys(id)
        let reply = try runner.run("steal", keys: [.text(keys.tiles), .text(keys.owner)] + keys.queues(world),
                                   args: [.int(rank), .int(count)])
        guard let items = reply.array, let victim = items.first?.int else {
            throw RedisError(.protocolError, "steal.lua: unexpected reply")
        }
        var tiles: [StageTile] = []
        for item in items.dropFirst() { tiles.append(try StageTile(reply: item)) }
        return (victim, tiles)
    }

    /// Records processed tiles (idempotent, `complete.lua`): who made each, and
    /// its output unless that is empty (kept only with --durable-tiles).
    /// - Parameters:
    ///   - id: the job.
    ///   - rank: the rank that made them.
    ///   - outputs: each tile's index and output pixels (empty: not kept).
    /// - Returns: tiles done and total of the stage.
    @discardableResult
    public func complete(id: String, rank: Int, outputs: [(index: Int, pixels: [UInt8])]) throws(RedisError) -> (done: Int, total: Int) {
        let keys = JobKeys(id)
        var args: [RedisArgument] = [.int(rank)]
        for o in outputs { args += [.int(o.index), .bytes(o.pixels)] }
        let reply = try runner.run("complete", keys: [.text(keys.job), .text(keys.done), .text(keys.out)], args: args)
        let items = reply.array ?? []
        return (items.first?.int ?? 0, items.count > 1 ? items[1].int ?? 0 : 0)
    }

    /// Indexes of the tiles whose outputs are stored (--durable-tiles).
    public func storedOutputs(_ id: String) throws(RedisError) -> [Int] {
        (try connection.command(["HKEYS", .text(JobKeys(id).out)]).array ?? []).compactMap(\.int)
    }

    /// Stored outputs of some tiles (--durable-tiles).
    /// - Parameters:
    ///   - id: the job.
    ///   - indexes: the tiles wanted; those without a stored output are left out.
    public func outputs(_ id: String, of indexes: [Int]) throws(RedisError) -> [Int: [UInt8]] {
        guard !indexes.isEmpty else { return [:] }
        let reply = try connection.command(["HMGET", .text(JobKeys(id).out)] + indexes.map { .int($0) })
        var out: [Int: [UInt8]] = [:]
        for (index, value) in zip(indexes, reply.array ?? []) { if let bytes = value.bytes { out[index] = bytes } }
        return out
    }

    /// Tile index → rank.
    /// - Parameters:
    ///   - id: the job.
    ///   - completed: the ranks that completed each tile (`done`), or that claimed it in this attempt (`owner`).
    public func tileRanks(_ id: String, completed: Bool) throws(RedisError) -> [Int: Int] {
        let keys = JobKeys(id)
        let reply = try connection.command(["HGETALL", .text(completed ? keys.done : keys.owner)])
        var out: [Int: Int] = [:]
        for (k, v) in reply.fields { if let i = Int(k), let r = Int(String(decoding: v, as: UTF8.self)) { out[i] = r } }
        return out
    }

    /// Lengths of the rank queues of a world.
    /// - Parameters:
    ///   - id: the job.
    ///   - world: ranks in the world.
    public func queueLengths(_ id: String, world: Int) throws(RedisError) -> [Int] {
        let keys = JobKeys(id)
        guard world > 0 else { return [] }
        return try checked(connection.pipeline((0..<world).map { ["LLEN", .text(keys.queue($0))] })).map { $0.int ?? 0 }
    }

    // MARK: Stages and endings

    /// Moves the job to `stage` with that stage's tile descriptors (`advance.lua`); deal them next.
    /// - Parameters:
    ///   - id: the job.
    ///   - stage: the stage it moves to (0-based).
    ///   - tiles: that stage's tile descriptors.
    ///   - world: ranks in the world (whose queues are emptied).
    ///   - fields: job fields to set with it (timings of the stage before).
    ///   - batch: descriptors sent per round trip.
    public func advance(id: String, stage: Int, tiles: [StageTile], world: Int, fields: [String: String] = [:],
                        batch: Int = 512) throws(RedisError) {
        let keys = JobKeys(id)
        var args: [RedisArgument] = [.int(stage), .int(tiles.count)]
        for (k, v) in fields.sorted(by: { $0.key < $1.key }) { args += [.text(k), .text(v)] }
        _ = try runner.run("advance", keys: [.text(keys.job), .text(keys.tiles), .text(keys.done), .text(keys.out),
                                             .text(keys.owner)] + keys.queues(world), args: args)
        var commands: [[RedisArgument]] = []
        for tile in tiles {
            commands.append(["XADD", .text(keys.tiles), .text("0-\(tile.index + 1)")] + tile.fields)
            if commands.count >= batch {
                _ = try checked(connection.pipeline(commands))
                commands.removeAll(keepingCapacity: true)
            }
        }
        _ = try checked(connection.pipeline(commands))
    }

    /// Stores the encoded result and marks the job done (`finish.lua`); the
    /// job's working keys (tiles, claims, original) are deleted.
    /// - Parameters:
    ///   - id: the job.
    ///   - result: the encoded result.
    ///   - world: ranks in the world (whose queues are deleted).
    ///   - fields: job fields to set with it (timings, sizes).
    public func finish(id: String, result: [UInt8], world: Int, fields: [String: String] = [:]) throws(RedisError) {
        _ = try runner.run("finish", keys: Self.finishKeys(id, world: world), args: Self.finishArguments(result, fields: fields))
    }

    /// Makes the string the ranks write a job's result into (``placeBand(_:y:at:_:)``)
    /// afresh, `length` bytes long at once: bands written into a string that grows would
    /// copy it again and again. What an earlier attempt wrote and placed is deleted.
    /// - Parameters:
    ///   - id: the job.
    ///   - length: where the last band ends.
    public func reserveWritten(_ id: String, length: Int) throws(RedisError) {
        precondition(length > 0, "a result has bytes")
        let keys = JobKeys(id)
        _ = try checked(connection.pipeline([
            ["DEL", .text(keys.written), .text(keys.placed)],
            ["SETRANGE", .text(keys.written), .int(length - 1), .bytes([0])],
        ]))
    }

    /// Writes a band of a job's result where it belongs, then records it
    /// placed: Redis loses recent writes in order (a crash, an older
    /// replica), so a band recorded placed is there.
    /// - Parameters:
    ///   - id: the job.
    ///   - y: the band's first row.
    ///   - offset: where it starts in the result.
    ///   - bytes: the band as it stands in the result.
    public func placeBand(_ id: String, y: Int, at offset: Int, _ bytes: [UInt8]) throws(RedisError) {
        let keys = JobKeys(id)
        _ = try checked(connection.pipeline([
            ["SETRANGE", .text(keys.written), .int(offset), .bytes(bytes)],
            ["HSET", .text(keys.placed), .int(y), .int(bytes.count)],
        ]))
    }

    /// Marks the job done with the result its ranks wrote in place
    /// (``placeBand(_:y:at:_:)``) between `head` and `tail`. Throws (a
    /// script error, and nothing changes) when a band is not placed.
    /// - Parameters:
    ///   - id: the job.
    ///   - head: what comes before the bands.
    ///   - bandRows: the bands' first rows, in order.
    ///   - tail: what comes after them (not empty).
    ///   - world: ranks in the world (whose queues are deleted).
    ///   - fields: job fields to set with it (timings, sizes).
    public func finish(id: String, head: [UInt8], bandRows: [Int], tail: [UInt8], world: Int,
                       fields: [String: String] = [:]) throws(RedisError) {
        precondition(!bandRows.isEmpty && !tail.isEmpty, "a result written in place needs bands and a tail")
        let rows = bandRows.map(String.init).joined(separator: ",")
        _ = try runner.run("finish", keys: Self.finishKeys(id, world: world), args: Self.finishArguments(head, rows, tail, fields: fields))
    }

    static func finishKeys(_ id: String, world: Int) -> [RedisArgument] {
        let keys = JobKeys(id)
        return [.text(keys.job), .text(keys.result), .text(keys.written), .text(keys.placed)] + keys.working + keys.queues(world)
    }

    static func finishArguments(_ result: [UInt8], _ rows: String = "", _ tail: [UInt8] = [],
                                fields: [String: String]) -> [RedisArgument] {
        var args: [RedisArgument] = [Self.now, .bytes(result), .text(rows), .bytes(tail)]
        for (k, v) in fields.sorted(by: { $0.key < $1.key }) { args += [.text(k), .text(v)] }
        return args
    }

    /// Marks the job failed (`fail.lua`); its working keys are deleted.
    /// - Parameters:
    ///   - id: the job.
    ///   - reason: why, as users will read it.
    ///   - world: ranks in the world (whose queues are deleted).
    public func fail(id: String, reason: String, world: Int) throws(RedisError) {
        let keys = JobKeys(id)
        _ = try runner.run("fail", keys: [.text(keys.job)] + keys.working + keys.queues(world),
                           args: [Self.now, .text(reason)])
    }
}
