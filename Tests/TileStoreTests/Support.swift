import Foundation
import ImageCore
import TestSupport
import TileStore

/// A store on the shared test Redis, in database `db` (tests that read the
/// global job queue use a database of their own).
func makeStore(db: Int = 0) throws -> TileStore {
    var url = try RedisURL(sharedRedisURL)
    url.database = db
    return try TileStore(url: url)
}

/// `count` tile descriptors of a 1-pixel-high image, each with a halo of its own.
func fakeTiles(_ count: Int) -> [StageTile] {
    (0..<count).map { i in
        StageTile(index: i, core: Rect(x: i, y: 0, width: 1, height: 1), halo: Rect(x: max(0, i - 1), y: 0, width: 3, height: 1))
    }
}

/// A tile output holding every byte value, NULs included, and spelling its index.
func fakeOutput(_ index: Int) -> [UInt8] {
    (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) } + [0, 0, UInt8(index % 256), 0]
}

/// Submits a job of `count` fake tiles and returns its id.
func submitFake(_ store: TileStore, tiles count: Int, extra: [String: String] = [:]) throws -> String {
    let id = TileStore.newJobID()
    try store.submit(id: id, fields: ["ops": "invert", "width": "\(count)", "height": "1", "channels": "1",
                                      "format": "png", "tile_size": "1", "stages": "1"].merging(extra) { $1 },
                     tiles: fakeTiles(count), source: [1, 2, 3])
    return id
}

/// Runs `body(i)` on `count` threads at once and waits for all of them.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            body(i)
            group.leave()
        }
        thread.start()
    }
    group.wait()
}
