import Foundation
import ImageCodecs
import ImageCore
import Testing
import TestSupport
import TileStore

@Suite("Stealing and recovery", .serialized, .enabled(if: mpirunAvailable, "mpirun is not installed (make deps)"))
struct ResilienceTests {
    /// A rank slowed on purpose: with stealing the others take most of its
    /// tiles and the job is much faster than without.
    @Test func aSlowRankIsRobbed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (redis, store) = try isolatedRedis(21)
        let image = testImage(width: 240, height: 240, channels: 3, seed: 5)
        var timings: [Bool: Double] = [:]
        var perRank: [Bool: [Int: Int]] = [:]
        for stealing in [true, false] {
            let id = try enqueue(image, as: .png, name: "s.png", ops: "blur:1", tile: "24", redis: redis, dir: dir)
            // 100 tiles for 3 ranks: rank 1 gets 33, at 60 ms each on purpose.
            _ = try runWorld(ranks: 3, redis: redis, extra: stealing ? [] : ["--no-steal"],
                             environment: ["IMGPROC_TEST_TILE_DELAY_MS": "60", "IMGPROC_TEST_SLOW_RANK": "1"], dir: dir)
            let job = try #require(try store.job(id))
            #expect(job.status == .done)
            timings[stealing] = Double(job.int("t_total_ms") ?? 0) / 1000
            var counts: [Int: Int] = [:]
            for rank in try store.tileRanks(id, completed: true).values { counts[rank, default: 0] += 1 }
            perRank[stealing] = counts
            let map = try store.tileRanks(id, completed: true)
            print("stealing \(stealing): tile -> rank " + (0..<100).map { String(map[$0] ?? -1) }.joined())
            // Each rank takes its block top to bottom, so without stealing its one decoder
            // only moves down: no rank goes through more than the image's 240 rows.
            if !stealing { #expect(job.rowsRead.map { $0 > 160 && $0 <= 240 } == true, "rows_read \(job.rowsRead ?? -1)") }
        }
        print("tiles per rank with stealing \(perRank[true]!), without \(perRank[false]!); "
              + "job \(timings[true]!) s vs \(timings[false]!) s")
        #expect(perRank[false]![1] == 33, "without stealing the slow rank does its whole block")
        #expect(perRank[true]![1, default: 0] < 20, "with stealing the others take most of it")
        #expect(timings[true]! < timings[false]! * 0.7, "stealing makes the job clearly faster")
    }

    /// kill -9 of a rank mid-job: the supervisor restarts the world, the job
    /// completes with the same bytes, nothing is left behind in Redis.
    @Test func aKilledRankDoesNotLoseTheJob() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (redis, store) = try isolatedRedis(22)
        let ops = "blur:2,canny:60:140"
        let id = try enqueue(testImage(width: 320, height: 256, channels: 3, seed: 9), as: .png, name: "k.png",
                             ops: ops, tile: "32", redis: redis, dir: dir)
        let supervisor = try startSupervisor(["--redis", redis, "--exit-when-idle", "2"],
                                             environment: ["IMGPROC_TEST_TILE_DELAY_MS": "40"], dir: dir)
        defer { supervisor.stop() }
        try waitUntil(seconds: 60) { (try store.job(id)?.tilesDone ?? 0) >= 16 }
        let pid = try rankPID(1, store)
        kill(pid, SIGKILL)
        let job = try waitForJob(store, id)
        #expect(job.status == .done, "\(job.error ?? "") \(supervisor.output.suffix(1500))")
        #expect(job.attempts == 2, "the job was resumed once")
        #expect(job.fields["last_interruption"]?.contains("status 137") == true)
        #expect(try store.result(id) == reference("k.png", ops: ops, format: .png, dir: dir))
        #expect(supervisor.wait(seconds: 60) == 0)
        #expect(try keys(of: id, store) == ["job", "done", "result"])
        #expect(try store.streamLength(JobKeys.queue) == 0)
        #expect(supervisor.output.contains("restarting"))
    }

    /// SIGTERM to the supervisor mid-job: the ranks finish the job in hand
    /// (one attempt, exact), take nothing more, and everything exits 0.
    @Test func sigtermLetsTheWorkInHandFinish() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (redis, store) = try isolatedRedis(16)
        let ops = "blur:2"
        let first = try enqueue(testImage(width: 320, height: 256, channels: 3, seed: 4), as: .png, name: "t.png",
                                ops: ops, tile: "32", redis: redis, dir: dir)
        let second = try enqueue(testImage(width: 64, height: 64, channels: 3, seed: 5), as: .png, name: "u.png",
                                 ops: ops, tile: nil, redis: redis, dir: dir)
        let supervisor = try startSupervisor(["--redis", redis], environment: ["IMGPROC_TEST_TILE_DELAY_MS": "60"], dir: dir)
        defer { supervisor.stop() }
        try waitUntil(seconds: 60) { (try store.job(first)?.tilesDone ?? 0) >= 10 }
        kill(supervisor.pid, SIGTERM)
        let atSignal = try #require(try store.job(first))
        #expect(atSignal.tilesDone < atSignal.tilesTotal, "the signal came mid-job")
        #expect(supervisor.wait(seconds: 60) == 0, "\(supervisor.output.suffix(1500))")
        let job = try #require(try store.job(first))
        #expect(job.status == .done && job.attempts == 1, "finished in the attempt it was in: \(job.error ?? "")")
        #expect(try store.result(first) == reference("t.png", ops: ops, format: .png, dir: dir))
        #expect(try store.job(second)?.status == .queued, "nothing more was taken")
        #expect(try store.heartbeats().isEmpty, "the ranks took their heartbeats with them")
        #expect(supervisor.output.contains("once the work in hand is done"))
        #expect(supervisor.output.contains("stopping the world, as asked"))
    }

    /// The installed binaries are replaced (a rebuild, an upgrade) while the
    /// workers run; then a rank dies: the restarted world runs the new
    /// imgproc-worker and finishes the job.
    @Test func aRankKilledAfterAnUpgradeRestartsFromTheNewBinaries() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (redis, store) = try isolatedRedis(62)
        let bin = dir.url.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        // As a rebuild or a package upgrade does: a new file renamed over the old one.
        func install() throws {
            for name in ["imgproc", "imgproc-worker"] {
                let target = bin.appendingPathComponent(name).path
                for step in [["cp", builtProduct(name).path, target + ".new"], ["mv", "-f", target + ".new", target]] {
                    #expect(try run(URL(fileURLWithPath: "/usr/bin/env"), step).status == 0, "\(step)")
                }
            }
        }
        try install()
        let ops = "blur:1"
        let id = try enqueue(testImage(width: 256, height: 256, channels: 3, seed: 12), as: .png, name: "u.png",
                             ops: ops, tile: "32", redis: redis, dir: dir)
        let supervisor = try Background(bin.appendingPathComponent("imgproc").path, ["workers", "--np", "2", "--redis", redis,
                                                                                      "--exit-when-idle", "2"],
                                        environment: ["IMGPROC_TEST_TILE_DELAY_MS": "40",
                                                      "IMGPROC_LUA_DIR": packageRoot.appendingPathComponent("lua").path],
                                        log: dir.url.appendingPathComponent("supervisor.log"))
        defer { supervisor.stop() }
        try waitUntil(seconds: 60) { (try store.job(id)?.tilesDone ?? 0) >= 16 }
        try install()
        kill(try rankPID(1, store), SIGKILL)
        let job = try waitForJob(store, id)
        #expect(job.status == .done && job.attempts == 2, "\(job.error ?? "") \(supervisor.output.suffix(1500))")
        #expect(try store.result(id) == reference("u.png", ops: ops, format: .png, dir: dir))
    }

    /// A job that crashes the workers every time is failed after 3 attempts,
    /// and the job behind it still runs.
    @Test func aPoisonJobIsFailedAfterThreeAttempts() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (redis, store) = try isolatedRedis(23)
        let image = testImage(width: 64, height: 64, channels: 3, seed: 2)
        let poison = try enqueue(image, as: .png, name: "p.png", ops: "gamma:1.7", tile: "32", redis: redis, dir: dir)
        let next = try enqueue(image, as: .png, name: "n.png", ops: "invert", tile: "32", redis: redis, dir: dir)
        let supervisor = try startSupervisor(["--redis", redis, "--exit-when-idle", "2"],
                                             environment: ["IMGPROC_TEST_CRASH_ON_OPS": "gamma:1.7"], dir: dir)
        defer { supervisor.stop() }
        let failed = try waitForJob(store, poison, seconds: 90)
        #expect(failed.status == .failed)
        #expect(failed.error?.contains("gave up after 3 attempts") == true, "\(failed.error ?? "")")
        #expect(try waitForJob(store, next).status == .done)
        #expect(supervisor.wait(seconds: 60) == 0)
        #expect(try keys(of: poison, store).isSubset(of: ["job", "done"]), "a failed job keeps only its record and tile map")
    }

    /// A small image that crashes its rank every time shares a round with
    /// others: it is failed after 3 attempts, and its round-mates (interrupted
    /// with it, then each run alone) finish with identical results.
    @Test func aPoisonSmallImageFailsAloneWhileItsRoundMatesFinish() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (redis, store) = try isolatedRedis(27)
        var innocent: [(String, String)] = []
        let poison = try enqueue(testImage(width: 50, height: 40, channels: 3, seed: 1), as: .png, name: "p.png",
                                 ops: "gamma:1.7", tile: nil, redis: redis, dir: dir)
        for k in 0..<5 {
            let name = "i\(k).png"
            innocent.append((try enqueue(testImage(width: 50 + k, height: 40, channels: 3, seed: UInt64(k)), as: .png, name: name,
                                         ops: "invert", tile: nil, redis: redis, dir: dir), name))
        }
        let supervisor = try startSupervisor(["--redis", redis, "--exit-when-idle", "2"],
                                             environment: ["IMGPROC_TEST_CRASH_ON_OPS": "gamma:1.7"], dir: dir)
        defer { supervisor.stop() }
        let failed = try waitForJob(store, poison, seconds: 120)
        #expect(failed.status == .failed && failed.error?.contains("gave up after 3 attempts") == true, "\(failed.error ?? "")")
        for (id, name) in innocent {
            let job = try waitForJob(store, id)
            #expect(job.status == .done && job.attempts <= 2, "\(name): \(job.status?.rawValue ?? "") attempt \(job.attempts)")
            #expect(try store.result(id) == reference(name, ops: "invert", format: .png, dir: dir))
        }
        #expect(supervisor.wait(seconds: 60) == 0)
    }

    /// Redis restarted mid-job (append-only file on): the workers retry and the job completes.
    @Test func redisRestartsMidJob() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try RedisTestServer()
        let store = try TileStore(url: RedisURL(server.url))
        let ops = "clahe:2:4,blur:1"
        let id = try enqueue(testImage(width: 300, height: 200, channels: 3, seed: 4), as: .png, name: "r.png",
                             ops: ops, tile: "25", redis: server.url, dir: dir)
        let supervisor = try startSupervisor(["--redis", server.url, "--exit-when-idle", "3"],
                                             environment: ["IMGPROC_TEST_TILE_DELAY_MS": "25"], dir: dir)
        defer { supervisor.stop() }
        try waitUntil(seconds: 60) { (try? store.job(id)?.tilesDone ?? 0) ?? 0 >= 10 }
        server.stop()
        Thread.sleep(forTimeInterval: 1.5)
        try server.start()
        let job = try waitForJob(store, id)
        #expect(job.status == .done, "\(job.error ?? "") \(supervisor.output.suffix(1500))")
        #expect(try store.result(id) == reference("r.png", ops: ops, format: .png, dir: dir))
        #expect(supervisor.wait(seconds: 60) == 0)
    }

    /// The pid of a rank, from the heartbeats in `imgproc:workers`.
    func rankPID(_ rank: Int, _ store: TileStore) throws -> pid_t {
        var pid: pid_t?
        try waitUntil(seconds: 10) {
            pid = try store.heartbeats().values.first { $0.rank == rank }?.pid
            return pid != nil
        }
        return pid!
    }
}

@Suite("Small images and durable tiles", .serialized, .enabled(if: mpirunAvailable, "mpirun is not installed (make deps)"))
struct WholeJobAndDurableTests {
    /// Small images run whole, several at once: each rank takes its own share
    /// of a round, then steals; a slow rank's jobs go to the others.
    @Test func smallImagesRunWholeAndAreStolen() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (redis, store) = try isolatedRedis(24)
        var jobs: [(id: String, name: String)] = []
        for k in 0..<12 {
            let name = "w\(k).png"
            jobs.append((try enqueue(testImage(width: 60 + k, height: 40 + 2 * k, channels: 3, seed: UInt64(k)), as: .png,
                                     name: name, ops: "blur:1,invert", tile: nil, redis: redis, dir: dir), name))
        }
        // 12 jobs for 3 ranks: rank 1 is dealt 4 and takes 400 ms over each.
        _ = try runWorld(ranks: 3, redis: redis, environment: ["IMGPROC_TEST_TILE_DELAY_MS": "400", "IMGPROC_TEST_SLOW_RANK": "1"],
                         dir: dir)
        var perRank: [Int: Int] = [:]
        for job in jobs {
            let record = try #require(try store.job(job.id))
            #expect(record.status == .done && record.runsWhole && record.tilesTotal == 1)
            #expect(try store.result(job.id) == reference(job.name, ops: "blur:1,invert", format: .png, dir: dir))
            let rank = try #require(try store.tileRanks(job.id, completed: true)[0])
            perRank[rank, default: 0] += 1
        }
        print("whole jobs per rank: \(perRank)")
        #expect(perRank.values.reduce(0, +) == 12)
        #expect(perRank[1, default: 0] < 4, "the other ranks stole some of the slow rank's jobs: \(perRank)")
    }

    /// With --durable-tiles a restart after kill -9 redoes only the tiles whose
    /// outputs were not stored, and a job killed in its second stage resumes there.
    @Test(arguments: ["blur:1.5,sharpen", "clahe:2:4,blur:1"])
    func durableTilesResumeWhereTheyStopped(_ ops: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (redis, store) = try isolatedRedis(ops.hasPrefix("clahe") ? 26 : 25)
        let id = try enqueue(testImage(width: 320, height: 256, channels: 3, seed: 6), as: .png, name: "d.png",
                             ops: ops, tile: "32", redis: redis, dir: dir)
        let lastStage = ops.hasPrefix("clahe") ? 1 : 0
        let supervisor = try startSupervisor(["--redis", redis, "--durable-tiles", "--exit-when-idle", "2"],
                                             environment: ["IMGPROC_TEST_TILE_DELAY_MS": "40", "IMGPROC_LOG_LEVEL": "debug"], dir: dir)
        defer { supervisor.stop() }
        try waitUntil(seconds: 60) {
            let job = try store.job(id)
            return job?.stage == lastStage && (job?.tilesDone ?? 0) >= 24
        }
        let storedBefore = try store.storedOutputs(id).count
        kill(try ResilienceTests().rankPID(1, store), SIGKILL)
        let job = try waitForJob(store, id)
        #expect(job.status == .done && job.attempts == 2, "\(job.error ?? "") \(supervisor.output.suffix(1500))")
        #expect(try store.result(id) == reference("d.png", ops: ops, format: .png, dir: dir))
        #expect(supervisor.wait(seconds: 60) == 0)
        // After the restart, the ranks' reports for this job count only the tiles left.
        let log = supervisor.output
        let resumed = try #require(log.range(of: "resuming job"), "\(log.suffix(1500))")
        var redone = 0
        for line in log[resumed.upperBound...].split(separator: "\n") where line.contains("tiles done") && line.contains(id) {
            #expect(line.contains("stage=\(lastStage)"), "resumed at stage \(lastStage): \(line)")
            redone += Int(line.split(separator: " ").first { $0.hasPrefix("tiles=") }!.dropFirst(6))!
        }
        #expect(storedBefore >= 24 && redone <= 80 - storedBefore, "\(storedBefore) stored before the kill, \(redone) done after")
    }
}
