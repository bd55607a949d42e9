import Foundation
import Logging
import TileStore

/// Keeps this rank's entry in `imgproc:workers` fresh (host, pid, rank,
/// world, epoch, last seen, current job), from a thread of its own with a
/// connection of its own. Rank 0 also drops entries silent for a minute.
final class Heartbeat: @unchecked Sendable {
    // @unchecked: `job` is guarded by `lock`; the rest is set once in init.
    private let url: RedisURL
    private let field: String
    private let base: String
    private let prune: Bool
    private let lock = NSLock()
    private var job = ""
    private var entries: [String] = []
    private let consumer: String
    private let logger: Logger

    init(url: RedisURL, rank: Int, world: Int, worldID: String, host: String, consumer: String, logger: Logger) {
        self.url = url
        self.consumer = consumer
        let pid = getpid()
        field = "\(host):\(pid)"
        base = "rank=\(rank) world=\(world) id=\(worldID.isEmpty ? "-" : worldID) host=\(host) pid=\(pid) "
            + "epoch=\(Int(Date().timeIntervalSince1970))"
        prune = rank == 0
        self.logger = logger
    }

    /// The job this rank works on.
    func setJob(_ id: String) {
        lock.withLock { job = id }
    }

    /// Rank 0: the queue entries it holds, kept fresh so that no other world
    /// takes those jobs over while this one runs them.
    func setEntries(_ entries: [String]) {
        lock.withLock { self.entries = entries }
    }

    func addEntries(_ entries: [String]) {
        lock.withLock { self.entries += entries }
    }

    func start(every interval: Double = 2) {
        let thread = Thread { [self] in
            var connection: RedisConnection?
            while true {
                do {
                    if connection == nil { connection = try RedisConnection(url: url) }
                    let (current, held) = lock.withLock { (job, entries) }
                    if !held.isEmpty {
                        try connection!.command(["XCLAIM", .text(JobKeys.queue), .text(JobKeys.group), .text(consumer), "0"]
                                                + held.map { .text($0) } + ["JUSTID"])
                    }
                    let now = Int(Date().timeIntervalSince1970 * 1000)
                    try connection!.command(["HSET", .text(JobKeys.workers), .text(field),
                                             .text("\(base) last_seen=\(now) job=\(current)")])
                    if prune { try pruneStale(connection!, now: now) }
                } catch {
                    connection = nil
                }
                Thread.sleep(forTimeInterval: interval)
            }
        }
        thread.start()
    }

    private func pruneStale(_ connection: RedisConnection, now: Int) throws {
        let entries = try connection.command(["HGETALL", .text(JobKeys.workers)]).fields
        for (field, value) in entries {
            let text = String(decoding: value, as: UTF8.self)
            guard let seen = text.split(separator: " ").first(where: { $0.hasPrefix("last_seen=") })
                    .flatMap({ Int($0.dropFirst("last_seen=".count)) }) else { continue }
            if now - seen > 60_000 { try connection.command(["HDEL", .text(JobKeys.workers), .text(field)]) }
        }
    }
}
