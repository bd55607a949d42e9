import Foundation
import ImageCodecs
import ImageCore
import Testing
import TestSupport
import TileStore
import Worker

/// Rank 0's logic (taking jobs, dealing tiles, rounds of small jobs, stealing,
/// stopping) over a world of threads: the real TileStore and Redis, no mpirun.
@Suite("The coordinator, in one process", .serialized)
struct CoordinatorTests {
    /// A tiled job and a round of small ones on three ranks: every result is
    /// `imgproc process`'s, and the tiles were shared between the ranks.
    @Test func tiledAndSmallJobsOnThreeRanks() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (redis, store) = try isolatedRedis(18)
        let ops = "grayscale,blur:2,canny:60:140"
        let tiled = try enqueue(testImage(width: 320, height: 256, channels: 3, seed: 3), as: .png, name: "t.png",
                                ops: ops, tile: "32", redis: redis, dir: dir)
        let small = try (0..<4).map { i in
            try enqueue(testImage(width: 48, height: 40, channels: 3, seed: UInt64(10 + i)), as: .png, name: "s\(i).png",
                        ops: "invert", tile: nil, redis: redis, dir: dir)
        }
        let started = Date()
        try LocalWorld(size: 3).run(redis: try RedisURL(redis)) { $0.exitWhenIdle = 0.3 }
        let seconds = Date().timeIntervalSince(started)
        #expect(try store.job(tiled)?.status == .done)
        #expect(try store.result(tiled) == reference("t.png", ops: ops, format: .png, dir: dir))
        #expect(Set(try store.tileRanks(tiled, completed: true).values).count >= 2, "the tiles were shared")
        for (i, id) in small.enumerated() {
            #expect(try store.job(id)?.status == .done)
            #expect(try store.result(id) == reference("s\(i).png", ops: "invert", format: .png, dir: dir))
        }
        #expect(try store.queuedJobs() == 0)
        print("five jobs on a world of three threads in \(String(format: "%.2f", seconds)) s")
    }

    /// A stop asked for mid-job: the job in hand finishes, the next stays queued.
    @Test func aStopRequestLetsTheJobInHandFinish() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (redis, store) = try isolatedRedis(19)
        let first = try enqueue(testImage(width: 256, height: 256, channels: 3, seed: 6), as: .png, name: "a.png",
                                ops: "blur:1", tile: "32", redis: redis, dir: dir)
        let second = try enqueue(testImage(width: 64, height: 64, channels: 3, seed: 7), as: .png, name: "b.png",
                                 ops: "invert", tile: nil, redis: redis, dir: dir)
        let stop = StopRequest()
        let url = try RedisURL(redis)
        let atStop = Locked<(done: Int, total: Int)?>(nil)
        Thread {
            guard let watcher = try? TileStore(url: url) else { return }
            try? waitUntil(seconds: 30) { ((try? watcher.job(first)?.tilesDone) ?? 0) ?? 0 >= 8 }
            stop.request()
            if let job = try? watcher.job(first) { atStop.with { $0 = (job.tilesDone, job.tilesTotal) } }
        }.start()
        try LocalWorld(size: 2).run(redis: try RedisURL(redis), stop: stop) { $0.tileDelay = 0.02 }
        let asked = try #require(atStop.with { $0 })
        #expect(asked.done < asked.total, "the stop came mid-job (\(asked.done) of \(asked.total) tiles)")
        let job = try #require(try store.job(first))
        #expect(job.status == .done && job.attempts == 1)
        #expect(try store.result(first) == reference("a.png", ops: "blur:1", format: .png, dir: dir))
        #expect(try store.job(second)?.status == .queued, "nothing more was taken")
    }
}
