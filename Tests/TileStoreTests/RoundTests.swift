import Foundation
import ImageCore
import Testing
import TestSupport
import TileStore

@Suite("Rounds of whole jobs, restarts and events")
struct RoundTests {
    /// Each rank takes its own jobs first, then steals from the longest other list;
    /// every job once; an open round says "wait" when empty, a closed one "over".
    @Test func ranksTakeTheirOwnJobsThenSteal() throws {
        let store = try makeStore()
        let consumer = "round-test-\(UUID().uuidString)"
        let jobs = (0..<7).map { "job\($0)" }
        try store.openRound(jobs, consumer: consumer, world: 3)
        // Blocks: rank 0 job0-2, rank 1 job3-4, rank 2 job5-6.
        #expect(try store.take(consumer: consumer, rank: 1, world: 3) == .job(id: "job3", from: 1))
        #expect(try store.take(consumer: consumer, rank: 1, world: 3) == .job(id: "job4", from: 1))
        #expect(try store.take(consumer: consumer, rank: 1, world: 3) == .job(id: "job2", from: 0), "stolen from the tail of the longest")
        var taken = ["job3", "job4", "job2"]
        while case let .job(id, _) = try store.take(consumer: consumer, rank: 2, world: 3) { taken.append(id) }
        #expect(taken.sorted() == jobs)
        #expect(try store.take(consumer: consumer, rank: 0, world: 3) == .wait, "empty but open")
        // Jobs added while open go to the shortest list.
        try store.addToRound(["late"], consumer: consumer, world: 3)
        #expect(try store.take(consumer: consumer, rank: 2, world: 3) == .job(id: "late", from: 0))
        try store.closeRound(consumer: consumer)
        #expect(try store.take(consumer: consumer, rank: 0, world: 3) == .over)
        // A new round replaces the last.
        try store.openRound(["x"], consumer: consumer, world: 3)
        #expect(try store.take(consumer: consumer, rank: 2, world: 3) == .job(id: "x", from: 0))
    }

    @Test func beginCountsAttemptsAndGivesUp() throws {
        let store = try makeStore()
        let id = try submitFake(store, tiles: 1)
        func begin(_ reason: String) throws -> TileStore.DealResult {
            try store.begin([(id, reason)], world: 2, maxAttempts: 2)[0]
        }
        #expect(try begin("start") == .running(attempt: 1, dealt: 1))
        try store.complete(id: id, rank: 1, outputs: [(0, [])])
        #expect(try store.tileRanks(id, completed: true) == [0: 1])
        #expect(try begin("rank 1 was killed") == .running(attempt: 2, dealt: 1))
        #expect(try store.job(id)?.tilesDone == 0, "a restart starts progress again")
        #expect(try store.tileRanks(id, completed: true).isEmpty)
        guard case let .failed(reason) = try begin("rank 1 was killed") else {
            Issue.record("a third attempt was started")
            return
        }
        #expect(reason.contains("gave up after 2 attempts") && reason.contains("rank 1 was killed"))
        #expect(throws: RedisError.self) { try begin("again") }
    }

    /// Without stored outputs a restart deals every tile again and progress starts over.
    @Test func aRestartWithoutStoredOutputsRedoesEveryTile() throws {
        let store = try makeStore()
        let id = try submitFake(store, tiles: 10)
        _ = try store.deal(id: id, world: 2, maxAttempts: 3, reason: "start")
        let tiles = try store.claim(id: id, rank: 0, count: 4)
        try store.complete(id: id, rank: 0, outputs: tiles.prefix(3).map { ($0.index, []) })
        try store.complete(id: id, rank: 0, outputs: [(tiles[3].index, [7])])
        #expect(try store.job(id)?.tilesDone == 4)
        #expect(try store.deal(id: id, world: 2, maxAttempts: 3, reason: "crash") == .running(attempt: 2, dealt: 9))
        #expect(try store.job(id)?.tilesDone == 1, "only the stored output still counts")
        #expect(try store.tileRanks(id, completed: true) == [tiles[3].index: 0])
        // Tiles lost in transit are dealt alone, without counting an attempt.
        #expect(try store.deal(id: id, world: 2, maxAttempts: 3, reason: "lost", counted: false, only: [5, 6])
                == .running(attempt: 2, dealt: 2))
        #expect(try store.dealtTiles(id, rank: 0) == [5] && store.dealtTiles(id, rank: 1) == [6])
    }

    /// Several entries at once: own unacknowledged ones first, then new ones.
    @Test func nextJobsReturnsSeveral() throws {
        let store = try makeStore(db: 8)
        try store.flushDatabase()
        let ids = try (0..<5).map { _ in try submitFake(store, tiles: 1) }
        let first = try store.nextJobs(consumer: "c", minIdle: 60, count: 2)
        #expect(first.map(\.jobID) == Array(ids[0..<2]) && first.allSatisfy { !$0.reclaimed })
        let second = try store.nextJobs(consumer: "c", minIdle: 60, count: 4)
        #expect(second.map(\.jobID) == Array(ids[0..<4]))
        #expect(second.map(\.reclaimed) == [true, true, false, false], "the two left unacknowledged come back first")
        for entry in second { try store.acknowledge(entry) }
        #expect(try store.nextJobs(consumer: "c", minIdle: 60, count: 4).map(\.jobID) == [ids[4]])
    }

    /// An idle consumer waiting on the queue wakes when a job is queued, not after its timeout.
    @Test func waitingForJobsEndsWhenOneIsQueued() throws {
        let store = try makeStore(db: 28)
        try store.flushDatabase()
        _ = try store.nextJobs(consumer: "w", minIdle: 60)
        #expect(try store.waitForJobs(consumer: "w", seconds: 0.05) == false)
        let submitted = Locked<String?>(nil)
        Thread {
            Thread.sleep(forTimeInterval: 0.2)
            submitted.with { $0 = try? submitFake(makeStore(db: 28), tiles: 1) }
        }.start()
        let start = Date()
        #expect(try store.waitForJobs(consumer: "w", seconds: 30) == true)
        #expect(Date().timeIntervalSince(start) < 20, "woken by the job, not by the 30 s timeout")
        #expect(try store.nextJobs(consumer: "w", minIdle: 60).first?.jobID == submitted.with { $0 })
    }

    /// Every change of a job's state or progress is published, so watchers need not poll.
    @Test func stateChangesArePublished() throws {
        let store = try makeStore()
        let subscription = RedisSubscription(url: try RedisURL(sharedRedisURL), channels: [JobKeys.events])
        defer { subscription.close() }
        #expect(try subscription.receive() == .subscribed)
        let id = try submitFake(store, tiles: 2)
        _ = try store.deal(id: id, world: 1, maxAttempts: 3, reason: "start")
        let tiles = try store.claim(id: id, rank: 0, count: 2)
        try store.complete(id: id, rank: 0, outputs: tiles.map { ($0.index, []) })
        try store.finish(id: id, result: [1], world: 1)
        var seen: [String] = []
        while seen.count < 3 {
            guard case let .message(channel, payload) = try subscription.receive() else { continue }
            #expect(channel == JobKeys.events)
            let text = String(decoding: payload, as: UTF8.self)
            if text == id { seen.append(text) }
        }
        #expect(seen == [id, id, id], "deal, complete and finish each announce the job")
    }
}
