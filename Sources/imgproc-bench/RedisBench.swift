import Foundation
import ImageCore
import TileStore

/// Tile store figures against the Redis named by REDIS_URL (make bench starts one).
enum RedisBench {
    static func run(url: RedisURL, image: Image) throws {
        print("\ntile store: Redis at \(url)")
        let store = try TileStore(url: url)
        let plan = try Plan(try Pipeline(parsing: "blur:3"), input: image.shape)

        // Submitting a 24 MP image: its tile descriptors (the pixels stay in the original).
        var id = ""
        let tiles = plan.stages[0].tiles(tileSize: 256)
        let submit = seconds {
            id = TileStore.newJobID()
            try? store.submit(id: id, fields: ["ops": "blur:3", "stages": "1"], tiles: tiles, source: [])
        }
        print(String(format: "submit 24 MP, 256-px tiles:  %.4f s for %d tile descriptors", submit, tiles.count))

        // Claims of tile descriptors, K at a time, by one rank.
        for k in [1, 8] {
            let tileCount = 400
            let tiles = (0..<tileCount).map {
                StageTile(index: $0, core: Rect(x: 0, y: 0, width: 256, height: 256), halo: Rect(x: 0, y: 0, width: 256, height: 256))
            }
            let job = TileStore.newJobID()
            try store.submit(id: job, fields: ["stages": "1"], tiles: tiles, source: [])
            _ = try store.deal(id: job, world: 1, maxAttempts: 3, reason: "bench")
            let before = try evalshaCalls(store)
            var claimed = 0, claims = 0
            let t = seconds {
                while let batch = try? store.claim(id: job, rank: 0, count: k), !batch.isEmpty {
                    claimed += batch.count
                    claims += 1
                }
            }
            let roundTrips = try evalshaCalls(store) - before
            print(String(format: "claim K=%d:                  %.0f claims/s, %.0f tiles/s, %.2f round trips per claim",
                         k, Double(claims) / t, Double(claimed) / t, Double(roundTrips) / Double(claims + 1)))
            try store.fail(id: job, reason: "bench done", world: 1)
        }
        try store.fail(id: id, reason: "bench done", world: 1)
    }

    /// EVALSHA calls Redis has served so far (INFO commandstats).
    static func evalshaCalls(_ store: TileStore) throws -> Int {
        try store.calls(of: "evalsha")
    }
}
