import Foundation
import ImageCodecs
import ImageCore
import Testing
import TestSupport
import TileStore

@Suite("Fairness, time limits and secrets", .serialized, .enabled(if: mpirunAvailable, "mpirun is not installed (make deps)"))
struct FairnessTests {
    /// A small job submitted while a large, slow one runs finishes long before
    /// it, in about its own time: ranks take it between their tile batches.
    @Test func aSmallJobFinishesWhileALargeOneRuns() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (redis, store) = try isolatedRedis(29)
        // 600 tiles at 30 ms each on 2 ranks: about 9 s.
        let large = try enqueue(testImage(width: 480, height: 320, channels: 3, seed: 1), as: .png, name: "large.png",
                                ops: "blur:1", tile: "16", redis: redis, dir: dir)
        let supervisor = try startSupervisor(["--redis", redis, "--exit-when-idle", "2"],
                                             environment: ["IMGPROC_TEST_TILE_DELAY_MS": "30"], dir: dir)
        defer { supervisor.stop() }
        try waitUntil(seconds: 60) { (try store.job(large)?.tilesDone ?? 0) >= 20 }
        let small = try enqueue(testImage(width: 60, height: 40, channels: 3, seed: 2), as: .png, name: "small.png",
                                ops: "invert", tile: nil, redis: redis, dir: dir)
        let done = try waitForJob(store, small, seconds: 60)
        let largeThen = try #require(try store.job(large))
        #expect(done.status == .done)
        #expect(largeThen.status == .running && largeThen.tilesDone < largeThen.tilesTotal,
                "the large job was still running (\(largeThen.tilesDone)/\(largeThen.tilesTotal) tiles)")
        let waited = Double((done.int("finished_at") ?? 0) - (done.int("created_at") ?? 0)) / 1000
        #expect(waited < 3, "the small job took \(waited) s from submission to result")
        #expect(try store.result(small) == reference("small.png", ops: "invert", format: .png, dir: dir))
        #expect(try waitForJob(store, large).status == .done)
        #expect(try store.result(large) == reference("large.png", ops: "blur:1", format: .png, dir: dir))
        #expect(supervisor.wait(seconds: 60) == 0)
    }

    /// A job still running after --job-timeout fails, saying so, mid-way.
    @Test func aJobOverItsTimeLimitFails() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (redis, store) = try isolatedRedis(54)
        let id = try enqueue(testImage(width: 480, height: 320, channels: 3, seed: 3), as: .png, name: "t.png",
                             ops: "blur:1", tile: "16", redis: redis, dir: dir)
        let supervisor = try startSupervisor(["--redis", redis, "--job-timeout", "2", "--exit-when-idle", "2"],
                                             environment: ["IMGPROC_TEST_TILE_DELAY_MS": "30"], dir: dir)
        defer { supervisor.stop() }
        let job = try waitForJob(store, id, seconds: 60)
        #expect(job.status == .failed && job.error == "the job ran longer than 2 s (--job-timeout)", "\(job.error ?? "")")
        #expect(job.tilesDone > 0 && job.tilesDone < job.tilesTotal, "stopped mid-way: \(job.tilesDone)/\(job.tilesTotal)")
        #expect(supervisor.wait(seconds: 60) == 0)
    }

    /// Redis's password reaches the ranks through the environment: it is on
    /// no command line (ps) and in no log.
    @Test func theRedisPasswordIsOnNoCommandLineAndInNoLog() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let password = "s3cret-\(UUID().uuidString.prefix(8))"
        let redis = try RedisTestServer(password: password)
        defer { redis.stop() }
        let store = try TileStore(url: RedisURL(redis.url))
        let supervisor = try startSupervisor([], environment: ["REDIS_URL": redis.url], dir: dir)
        defer { supervisor.stop() }
        try waitUntil(seconds: 60) { (try store.hashLength(JobKeys.workers)) >= 2 }
        var seen = 0
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(entry) != nil {
            guard let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            guard line.contains("imgproc-worker") || line.contains("mpirun") else { continue }
            seen += 1
            #expect(!line.contains(password), "a command line shows the password: \(line)")
        }
        #expect(seen >= 3, "mpirun and both ranks were looked at")
        #expect(!supervisor.output.contains(password) && supervisor.output.contains("starting 2 workers"))
    }
}
