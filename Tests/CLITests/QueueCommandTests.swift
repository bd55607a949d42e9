import Foundation
import ImageCodecs
import ImageCore
import Testing
import TestSupport
import TileStore

/// `imgproc enqueue`, `inspect` and `result` against a real Redis.
@Suite("imgproc enqueue, inspect, result")
struct QueueCommandTests {
    let imgproc = builtProduct("imgproc")
    let env = ["REDIS_URL": sharedRedisURL]

    func enqueue(_ dir: TemporaryDirectory, ops: String = "grayscale,blur:2") throws -> String {
        try Data(Codec.encode(testImage(width: 300, height: 200, channels: 3, seed: 3), as: .png))
            .write(to: URL(fileURLWithPath: dir.path("in.png")))
        let r = try run(imgproc, ["enqueue", dir.path("in.png"), "--ops", ops, "--tile", "64"], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func enqueueStoresTheTilesAndInspectDescribesTheJob() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let id = try enqueue(dir)
        #expect(id.count == 32 && id.allSatisfy(\.isHexDigit))
        let store = try TileStore(url: RedisURL(sharedRedisURL))
        let job = try #require(try store.job(id))
        #expect(job.status == .queued && job.tilesTotal == 20 && job.ops == "grayscale,blur:2")
        // The stored tiles are the halo rectangles of the pixels, as the engine cuts them.
        let tiles = try store.streamLength(JobKeys(id).tiles)
        #expect(tiles == 20)
        let r = try run(imgproc, ["inspect", id], environment: env)
        #expect(r.status == 0)
        #expect(r.stdout.contains("status    queued"))
        #expect(r.stdout.contains("0/20 tiles"))
        #expect(r.stdout.contains("300x200x3 png -> 300x200x1"))
    }

    @Test func resultWaitsForTheJobAndThenWritesIt() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let id = try enqueue(dir)
        let early = try run(imgproc, ["result", id, dir.path("out.png")], environment: env)
        #expect(early.status != 0)
        #expect(early.stderr.contains("is queued"), "\(early.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("out.png")))

        let store = try TileStore(url: RedisURL(sharedRedisURL))
        let png = try Codec.encode(Image(width: 3, height: 2, channels: 1, value: 9), as: .png)
        _ = try store.deal(id: id, world: 1, maxAttempts: 3, reason: "test")
        try store.finish(id: id, result: png, world: 1)
        let wrongName = try run(imgproc, ["result", id, dir.path("out.jpg")], environment: env)
        #expect(wrongName.status != 0 && wrongName.stderr.contains("the result is PNG"))
        let done = try run(imgproc, ["result", id, dir.path("out.png")], environment: env)
        #expect(done.status == 0, "\(done.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.path("out.png"))) == Data(png))
    }

    @Test func failedAndUnknownJobsAreExplained() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let id = try enqueue(dir)
        let store = try TileStore(url: RedisURL(sharedRedisURL))
        try store.fail(id: id, reason: "poison image", world: 0)
        let failed = try run(imgproc, ["result", id, dir.path("out.png")], environment: env)
        #expect(failed.status != 0 && failed.stderr.contains("failed: poison image"))
        let inspect = try run(imgproc, ["inspect", id], environment: env)
        #expect(inspect.stdout.contains("error     poison image"))
        let unknown = try run(imgproc, ["inspect", "0123456789abcdef0123456789abcdef"], environment: env)
        #expect(unknown.status != 0 && unknown.stderr.contains("no job"))
    }

    @Test func badInputIsRefusedBeforeAnythingIsStored() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // A database of its own, so that other tests' jobs do not change the count.
        var url = try RedisURL(sharedRedisURL)
        url.database = 9
        let env = ["REDIS_URL": "redis://\(url.host):\(url.port)/9"]
        let store = try TileStore(url: url)
        try store.flushDatabase()
        let r = try run(imgproc, ["enqueue", "/nonexistent.png", "--ops", "blur"], environment: env)
        #expect(r.status != 0)
        try Data(Codec.encode(testImage(width: 8, height: 8, channels: 1, seed: 1), as: .png))
            .write(to: URL(fileURLWithPath: dir.path("in.png")))
        let badOps = try run(imgproc, ["enqueue", dir.path("in.png"), "--ops", "blur:zz"], environment: env)
        #expect(badOps.status != 0 && badOps.stderr.contains("blur:zz"))
        let closed = ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        let down = try run(imgproc, ["enqueue", dir.path("in.png"), "--ops", "blur", "--redis", "redis://127.0.0.1:\(closed.port)/0"])
        #expect(down.status != 0 && down.stderr.contains("cannot reach Redis"), "\(down.stderr)")
        #expect(try store.keyCount() == 0, "nothing was stored")
    }
}

@Suite("How jobs are cut")
struct TilingChoiceTests {
    let imgproc = builtProduct("imgproc")
    let env = ["REDIS_URL": sharedRedisURL]

    func inspect(_ image: Image, _ extra: [String] = [], ops: String = "blur:2") throws -> String {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data(Codec.encode(image, as: .png)).write(to: URL(fileURLWithPath: dir.path("in.png")))
        let r = try run(imgproc, ["enqueue", dir.path("in.png"), "--ops", ops] + extra, environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        return try run(imgproc, ["inspect", r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)], environment: env).stdout
    }

    /// Small images run whole on one rank; images over 4 megapixels go in
    /// strips (taller when the halo is large; whole PNG segments for a PNG
    /// result); a tile size given is kept.
    @Test func smallImagesRunWholeLargeOnesGoInStrips() throws {
        let small = Image(width: 1999, height: 2000, channels: 1, value: 3)
        #expect(try inspect(small).contains("0/1 tiles (0%), run whole"))
        let large = Image(width: 2100, height: 2000, channels: 1, value: 3)
        #expect(try inspect(large, ["--format", "jpeg"]).contains("0/32 tiles (0%), strips of 64 rows"))
        #expect(try inspect(large, ops: "blur:20").contains("strips of 256 rows"), "a 61-row halo wants taller strips")
        // 2101 bytes a filtered row: a 256 KiB PNG segment is 128 rows.
        #expect(PNGBands.segmentRows(width: 2100, channels: 1) == 128)
        #expect(try inspect(large).contains("0/16 tiles (0%), strips of 128 rows"))
        #expect(try inspect(small, ["--tile", "500"]).contains("0/16 tiles (0%), tile size 500"))
        #expect(try inspect(small, ["--tile", "strips:100"]).contains("0/20 tiles (0%), strips of 100 rows"))
        let bad = try run(imgproc, ["enqueue", "x.png", "--ops", "blur", "--tile", "strips:8"], environment: env)
        #expect(bad.status != 0 && bad.stderr.contains("strips:16...4096"), "\(bad.stderr)")
    }
}
