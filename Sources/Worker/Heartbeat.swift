import Cluster
import Foundation
import Logging
import TileStore

/// Keeps this rank's entry in `imgproc:workers` fresh (host, pid, rank,
/// world, epoch, last seen, current job), from a thread of its own with a
/// connection of its own. Rank 0 also drops entries silent for a minute.
package final class Heartbeat: @unchecked Sendable {
    // @unchecked: `job` is guarded by `lock`; the rest is set once in init.
    private let url: RedisURL
    private let beat: WorkerHeartbeat
    private let prune: Bool
    private let lock = NSLock()
    private var job = ""
    private var entries: [String] = []
    private var stopped = false
    private var started = false
    private let ended = DispatchSemaphore(value: 0)
    /// Cuts the pause between beats short when stopping.
    private let woken = DispatchSemaphore(value: 0)
    private let consumer: String
    private let logger: Logger

    package init(url: RedisURL, rank: Int, world: Int, worldID: String, host: String, consumer: String, logger: Logger) {
        self.url = url
        self.consumer = consumer
        beat = WorkerHeartbeat(rank: rank, world: world, worldID: worldID, host: host, pid: getpid(),
                               epoch: Int(Date().timeIntervalSince1970), lastSeen: 0, job: "")
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

    package func start(every interval: Double = 2) {
        lock.withLock { started = true }
        let thread = Thread { [self] in
            var store: TileStore?
            defer { ended.signal() }
            while !lock.withLock({ stopped }) {
                do {
                    if store == nil { store = try TileStore(url: url) }
                    let (current, held) = lock.withLock { (job, entries) }
                    var now = beat
                    now.lastSeen = Int(Date().timeIntervalSince1970 * 1000)
                    now.job = current
                    now.mpiBytes = Cluster.bytesSent
                    try store!.beat(now, holding: held, consumer: consumer)
                    if prune { try store!.dropHeartbeats(silentFor: 60, now: now.lastSeen) }
                } catch {
                    store = nil
                }
                _ = woken.wait(timeout: .now() + interval)
            }
            // Stopped as asked: this rank is no longer there.
            try? (store ?? TileStore(url: url)).dropHeartbeat(beat)
        }
        thread.start()
    }

    /// Ends the heartbeats and removes this rank's entry (a world that stops as asked).
    func stop() {
        guard lock.withLock({ stopped = true; return started }) else { return }
        woken.signal()
        _ = ended.wait(timeout: .now() + 5)
    }
}
