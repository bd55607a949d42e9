import Foundation
import Logging
import TestSupport
import TileStore
import Worker

/// A world of ranks as threads of one process, for the coordinator's logic
/// without mpirun: each collective is one exchange in which every rank puts
/// its part and gets everyone's, as MPI's collectives do.
final class LocalWorld: @unchecked Sendable {
    // @unchecked: `parts`, `results`, `arrived` and `generation` are guarded by `condition`.
    let size: Int
    private let condition = NSCondition()
    private var parts: [Any?]
    private var results: [Any?] = []
    private var arrived = 0
    private var generation = 0

    init(size: Int) {
        self.size = size
        parts = Array(repeating: nil, count: size)
    }

    /// Every rank's `value`, in rank order, once every rank has given one.
    func exchange<T>(_ rank: Int, _ value: T) -> [T] {
        condition.lock()
        defer { condition.unlock() }
        let mine = generation
        parts[rank] = value
        arrived += 1
        if arrived == size {
            results = parts
            parts = Array(repeating: nil, count: size)
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == mine { condition.wait() }
        }
        return results.map { $0 as! T }
    }

    /// Rank `rank`'s view of the world.
    func link(_ rank: Int) -> some ClusterLink { Link(world: self, rank: rank) }

    /// Runs every rank of a world on `store`'s Redis, rank 0 as the
    /// coordinator, until it ends the world; returns when all have returned.
    /// - Parameter configure: settings for every rank (exitWhenIdle ends a batch).
    func run(redis: RedisURL, stop: StopRequest = StopRequest(), configure: (inout WorkerConfiguration) -> Void) throws {
        var config = WorkerConfiguration(redis: redis, consumer: "workers@test-\(UUID().uuidString.prefix(8))")
        configure(&config)
        let failures = Locked<[String]>([])
        let group = DispatchGroup()
        for rank in 0..<size {
            group.enter()
            Thread { [self, config] in
                defer { group.leave() }
                do {
                    let context = RankContext(config: config, store: try TileStore(url: redis), cluster: link(rank),
                                              heartbeat: Heartbeat(url: redis, rank: rank, world: size, worldID: "local", host: "test",
                                                                   consumer: config.consumer, logger: Logger(label: "test")),
                                              logger: Logger(label: "test.rank\(rank)"))
                    if rank == 0 {
                        try Coordinator(rank: context, wake: DispatchSemaphore(value: 0), stop: stop, events: nil).run()
                    } else {
                        try context.follow()
                    }
                } catch {
                    failures.with { $0.append("rank \(rank): \(error)") }
                }
            }.start()
        }
        group.wait()
        if let failure = failures.with({ $0.first }) { throw TestServerError(failure) }
    }

    private struct Link: ClusterLink {
        let world: LocalWorld
        let rank: Int
        var size: Int { world.size }

        func broadcast(_ bytes: [UInt8], root: Int) throws -> [UInt8] { world.exchange(rank, bytes)[root] }

        func broadcastBuffer(_ bytes: [UInt8], root: Int) throws -> UnsafeMutableRawBufferPointer {
            let sent = world.exchange(rank, bytes)[root]
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(sent.count, 1), alignment: 16)
            sent.withUnsafeBytes { buffer.copyMemory(from: $0) }
            return UnsafeMutableRawBufferPointer(rebasing: buffer[0..<sent.count])
        }

        func gatherv(_ bytes: [UInt8], root: Int) throws -> [[UInt8]] {
            let all = world.exchange(rank, bytes)
            return rank == root ? all : []
        }

        func alltoallv(_ parts: [[UInt8]]) throws -> [[UInt8]] { world.exchange(rank, parts).map { $0[rank] } }

        func allreduceSum(_ values: [UInt32]) throws -> [UInt32] {
            world.exchange(rank, values).reduce(into: [UInt32](repeating: 0, count: values.count)) { sum, part in
                for i in part.indices { sum[i] &+= part[i] }
            }
        }

        func allreduceMax(_ values: [Double]) throws -> [Double] {
            world.exchange(rank, values).reduce(into: [Double](repeating: -.infinity, count: values.count)) { most, part in
                for i in part.indices { most[i] = max(most[i], part[i]) }
            }
        }
    }
}
