import Foundation
import ImageCore
import Testing
import TestSupport
import TileStore

@Suite("Job life cycle")
struct LifecycleTests {
    @Test func requeueAfterACrashDealsOnlyUnfinishedTiles() throws {
        let store = try makeStore()
        let id = try submitFake(store, tiles: 100)
        #expect(try store.deal(id: id, world: 2, maxAttempts: 3, reason: "start") == .running(attempt: 1, dealt: 100))
        let a = try store.claim(id: id, rank: 0, count: 10)
        try store.complete(id: id, rank: 0, outputs: a.prefix(6).map { ($0.index, [9]) })
        let b = try store.claim(id: id, rank: 1, count: 5)
        try store.complete(id: id, rank: 1, outputs: b.map { ($0.index, [8]) })
        // The world dies here: 4 tiles claimed but never completed.
        let result = try store.deal(id: id, world: 3, maxAttempts: 3, reason: "rank 1 on host-b exited")
        #expect(result == .running(attempt: 2, dealt: 89))
        var dealt: [Int] = []
        for rank in 0..<3 {
            while true {
                let tiles = try store.claim(id: id, rank: rank, count: 50)
                if tiles.isEmpty { break }
                dealt += tiles.map(\.index)
            }
        }
        let completed = Set(a.prefix(6).map(\.index) + b.map(\.index))
        #expect(Set(dealt).isDisjoint(with: completed), "completed tiles do not run again")
        #expect(Set(dealt).union(completed) == Set(0..<100), "nothing is lost")
        #expect(a.suffix(4).allSatisfy { dealt.contains($0.index) }, "claimed but unfinished tiles come back")
        let job = try #require(try store.job(id))
        #expect(job.attempts == 2 && job.world == 3)
        #expect(job.fields["last_interruption"] == "rank 1 on host-b exited")
    }

    @Test func aJobThatKeepsCrashingIsFailedWithItsReason() throws {
        let store = try makeStore()
        let id = try submitFake(store, tiles: 8)
        for attempt in 1...3 {
            #expect(try store.deal(id: id, world: 2, maxAttempts: 3, reason: "worker crashed (signal 9)")
                    == .running(attempt: attempt, dealt: 8))
        }
        guard case let .failed(reason) = try store.deal(id: id, world: 2, maxAttempts: 3, reason: "worker crashed (signal 9)") else {
            Issue.record("a fourth attempt was dealt")
            return
        }
        #expect(reason.contains("gave up after 3 attempts") && reason.contains("signal 9"))
        let job = try #require(try store.job(id))
        #expect(job.status == .failed && job.error == reason)
        #expect(throws: RedisError.self) { try store.deal(id: id, world: 2, maxAttempts: 3, reason: "again") }
    }

    @Test func finishStoresTheResultAndDeletesTheTiles() throws {
        let store = try makeStore()
        let id = try submitFake(store, tiles: 6)
        _ = try store.deal(id: id, world: 2, maxAttempts: 3, reason: "start")
        let tiles = try store.claim(id: id, rank: 0, count: 6)
        try store.complete(id: id, rank: 0, outputs: tiles.map { ($0.index, [1]) })
        try store.finish(id: id, result: [137, 80, 78, 71, 0, 0], world: 2, fields: ["output_bytes": "6"])
        let keys = JobKeys(id)
        for key in [keys.tiles, keys.out, keys.owner, keys.source, keys.stats, keys.input, keys.queue(0), keys.queue(1)] {
            #expect(try !store.exists(key), "\(key) is deleted")
        }
        #expect(try store.result(id) == [137, 80, 78, 71, 0, 0])
        #expect(try store.job(id)?.status == .done)
        #expect(try store.tileRanks(id, completed: true).count == tiles.count, "the tile map is kept")
        try store.finish(id: id, result: [0], world: 2)
        #expect(try store.result(id) == [137, 80, 78, 71, 0, 0], "finishing twice changes nothing")
    }

    /// Ranks write their bands into the result in any order; finish adds the
    /// head and tail. A band not placed in this attempt (an earlier one's is
    /// deleted), or one Redis lost (recorded placed only after it is written),
    /// stops the finish, which changes nothing.
    @Test func aResultWrittenInPlaceIsJoinedAndALostBandStopsIt() throws {
        let store = try makeStore()
        let id = try submitFake(store, tiles: 4)
        _ = try store.deal(id: id, world: 2, maxAttempts: 3, reason: "start")
        let head: [UInt8] = [0xFF, 0xD8, 1, 2], tail: [UInt8] = [0xFF, 0xD9]
        let bands: [(y: Int, bytes: [UInt8])] = [(0, Array(repeating: 7, count: 300_000)), (16, [0, 0, 3]),
                                                 (32, (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 13) })]
        var offsets: [Int] = [], end = head.count
        for band in bands {
            offsets.append(end)
            end += band.bytes.count
        }
        // An earlier attempt placed the middle band (other bytes): a new attempt starts afresh.
        try store.placeBand(id, y: 16, at: offsets[1], [9, 9, 9])
        try store.reserveWritten(id, length: end)
        for k in [2, 0] { try store.placeBand(id, y: bands[k].y, at: offsets[k], bands[k].bytes) }
        func finishFails() throws {
            let error = #expect(throws: RedisError.self) {
                try store.finish(id: id, head: head, bandRows: bands.map(\.y), tail: tail, world: 2)
            }
            #expect(error?.message.contains("NOBAND") == true, "\(String(describing: error))")
            #expect(try store.job(id)?.status == .running && store.result(id) == nil && store.exists(JobKeys(id).written))
        }
        try finishFails()

        // Placed, then its record lost: not finished either.
        try store.placeBand(id, y: 16, at: offsets[1], bands[1].bytes)
        try store.deleteField(JobKeys(id).placed, "16")
        try finishFails()

        try store.placeBand(id, y: 16, at: offsets[1], bands[1].bytes)
        try store.finish(id: id, head: head, bandRows: bands.map(\.y), tail: tail, world: 2, fields: ["output_bytes": "1"])
        #expect(try store.result(id) == head + bands.flatMap(\.bytes) + tail)
        #expect(try store.job(id)?.status == .done)
        #expect(try !store.exists(JobKeys(id).written) && !store.exists(JobKeys(id).placed))
    }

    @Test func largeOriginalsReadBackWhole() throws {
        let store = try makeStore()
        // Pieces of 1 MiB, and a last one that is short; every byte value, NULs included.
        let source = (0..<(2 * 1_048_576 + 12_345)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        let id = TileStore.newJobID()
        try store.submit(id: id, fields: ["ops": "invert", "stages": "1"], tiles: fakeTiles(1), source: source)
        #expect(try store.source(id) == source)
        let (job, again) = try store.jobAndSource(id)
        #expect(job?.id == id && again == source)
        try store.delete(JobKeys(id).source)
        #expect(try store.source(id) == nil && store.jobAndSource(id).1 == nil, "a deleted original is missing, not empty")
    }

    @Test func anOriginalStagedInPartsIsPublishedOnlyWhenWhole() throws {
        let store = try makeStore()
        let source = (0..<1_500_000).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ $0 >> 9) }
        let id = TileStore.newJobID(), key = JobKeys(id).source
        #expect(try store.stageSource(id: id, Array(source[..<700_000])) == 700_000)
        #expect((1...3600).contains(try store.secondsToLive(key)), "unpublished, it expires")
        let fields = ["ops": "invert", "stages": "1", "source_bytes": String(source.count)]
        // Published with a part missing: refused, and nothing is queued.
        let short = #expect(throws: RedisError.self) { try store.submit(id: id, fields: fields, tiles: fakeTiles(2), source: nil) }
        #expect(short?.code == .sourceMissing && short?.message.contains("700000 bytes") == true, "\(String(describing: short))")
        #expect(try store.job(id) == nil)
        #expect(try store.stageSource(id: id, Array(source[700_000...])) == source.count)
        try store.submit(id: id, fields: fields, tiles: fakeTiles(2), source: nil)
        #expect(try store.source(id) == source && store.job(id)?.status == .queued)
        #expect(try store.secondsToLive(key) == -1, "published, it stays until the job ends")
        // A refused upload's staged original is deleted.
        let other = TileStore.newJobID()
        try store.stageSource(id: other, [1, 2, 3])
        try store.dropStagedSource(id: other)
        #expect(try store.source(other) == nil)
    }

    @Test func heartbeatsAreWrittenReadAndDropped() throws {
        let store = try makeStore(db: 14)
        try store.delete(JobKeys.workers)
        let now = Int(Date().timeIntervalSince1970 * 1000)
        var fresh = WorkerHeartbeat(rank: 1, world: 2, worldID: "w1", host: "node-a", pid: 4242, epoch: 1, lastSeen: now, job: "abc")
        fresh.mpiBytes = 123_456
        let old = WorkerHeartbeat(rank: 0, world: 2, worldID: "", host: "node-b", pid: 7, epoch: 1, lastSeen: now - 90_000, job: "")
        try store.beat(fresh, consumer: "workers@node-a")
        try store.beat(old, consumer: "workers@node-b")
        try store.setField(JobKeys.workers, "junk", "not a heartbeat")
        #expect(try store.heartbeats() == ["node-a:4242": fresh, "node-b:7": old], "unreadable entries are left out")
        #expect(old.worldID == "-" && WorkerHeartbeat(text: old.text) == old && WorkerHeartbeat(text: fresh.text)?.mpiBytes == 123_456)
        try store.dropHeartbeats(silentFor: 60, now: now)
        #expect(try store.heartbeats() == ["node-a:4242": fresh])
        try store.delete(JobKeys.workers)
    }

    @Test func submitIsAllOrNothing() throws {
        let store = try makeStore()
        let id = try submitFake(store, tiles: 3)
        // The same id again is refused and the first job is untouched.
        let again = #expect(throws: RedisError.self) {
            try store.submit(id: id, fields: ["ops": "invert"], tiles: fakeTiles(3), source: [])
        }
        #expect(again?.code == .jobExists)
        #expect(try store.job(id)?.status == .queued)
    }

    @Test func scriptErrorsHaveTheirOwnCodes() throws {
        let store = try makeStore()
        let none = #expect(throws: RedisError.self) { try store.deal(id: TileStore.newJobID(), world: 1, maxAttempts: 3, reason: "start") }
        #expect(none?.code == .noSuchJob)
        // A stage whose tile stream was cut short (a crash while writing it).
        let id = try submitFake(store, tiles: 4)
        try store.trimStream(JobKeys(id).tiles, to: 2)
        let short = #expect(throws: RedisError.self) { try store.deal(id: id, world: 1, maxAttempts: 3, reason: "start") }
        #expect(short?.code == .tilesMissing && short?.message.hasPrefix("deal.lua: TILES") == true)
    }

    @Test func advanceStartsTheNextStageWithFreshTiles() throws {
        let store = try makeStore()
        let id = try submitFake(store, tiles: 4)
        _ = try store.deal(id: id, world: 1, maxAttempts: 3, reason: "start")
        let tiles = try store.claim(id: id, rank: 0, count: 4)
        try store.complete(id: id, rank: 0, outputs: tiles.map { ($0.index, [1]) })
        try store.advance(id: id, stage: 1, tiles: fakeTiles(7), world: 1)
        #expect(try store.job(id)?.stage == 1)
        #expect(try store.job(id)?.tilesDone == 0)
        #expect(try store.deal(id: id, world: 1, maxAttempts: 3, reason: "stage 1") == .running(attempt: 2, dealt: 7))
    }
}

@Suite("Redis connection")
struct ConnectionTests {
    @Test func aRedisThatIsDownGivesATypedErrorQuickly() throws {
        let start = Date()
        let closed = ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        let error = #expect(throws: RedisError.self) { try TileStore(url: RedisURL(host: "127.0.0.1", port: closed.port)) }
        #expect(error?.code == .connectionRefused)
        #expect(Date().timeIntervalSince(start) < 6)
    }

    @Test func passwords() throws {
        let server = try RedisTestServer(password: "s3cret")
        let wrong = #expect(throws: RedisError.self) {
            try TileStore(url: RedisURL("redis://:nope@127.0.0.1:\(server.port)/0"))
        }
        #expect(wrong?.code == .authFailed)
        let none = try TileStore(url: RedisURL("redis://127.0.0.1:\(server.port)/0"))
        let refused = #expect(throws: RedisError.self) { try none.job("x") }
        #expect(refused?.code == .authFailed)
        let right = try TileStore(url: RedisURL(server.url))
        #expect(try right.job("x") == nil)
    }

    @Test func urls() throws {
        let u = try RedisURL("redis://user:pw@10.0.0.5:7000/3")
        #expect(u.host == "10.0.0.5" && u.port == 7000 && u.database == 3 && u.user == "user" && u.password == "pw")
        #expect(u.description == "redis://user:***@10.0.0.5:7000/3")
        #expect(try RedisURL("redis://localhost") == RedisURL(host: "localhost"))
        for bad in ["http://x", "redis://", "redis://h:99999", "redis://h/x"] {
            #expect(throws: RedisError.self, "\(bad)") { try RedisURL(bad) }
        }
        #expect(try RedisURL("redis://secret@h") == RedisURL(host: "h", password: "secret"), "a password alone")
        #expect(try RedisURL("redis://:secret@h") == RedisURL(host: "h", password: "secret"))
        // Escaped credentials, and the full URL handed to child processes parses back the same.
        let odd = try RedisURL("redis://us%40er:p%3A%2F%40x@h:1/2")
        #expect(odd.user == "us@er" && odd.password == "p:/@x")
        #expect(try RedisURL(odd.full) == odd && !odd.description.contains("p:/@x"))
        // A cluster by some of its nodes.
        let cluster = try RedisURL("redis+cluster://:pw@h1:7000,h2,10.0.0.3:7002/")
        #expect(cluster.isCluster && cluster.seeds.map(\.port) == [7000, 6379, 7002] && cluster.seeds[1].host == "h2")
        #expect(cluster.host == "h1" && cluster.port == 7000 && cluster.password == "pw" && cluster.database == 0)
        #expect(try RedisURL(cluster.full) == cluster && cluster.description == "redis+cluster://:***@h1:7000,h2:6379,10.0.0.3:7002/")
        for bad in ["redis+cluster://h1:7000,:7001/", "redis+cluster://h1:7000/3", "redis+cluster://h1:0"] {
            #expect(throws: RedisError.self, "\(bad)") { try RedisURL(bad) }
        }
    }

    @Test func stringsAreReadStraightFromTheSocket() throws {
        let store = try makeStore()
        let connection = try RedisConnection(url: store.url)
        let key = "imgproc:test:bulk:\(TileStore.newJobID())"
        defer { _ = try? connection.command(["DEL", .text(key)]) }
        // Sizes around the 64-byte first read (header and string in one read, or the CRLF split
        // off), and large ones; every byte value, "\r\n" inside included.
        for size in [0, 1, 2, 50, 56, 57, 58, 59, 60, 64, 65_536, 3_000_001] {
            let value = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 8) }
            try connection.command(["SET", .text(key), .bytes(value)])
            #expect(try connection.bulk(["GET", .text(key)]) == value, "\(size) bytes")
            #expect(try connection.command(["STRLEN", .text(key)]).int == size, "the connection is in step after \(size) bytes")
        }
        #expect(try connection.bulk(["GET", "imgproc:test:bulk:missing"]) == nil)
        // Not a string: hiredis reads the error, and the connection goes on.
        try connection.command(["DEL", .text(key)])
        try connection.command(["RPUSH", .text(key), "x"])
        let wrongType = #expect(throws: RedisError.self) { try connection.bulk(["GET", .text(key)]) }
        #expect(wrongType?.code == .server && wrongType?.message.hasPrefix("WRONGTYPE") == true)
        #expect(try connection.bulk(["LINDEX", .text(key), "0"]) == Array("x".utf8))
    }

    @Test func readingsHealthAndStoredResults() throws {
        let store = try makeStore()
        let pings = try store.calls(of: "ping"), bytes = try store.networkBytes()
        try TileStore.ping(store.url, timeout: 1)
        #expect(try store.calls(of: "ping") == pings + 1)
        #expect(try store.networkBytes() > bytes)
        #expect(try store.info("memory", "used_memory") > 0 && store.info("server")["redis_version"] != nil)
        let start = Date()
        let closed = ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        let down = #expect(throws: RedisError.self) { try TileStore.ping(RedisURL(host: "127.0.0.1", port: closed.port), timeout: 1) }
        #expect(down?.code == .connectionRefused && Date().timeIntervalSince(start) < 3)
        // The server keeps a result on disk: the job says so and Redis's copy goes.
        let id = try submitFake(store, tiles: 1)
        try store.finish(id: id, result: [1, 2, 3], world: 1)
        try store.markStored(id)
        #expect(try store.job(id)?.fields["stored"] == "1" && store.result(id) == nil)
    }

    /// Stateless servers: the original and the result stay in Redis after the
    /// job ends, finished or failed, until retention forgets the job.
    @Test func keptOriginalsAndResultsLastUntilRetention() throws {
        let store = try makeStore()
        let done = try submitFake(store, tiles: 1, extra: ["keep_source": "1"])
        let failed = try submitFake(store, tiles: 1, extra: ["keep_source": "1"])
        let plain = try submitFake(store, tiles: 1)
        try store.finish(id: done, result: [7, 8], world: 1)
        try store.fail(id: failed, reason: "bad", world: 1)
        try store.finish(id: plain, result: [9], world: 1)
        try store.markStored(done, keepResult: true)
        #expect(try store.source(done) == [1, 2, 3] && store.source(failed) == [1, 2, 3])
        #expect(try store.source(plain) == nil, "without keep_source the original goes with the job's working keys")
        #expect(try !store.exists(JobKeys(done).tiles) && !store.exists(JobKeys(failed).tiles))
        #expect(try store.job(done)?.isStored == true && store.result(done) == [7, 8])
        for id in [done, failed] {
            try store.forget(id)
            #expect(try store.source(id) == nil && store.result(id) == nil)
        }
    }

    @Test func theConnectionComesBackAfterRedisRestarts() throws {
        let server = try RedisTestServer()
        let store = try TileStore(url: RedisURL(server.url))
        let id = try submitFake(store, tiles: 5)
        server.stop()
        try server.start()
        // The first command after the break may report it; the next reconnects.
        _ = try? store.job(id)
        #expect(try store.job(id)?.status == .queued, "append-only file kept the job")
    }
}

@Suite("The job queue")
struct QueueTests {
    @Test func resumedReclaimedNewAndDeletedEntries() throws {
        let store = try makeStore(db: 7)
        try store.flushDatabase()
        let first = try submitFake(store, tiles: 2), second = try submitFake(store, tiles: 2)
        let a = try #require(try store.nextJob(consumer: "rank0@a", minIdle: 60))
        #expect(a.jobID == first && !a.reclaimed)
        // Asked again before acknowledging, a consumer gets its own entry back: it was interrupted.
        let again = try #require(try store.nextJob(consumer: "rank0@a", minIdle: 60))
        #expect(again.jobID == first && again.reclaimed)
        let c = try #require(try store.nextJob(consumer: "rank0@c", minIdle: 60))
        #expect(c.jobID == second && !c.reclaimed)
        #expect(try store.nextJob(consumer: "rank0@d", minIdle: 60) == nil, "nothing new, nothing idle long enough")
        // a's entry is deleted while pending; c goes silent.
        try store.deleteEntry(JobKeys.queue, a.entry)
        Thread.sleep(forTimeInterval: 0.05)
        let taken = try #require(try store.nextJob(consumer: "rank0@b", minIdle: 0.01))
        #expect(taken.jobID == second && taken.reclaimed, "the live entry is taken over, the deleted one skipped")
        #expect(try store.nextJob(consumer: "rank0@a", minIdle: 60) == nil, "the deleted entry is gone for its consumer too")
        try store.acknowledge(taken)
        #expect(try store.streamLength(JobKeys.queue) == 0)
    }
}
