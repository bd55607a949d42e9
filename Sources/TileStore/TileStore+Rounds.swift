/// Rounds of whole jobs: small images each run end to end by one rank.
/// Rank 0 deals a round's jobs to per-rank lists; ranks take from their own
/// list and steal from the others' (`take.lua`), as they do with tiles.
extension TileStore {
    /// Starts (or restarts) jobs that run whole (`begin.lua`, one round trip
    /// for all): counts each one's attempt, or fails it when it has used them up.
    /// - Parameters:
    ///   - jobs: job ids with why each is (re)started.
    ///   - world: ranks in the world that runs them.
    ///   - maxAttempts: attempts a job gets before it is failed.
    /// - Returns: for each job, its attempt, or why it failed.
    public func begin(_ jobs: [(id: String, reason: String)], world: Int, maxAttempts: Int) throws(RedisError) -> [DealResult] {
        let replies = try runner.runAll(jobs.map { job in
            let keys = JobKeys(job.id)
            return ("begin", [.text(keys.job), .text(keys.done)], [.int(world), Self.now, .int(maxAttempts), .text(job.reason)])
        })
        var results: [DealResult] = []
        for reply in replies {
            if case let .error(message) = reply { throw RedisError.script("begin", message) }
            guard let items = reply.array, let kind = items.first?.text else {
                throw RedisError(.protocolError, "begin.lua: unexpected reply")
            }
            results.append(kind == "failed" ? .failed(reason: items.count > 1 ? items[1].text ?? "" : "")
                           : .running(attempt: items.count > 1 ? items[1].int ?? 0 : 0, dealt: 1))
        }
        return results
    }

    /// Stores the result of a job run whole by `rank` and marks it done, in one
    /// round trip: who made it (the tile map), progress, then `finish.lua`.
    /// - Parameters:
    ///   - id: the job.
    ///   - rank: the rank that ran it.
    ///   - result: the encoded result.
    ///   - world: ranks in the world.
    ///   - fields: job fields to set with it (timings, sizes).
    public func finishWhole(id: String, rank: Int, result: [UInt8], world: Int, fields: [String: String]) throws(RedisError) {
        let keys = JobKeys(id)
        let replies = try runner.runAll([
            ("complete", [.text(keys.job), .text(keys.done), .text(keys.out)], [.int(rank), 0, ""]),
            ("finish", Self.finishKeys(id, world: world), Self.finishArguments(result, fields: fields)),
        ])
        for case let .error(message) in replies { throw RedisError(.script, message) }
    }

    /// Acknowledges several finished jobs' queue entries in one round trip.
    public func acknowledge(_ entries: [QueueEntry]) throws(RedisError) {
        guard !entries.isEmpty else { return }
        _ = try checked(connection.pipeline([["XACK", .text(JobKeys.queue), .text(JobKeys.group)] + entries.map { .text($0.entry) },
                                             ["XDEL", .text(JobKeys.queue)] + entries.map { .text($0.entry) }]))
    }

    /// Opens a round: deals `jobs` to the lists of a world of `world` ranks, in
    /// contiguous blocks (replacing any earlier round of this consumer).
    /// - Parameters:
    ///   - jobs: the round's job ids, in queue order.
    ///   - consumer: rank 0's name in the queue's group (the round's key).
    ///   - world: ranks in the world.
    public func openRound(_ jobs: [String], consumer: String, world: Int) throws(RedisError) {
        let keys = RoundKeys(consumer: consumer)
        var commands: [[RedisArgument]] = [["DEL", .text(keys.owner)] + (0..<world).map { .text(keys.queue($0)) },
                                           ["SET", .text(keys.open), "1"]]
        var at = 0
        for rank in 0..<world {
            let count = jobs.count / world + (rank < jobs.count % world ? 1 : 0)
            if count > 0 { commands.append(["RPUSH", .text(keys.queue(rank))] + jobs[at..<(at + count)].map { .text($0) }) }
            at += count
        }
        _ = try checked(connection.pipeline(commands))
    }

    /// Adds jobs to the open round, each to the shortest list.
    /// - Parameters:
    ///   - jobs: job ids queued since the round opened.
    ///   - consumer: rank 0's name in the queue's group.
    ///   - world: ranks in the world.
    public func addToRound(_ jobs: [String], consumer: String, world: Int) throws(RedisError) {
        guard !jobs.isEmpty else { return }
        let keys = RoundKeys(consumer: consumer)
        var lengths = try checked(connection.pipeline((0..<world).map { ["LLEN", .text(keys.queue($0))] })).map { $0.int ?? 0 }
        var commands: [[RedisArgument]] = []
        for job in jobs {
            let rank = lengths.indices.min { lengths[$0] < lengths[$1] }!
            lengths[rank] += 1
            commands.append(["RPUSH", .text(keys.queue(rank)), .text(job)])
        }
        _ = try checked(connection.pipeline(commands))
    }

    /// Ends the round for taking: once the lists are empty, ranks stop asking.
    public func closeRound(consumer: String) throws(RedisError) {
        try connection.command(["DEL", .text(RoundKeys(consumer: consumer).open)])
    }

    /// What `take` found.
    public enum Take: Sendable, Equatable {
        /// A job, and the rank it was dealt to.
        case job(id: String, from: Int)
        /// Nothing now, but the round is open: ask again soon.
        case wait
        /// The round is over.
        case over
    }

    /// The next job of the round for `rank`: its own first, else stolen (`take.lua`).
    /// - Parameters:
    ///   - consumer: rank 0's name in the queue's group.
    ///   - rank: the rank asking.
    ///   - world: ranks in the world (the lists it may steal from).
    public func take(consumer: String, rank: Int, world: Int) throws(RedisError) -> Take {
        let keys = RoundKeys(consumer: consumer)
        let reply = try runner.run("take", keys: [.text(keys.owner), .text(keys.open)] + (0..<world).map { .text(keys.queue($0)) },
                                   args: [.int(rank)])
        guard let items = reply.array, items.count == 2, let id = items[0].text, let from = items[1].int else { return .over }
        return id.isEmpty ? .wait : .job(id: id, from: from)
    }

    /// New job entries only (never delivered before), waiting up to `seconds`
    /// for one (XREADGROUP BLOCK; 0 does not wait): for feeding a running round.
    /// - Parameters:
    ///   - consumer: rank 0's name in the queue's group; the entries become its.
    ///   - count: most entries.
    ///   - seconds: longest wait for a first one.
    public func newJobs(consumer: String, count: Int, seconds: Double) throws(RedisError) -> [QueueEntry] {
        var args: [RedisArgument] = ["XREADGROUP", "GROUP", .text(JobKeys.group), .text(consumer), "COUNT", .int(count)]
        if seconds > 0 { args += ["BLOCK", .int(max(1, Int(seconds * 1000)))] }
        let reply: RedisReply
        do { reply = try connection.command(args + ["STREAMS", .text(JobKeys.queue), ">"]) } catch where Self.isGone(error) { return [] }
        var entries: [QueueEntry] = []
        for stream in reply.array ?? [] {
            for entry in stream.array?.last?.array ?? [] {
                guard let items = entry.array, items.count == 2, let id = items[0].text else { continue }
                let fields = items[1].fields
                if let job = fields["id"].map({ String(decoding: $0, as: UTF8.self) }) {
                    entries.append(QueueEntry(entry: id, jobID: job, reclaimed: false))
                }
            }
        }
        return entries
    }
}
