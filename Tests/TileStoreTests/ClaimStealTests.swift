import Foundation
import ImageCore
import Testing
import TestSupport
import TileStore

@Suite("Claiming and stealing tiles")
struct ClaimStealTests {
    /// Every claimer claims from its own queue, steals when it is empty and
    /// stops when nothing is left anywhere; returns tile index → claimers.
    static func drain(_ id: String, world: Int, k: Int, slowRank: Int? = nil, delay: Double = 0) throws -> [Int: [Int]] {
        let claims = Locked([Int: [Int]]())
        let failure = Locked<String?>(nil)
        onThreads(world) { rank in
            do {
                let store = try makeStore()
                while true {
                    var tiles = try store.claim(id: id, rank: rank, count: k)
                    if tiles.isEmpty {
                        let stolen = try store.steal(id: id, rank: rank, world: world, count: k)
                        if stolen.victim < 0 { break }
                        tiles = stolen.tiles
                    }
                    for tile in tiles {
                        if rank == slowRank { Thread.sleep(forTimeInterval: delay) }
                        claims.with { $0[tile.index, default: []].append(rank) }
                    }
                    try store.complete(id: id, rank: rank, outputs: tiles.map { ($0.index, []) })
                }
            } catch {
                failure.with { $0 = "rank \(rank): \(error)" }
            }
        }
        if let message = failure.with({ $0 }) { throw TestServerError(message) }
        return claims.with { $0 }
    }

    @Test("2000 tiles, 8 claimers: every tile claimed exactly once", arguments: [1, 3, 8, 32])
    func exactlyOnce(k: Int) throws {
        let store = try makeStore()
        let id = try submitFake(store, tiles: 2000)
        #expect(try store.deal(id: id, world: 8, maxAttempts: 3, reason: "start") == .running(attempt: 1, dealt: 2000))
        let claims = try Self.drain(id, world: 8, k: k)
        #expect(claims.count == 2000, "claimed \(claims.count) distinct tiles")
        let twice = claims.filter { $0.value.count != 1 }
        #expect(twice.isEmpty, "claimed more than once: \(twice.keys.sorted().prefix(10))")
        let job = try #require(try store.job(id))
        #expect(job.tilesDone == 2000)
        #expect(try store.tileRanks(id, completed: true).count == 2000)
        #expect(try store.queueLengths(id, world: 8) == [Int](repeating: 0, count: 8))
    }

    @Test("a slow claimer's tail is stolen by the others")
    func slowClaimerIsRobbed() throws {
        let store = try makeStore()
        let id = try submitFake(store, tiles: 400)
        _ = try store.deal(id: id, world: 4, maxAttempts: 3, reason: "start")
        let claims = try Self.drain(id, world: 4, k: 4, slowRank: 0, delay: 0.02)
        var perRank = [Int](repeating: 0, count: 4)
        for ranks in claims.values { perRank[ranks[0]] += 1 }
        // Rank 0 was dealt tiles 0..<100; show who processed them.
        let map = (0..<100).map { String(claims[$0]?.first ?? -1) }.joined()
        print("tile -> claimer for rank 0's block: \(map)")
        #expect(claims.count == 400)
        #expect(perRank[0] < 50, "the slow rank processed \(perRank[0]) of its 100 tiles; per rank: \(perRank)")
        #expect((0..<100).filter { claims[$0]?.first != 0 }.count > 50, "most of rank 0's block went to the others")
        // Thieves take from the tail: the head of rank 0's block stays with rank 0.
        #expect(claims[0]?.first == 0)
    }

    @Test func claimsReturnTheDescriptorsAndOutputsKeepTheirNULs() throws {
        let store = try makeStore()
        let id = try submitFake(store, tiles: 20)
        _ = try store.deal(id: id, world: 2, maxAttempts: 3, reason: "start")
        let tiles = try store.claim(id: id, rank: 1, count: 5)
        #expect(tiles.map(\.index) == [10, 11, 12, 13, 14], "rank 1's block is 10..19, dealt top to bottom")
        #expect(try store.claim(id: id, rank: 0, count: 2).map(\.index) == [0, 1], "so is rank 0's")
        let expected = fakeTiles(20)
        for tile in tiles { #expect(tile == expected[tile.index]) }
        #expect(try store.streamLength(JobKeys(id).tiles) == 20)
        let output = fakeOutput(14)
        #expect(output.contains(0))
        try store.complete(id: id, rank: 1, outputs: [(14, output)])
        #expect(try store.outputs(id, of: [14, 13]) == [14: output])
        #expect(try store.storedOutputs(id) == [14])
    }

    /// A thief takes the tail of the longest queue, the tiles its owner would
    /// reach last, and gets them top to bottom, the way its decoder moves.
    @Test func thievesTakeTheTailTopToBottom() throws {
        let store = try makeStore()
        let id = try submitFake(store, tiles: 20)
        _ = try store.deal(id: id, world: 2, maxAttempts: 3, reason: "start")
        let stolen = try store.steal(id: id, rank: 0, world: 2, count: 3)
        #expect(stolen.victim == 1 && stolen.tiles.map(\.index) == [17, 18, 19])
        #expect(try store.steal(id: id, rank: 1, world: 2, count: 2).tiles.map(\.index) == [8, 9])
        #expect(try store.claim(id: id, rank: 1, count: 10).map(\.index) == Array(10...16), "the owner keeps its head")
    }

    @Test func completingTwiceCountsOnce() throws {
        let store = try makeStore()
        let id = try submitFake(store, tiles: 10)
        _ = try store.deal(id: id, world: 1, maxAttempts: 3, reason: "start")
        let tiles = try store.claim(id: id, rank: 0, count: 3)
        #expect(try store.complete(id: id, rank: 0, outputs: tiles.map { ($0.index, [1]) }) == (3, 10))
        #expect(try store.complete(id: id, rank: 0, outputs: tiles.map { ($0.index, [2]) }) == (3, 10))
        #expect(try store.outputs(id, of: [tiles[0].index])[tiles[0].index] == [1], "the first output is kept")
    }

    @Test func scriptsReloadAfterScriptFlush() throws {
        let store = try makeStore()
        let id = try submitFake(store, tiles: 4)
        _ = try store.deal(id: id, world: 1, maxAttempts: 3, reason: "start")
        #expect(try store.claim(id: id, rank: 0, count: 1).count == 1)
        try store.forgetScripts()
        #expect(try store.claim(id: id, rank: 0, count: 1).count == 1, "NOSCRIPT is answered by loading the script again")
    }
}
