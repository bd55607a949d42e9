/// Rounds of whole jobs: small images each run end to end by one rank.
/// Rank 0 deals a round's jobs to per-rank lists; ranks take from their own
/// list and steal from the others' (`take.lua`), as they do with tiles.
extension TileStore {
    /// Starts (or restarts) a job that runs whole (`begin.lua`): counts the
    /// attempt, or fails the job when it has used them up.
    public func begin(id: String, world: Int, maxAttempts: Int, reason: String) throws(RedisError) -> DealResult {
        let keys = JobKeys(id)
        let reply = try runner.run("begin", keys: [.text(keys.job), .text(keys.done)],
                                   args: [.int(world), Self.now, .int(maxAttempts), .text(reason)])
        guard let items = reply.array, let kind = items.first?.text else {
            throw RedisError(.protocolError, "begin.lua: unexpected reply")
        }
        if kind == "failed" { return .failed(reason: items.count > 1 ? items[1].text ?? "" : "") }
        return .running(attempt: items.count > 1 ? items[1].int ?? 0 : 0, dealt: 1)
    }

    /// Deals `jobs` to the round lists of a world of `world` ranks, in
    /// contiguous blocks (replacing any earlier round of this consumer).
    public func dealRound(_ jobs: [String], consumer: String, world: Int) throws(RedisError) {
        let keys = RoundKeys(consumer: consumer)
        var commands: [[RedisArgument]] = [["DEL", .text(keys.owner)] + (0..<world).map { .text(keys.queue($0)) }]
        var at = 0
        for rank in 0..<world {
            let count = jobs.count / world + (rank < jobs.count % world ? 1 : 0)
            if count > 0 { commands.append(["RPUSH", .text(keys.queue(rank))] + jobs[at..<(at + count)].map { .text($0) }) }
            at += count
        }
        _ = try checked(connection.pipeline(commands))
    }

    /// The next job of the round for `rank`: its own first, else stolen (`take.lua`).
    /// - Returns: the job id and the rank it was dealt to, or nil when the round is empty.
    public func take(consumer: String, rank: Int, world: Int) throws(RedisError) -> (id: String, from: Int)? {
        let keys = RoundKeys(consumer: consumer)
        let reply = try runner.run("take", keys: [.text(keys.owner)] + (0..<world).map { .text(keys.queue($0)) },
                                   args: [.int(rank)])
        guard let items = reply.array, items.count == 2, let id = items[0].text, let from = items[1].int else { return nil }
        return (id, from)
    }
}
