import Foundation

/// This machine's name (gethostname): in consumer names and heartbeats.
public enum ThisHost {
    public static let name: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()
}

/// A rank's entry in `imgproc:workers` (field `HOST:PID`), kept fresh by its
/// heartbeat every 2 s and read by rank 0 (to drop silent ones), the
/// supervisor (to find a stalled world) and the tools. Stored as
/// `rank=R world=N id=WORLD host=H pid=P epoch=S last_seen=MS job=ID mpi_bytes=B`.
public struct WorkerHeartbeat: Sendable, Equatable {
    public var rank: Int
    public var world: Int
    /// The world's id ("-" when it has none).
    public var worldID: String
    public var host: String
    public var pid: Int32
    /// When the rank started, in seconds since the epoch.
    public var epoch: Int
    /// Milliseconds since the epoch.
    public var lastSeen: Int
    /// The job the rank works on; "" when idle.
    public var job: String
    /// Payload bytes the rank has sent other ranks over MPI since it started.
    public var mpiBytes = 0

    /// - Parameters:
    ///   - rank: the rank.
    ///   - world: ranks in its world.
    ///   - worldID: the world's name, as its supervisor knows it.
    ///   - host: where it runs.
    ///   - pid: its process.
    ///   - epoch: when it started, seconds since the epoch.
    ///   - lastSeen: when it last beat, milliseconds since the epoch.
    ///   - job: what it works on.
    public init(rank: Int, world: Int, worldID: String, host: String, pid: Int32, epoch: Int, lastSeen: Int, job: String) {
        (self.rank, self.world, self.worldID, self.host, self.pid) = (rank, world, worldID.isEmpty ? "-" : worldID, host, pid)
        (self.epoch, self.lastSeen, self.job) = (epoch, lastSeen, job)
    }

    /// The hash field: one entry per process.
    public var field: String { "\(host):\(pid)" }

    public var text: String {
        "rank=\(rank) world=\(world) id=\(worldID) host=\(host) pid=\(pid) epoch=\(epoch) last_seen=\(lastSeen) job=\(job) mpi_bytes=\(mpiBytes)"
    }

    /// Reads `text`; nil when a part is missing or not a number.
    public init?(text: String) {
        var f: [Substring: Substring] = [:]
        for part in text.split(separator: " ") {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if kv.count == 2 { f[kv[0]] = kv[1] }
        }
        guard let rank = f["rank"].flatMap({ Int($0) }), let world = f["world"].flatMap({ Int($0) }),
              let pid = f["pid"].flatMap({ Int32($0) }), let lastSeen = f["last_seen"].flatMap({ Int($0) }),
              let host = f["host"], let id = f["id"] else { return nil }
        self.init(rank: rank, world: world, worldID: String(id), host: String(host), pid: pid,
                  epoch: f["epoch"].flatMap { Int($0) } ?? 0, lastSeen: lastSeen, job: String(f["job"] ?? ""))
        mpiBytes = f["mpi_bytes"].flatMap { Int($0) } ?? 0
    }
}

extension TileStore {
    /// Writes a rank's heartbeat; rank 0 also renews its claim on the queue
    /// entries it holds, so that no other world takes those jobs over.
    /// - Parameters:
    ///   - heartbeat: the rank's record, `lastSeen` set now.
    ///   - entries: queue entries rank 0 holds (renewed with XCLAIM).
    ///   - consumer: rank 0's name in the queue's group.
    public func beat(_ heartbeat: WorkerHeartbeat, holding entries: [String] = [], consumer: String) throws(RedisError) {
        if !entries.isEmpty {
            try connection.command(["XCLAIM", .text(JobKeys.queue), .text(JobKeys.group), .text(consumer), "0"]
                                   + entries.map { .text($0) } + ["JUSTID"])
        }
        try connection.command(["HSET", .text(JobKeys.workers), .text(heartbeat.field), .text(heartbeat.text)])
    }

    /// Every rank's heartbeat that can be read, by hash field.
    public func heartbeats() throws(RedisError) -> [String: WorkerHeartbeat] {
        try connection.command(["HGETALL", .text(JobKeys.workers)]).fields
            .compactMapValues { WorkerHeartbeat(text: String(decoding: $0, as: UTF8.self)) }
    }

    /// Drops one rank's heartbeat (the rank stopped as asked).
    public func dropHeartbeat(_ heartbeat: WorkerHeartbeat) throws(RedisError) {
        try connection.command(["HDEL", .text(JobKeys.workers), .text(heartbeat.field)])
    }

    /// Drops the heartbeats not renewed for `seconds`.
    /// - Parameters:
    ///   - seconds: silence after which a heartbeat goes.
    ///   - now: milliseconds since the epoch.
    public func dropHeartbeats(silentFor seconds: Double, now: Int = Int(Date().timeIntervalSince1970 * 1000)) throws(RedisError) {
        for (field, beat) in try heartbeats() where Double(now - beat.lastSeen) / 1000 > seconds {
            try connection.command(["HDEL", .text(JobKeys.workers), .text(field)])
        }
    }
}
