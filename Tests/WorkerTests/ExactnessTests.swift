import Foundation
import ImageCodecs
import ImageCore
import Testing
import TestSupport
import TileStore

/// Results of MPI worlds of 1, 2 and 3 ranks are byte for byte `imgproc process`:
/// tiled jobs (pixels decoded by each rank from the original, JPEG and PNG
/// encoded in bands by the ranks and joined; WebP and AVIF encoded at rank 0) and small
/// jobs run whole in rounds, mixed in one queue.
@Suite("Distributed results equal the reference", .serialized,
       .enabled(if: mpirunAvailable, "mpirun is not installed (make deps)"))
struct DistributedExactnessTests {
    /// Every operation appears; canny and clahe also in the middle of pipelines (several stages).
    static let pipelines = [
        "grayscale,invert,brightness:-30,contrast:1.4",
        "gamma:0.7,blur:2.5,sharpen:1:1.5",
        "boxblur:3,median:2,sobel",
        "canny:40:120",
        "clahe:3:4,resize:0.6",
        "resize:123x77,rotate:90,flip:v,median:1",
        "blur:1,canny,boxblur:1",
        "rotate:270,clahe,flip:h,canny:80:160",
    ]

    @Test(arguments: [1, 2, 3])
    func worldOf(ranks: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (redis, store) = try isolatedRedis(10 + ranks)
        // Odd sizes, colour and gray, PNG and JPEG sources.
        let sources: [(String, Image, ImageFormat)] = [
            ("a.png", testImage(width: 257, height: 129, channels: 3, seed: 21), .png),
            ("b.png", testImage(width: 97, height: 61, channels: 1, seed: 22), .png),
            ("c.jpg", testImage(width: 131, height: 200, channels: 3, seed: 23), .jpeg),
        ]
        var jobs: [(id: String, name: String, ops: String, format: ImageFormat)] = []
        for (k, ops) in Self.pipelines.enumerated() {
            let (name, image, format) = sources[k % sources.count]
            // Tiled, then the same job whole (no tile size: small images run whole).
            for tile in ["48", nil] {
                let id = try enqueue(image, as: format, name: name, ops: ops, tile: tile, redis: redis, dir: dir)
                jobs.append((id, name, ops, format))
            }
        }
        // A larger JPEG in small tiles: many bands, many steals; and in strips, of
        // whole 16-row bands (each encoded by the rank that made it) or not.
        let large = testImage(width: 611, height: 403, channels: 3, seed: 24)
        for (ops, tile) in [("blur:1.5,sharpen", "32"), ("median:2", "32"), ("blur:1.5,sharpen", "strips:32"),
                            ("clahe:2:4,rotate:90,sobel", "strips:48"), ("median:2", "strips:20"), ("canny,blur:1", "strips:16")] {
            jobs.append((try enqueue(large, as: .jpeg, name: "d.jpg", ops: ops, tile: tile, redis: redis, dir: dir), "d.jpg", ops, .jpeg))
        }
        // A PNG several PNG segments high: each rank filters and deflates its band, and the bands join.
        let tall = testImage(width: 1400, height: 700, channels: 3, seed: 27)
        // Strips of whole segments (64 rows here) are compressed by the rank that makes them.
        #expect(PNGBands.segmentRows(width: 1400, channels: 3) == 64)
        for (ops, tile) in [("blur:1.5,sharpen", "64"), ("median:1", "strips:40"), ("resize:0.9,rotate:90", "128"),
                            ("invert,blur:1", "strips:128")] {
            jobs.append((try enqueue(tall, as: .png, name: "g.png", ops: ops, tile: tile, redis: redis, dir: dir), "g.png", ops, .png))
        }
        // A tall image: ranks decode rows as their tiles need them and free them after, so the
        // most rows any rank holds at once is about a strip or row of tiles with its halos and the
        // decoder's margin, not the rank's band (all 3000 rows on one rank, 1000 of three).
        let slim = testImage(width: 200, height: 3000, channels: 1, seed: 28)
        var slimJobs: [String] = []
        for (ops, tile) in [("blur:1", "strips:32"), ("median:2,invert", "48")] {
            let id = try enqueue(slim, as: .png, name: "h.png", ops: ops, tile: tile, redis: redis, dir: dir)
            jobs.append((id, "h.png", ops, .png))
            slimJobs.append(id)
        }
        // WebP (with alpha) and AVIF sources, whose results are written in their own format at rank 0.
        let webp = testImage(width: 203, height: 149, channels: 4, seed: 25)
        for (ops, tile) in [("blur:1.5,sharpen", "32"), ("canny,blur:1", "strips:16"), ("rotate:90,fit:90x90", nil)] {
            jobs.append((try enqueue(webp, as: .webp, name: "e.webp", ops: ops, tile: tile, redis: redis, dir: dir), "e.webp", ops, .webp))
        }
        let avif = testImage(width: 150, height: 100, channels: 3, seed: 26)
        jobs.append((try enqueue(avif, as: .avif, name: "f.avif", ops: "median:1,invert", tile: "32", redis: redis, dir: dir), "f.avif", "median:1,invert", .avif))
        let log = try runWorld(ranks: ranks, redis: redis, dir: dir)
        for job in jobs {
            let record = try #require(try store.job(job.id))
            #expect(record.status == .done, "\(job.ops): \(record.error ?? "") \(log.suffix(500))")
            let result = try store.result(job.id)
            let expected = try reference(job.name, ops: job.ops, format: job.format, dir: dir)
            #expect(result == expected, "\(job.ops) on \(job.name) with \(ranks) ranks differs from imgproc process")
            #expect(try keys(of: job.id, store) == ["job", "done", "result"], "working keys are deleted")
            let map = try store.tileRanks(job.id, completed: true)
            #expect(map.count == record.tilesTotal && Set(map.values).isSubset(of: Set(0..<ranks)), "the tile map names a rank per tile")
            if record.runsWhole { #expect(record.tilesTotal == 1 && record.int("rank") == map[0], "a whole job records its rank") }
        }
        for id in slimJobs {
            let held = try #require(try store.job(id)?.rowsHeld)
            #expect(held > 0 && held <= 150, "a rank held \(held) decoded rows of 3000 at once")
        }
        #expect(try store.streamLength(JobKeys.queue) == 0, "queue entries are removed")

        // After clahe's histograms, each rank makes the next stage's tiles from its own rows:
        // no rank sends the image (1.2 MB raw; the PNG file is small), only its encoded band
        // and the job's small collectives: 16-230 KB here, up to 460 KB once in a loaded CI run;
        // gathered and broadcast, 1.3 MB on 2 ranks and 2.7 MB on 3.
        // Alone in its world, so that no small job sends beside it.
        let gradient = Image(width: 400, height: 3000, channels: 1) { p in
            for i in 0..<(400 * 3000) { p[i] = UInt8(truncatingIfNeeded: (i % 400) / 4 + (i / 400) / 20) }
        }
        let smooth = try enqueue(gradient, as: .png, name: "i.png", ops: "clahe:2:4,blur:1", tile: "strips:64", redis: redis, dir: dir)
        _ = try runWorld(ranks: ranks, redis: redis, dir: dir)
        let claheJob = try #require(try store.job(smooth))
        let sent = try #require(claheJob.mpiBytes)
        print("clahe job of 1.2 MB raw on \(ranks) ranks: the most a rank sent over MPI was \(sent) bytes")
        #expect(claheJob.status == .done && sent > 0 && sent < 1_000_000, "a rank sent \(sent) bytes over MPI")
        #expect(try store.result(smooth) == (try reference("i.png", ops: "clahe:2:4,blur:1", format: .png, dir: dir)))
    }
}

@Suite("Pixels go over MPI, not Redis", .serialized, .enabled(if: mpirunAvailable, "mpirun is not installed (make deps)"))
struct RedisTrafficTests {
    /// Bytes in and out of Redis while 2 ranks run a tiled JPEG job: the
    /// original read once and the result stored once, plus small descriptors;
    /// with --durable-tiles every tile's output goes through Redis too.
    @Test func aTiledJobMovesItsFileNotItsPixels() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try RedisTestServer()
        let store = try TileStore(url: RedisURL(server.url))
        let image = testImage(width: 1600, height: 1200, channels: 3, seed: 12)
        var traffic: [Bool: Int] = [:]
        var fileSize = 0
        for durable in [false, true] {
            let id = try enqueue(image, as: .jpeg, name: "t.jpg", ops: "blur:2", tile: "128", redis: server.url, dir: dir)
            fileSize = try FileManager.default.attributesOfItem(atPath: dir.path("t.jpg"))[.size] as! Int
            let before = try netBytes(store)
            _ = try runWorld(ranks: 2, redis: server.url, extra: durable ? ["--durable-tiles"] : [], dir: dir)
            traffic[durable] = try netBytes(store) - before
            #expect(try store.job(id)?.status == .done)
        }
        print("Redis traffic for a \(fileSize / 1000) KB JPEG: \(traffic[false]! / 1000) KB, with --durable-tiles \(traffic[true]! / 1000) KB")
        #expect(traffic[false]! < 3 * fileSize, "\(traffic[false]!) bytes through Redis for a \(fileSize)-byte file")
        #expect(traffic[true]! > 5 * fileSize, "stored tile outputs are pixels")
    }

    /// The ranks write the bands they encoded into the result in Redis
    /// themselves: a PNG result several times its JPEG original's size does
    /// not cross MPI to rank 0 (before, the ranks sent rank 0 their share of
    /// it), and is byte for byte `imgproc process`'s.
    @Test(arguments: [("strips:64", "png"), ("128", "png"), ("strips:64", "jpeg")])
    func theResultDoesNotCrossMPI(tile: String, format: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let server = try RedisTestServer()
        let store = try TileStore(url: RedisURL(server.url))
        let image = testImage(width: 1200, height: 900, channels: 3, seed: 31)
        let id = try enqueue(image, as: .jpeg, name: "m.jpg", ops: "invert", tile: tile, redis: server.url,
                             extra: ["--format", format], dir: dir)
        let fileSize = try FileManager.default.attributesOfItem(atPath: dir.path("m.jpg"))[.size] as! Int
        _ = try runWorld(ranks: 2, redis: server.url, dir: dir)
        let job = try #require(try store.job(id))
        let sent = try #require(job.mpiBytes), result = try #require(try store.result(id))
        print("\(format) result of \(result.count) bytes from a \(fileSize)-byte JPEG, tiles \(tile): the most a rank sent over MPI was \(sent) bytes")
        #expect(job.status == .done)
        #expect(result == (try reference("m.jpg", ops: "invert", format: format == "png" ? .png : .jpeg, dir: dir)))
        // The original is broadcast; besides it, tiles cut by square tiles go to the rank whose band
        // they lie in, a fraction of the pixels. Sending its half of the result, a rank would send more.
        #expect(sent < fileSize + result.count / 4, "a rank sent \(sent) bytes over MPI")
        if format == "png" { #expect(result.count > 5 * fileSize, "the result is larger than the original") }
        #expect(try store.keys(ofJob: id).allSatisfy { !$0.hasSuffix(":written") && !$0.hasSuffix(":placed") })
    }

    func netBytes(_ store: TileStore) throws -> Int {
        try store.networkBytes()
    }
}
