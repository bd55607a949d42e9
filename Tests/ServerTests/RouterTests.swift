import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ImageCodecs
import ImageCore
import JobEvents
import Logging
import NIOCore
import Server
import TestSupport
import TileStore
import Testing

/// A server application on the shared Redis (in its own database) and RabbitMQ.
func makeApp(token: String? = nil, maxUpload: Int = 50 * 1024 * 1024, db: Int = 30,
             configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> (some ApplicationProtocol, TemporaryDirectory, TileStore) {
    let dir = try TemporaryDirectory()
    var config = ServerConfiguration()
    var redis = try RedisURL(sharedRedisURL)
    redis.database = db
    config.redis = redis
    config.amqp = try AMQPURL(sharedAMQPURL ?? "amqp://guest:guest@127.0.0.1:5672/")
    config.uploads = dir.url.appendingPathComponent("uploads")
    config.processed = dir.url.appendingPathComponent("processed")
    config.authToken = token
    config.maxUploadBytes = maxUpload
    config.redisConnections = 2
    // These tests check what is answered, not the upload deadline (the system tests do, on a real
    // server): when the whole suite keeps both cores busy, an in-process upload can wait past 60 s.
    config.uploadTimeout = 600
    configure(&config)
    var logger = Logger(label: "test")
    logger.logLevel = .warning
    return (try buildApplication(config, logger: logger), dir, try TileStore(url: redis))
}

func png(_ w: Int = 40, _ h: Int = 30, channels: Int = 3, seed: UInt64 = 1) throws -> [UInt8] {
    try Codec.encode(testImage(width: w, height: h, channels: channels, seed: seed), as: .png)
}

func multipart(ops: String?, files: [(String, [UInt8])], fields: [(String, String)] = []) -> (ByteBuffer, String) {
    let boundary = "test-boundary-\(UUID().uuidString)"
    var body = ByteBuffer()
    for (name, value) in (ops.map { [("ops", $0)] } ?? []) + fields {
        body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n")
    }
    for (name, data) in files {
        body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: application/octet-stream\r\n\r\n")
        body.writeBytes(data)
        body.writeString("\r\n")
    }
    body.writeString("--\(boundary)--\r\n")
    return (body, "multipart/form-data; boundary=\(boundary)")
}

func json(_ buffer: ByteBuffer) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any]) ?? [:]
}

@Suite("HTTP API", .enabled(if: sharedAMQPURL != nil, "AMQP_URL is not set (make test starts RabbitMQ)"))
struct RouterTests {
    func post(_ client: some TestClientProtocol, _ body: ByteBuffer, type: String, query: String = "",
              headers extra: HTTPFields = [:]) async throws -> (HTTPResponse.Status, [String: Any]) {
        var headers = extra
        headers[.contentType] = type
        return try await client.execute(uri: "/api/jobs\(query)", method: .post, headers: headers, body: body) { r in
            (r.status, json(r.body))
        }
    }

    @Test func badInputGetsAClearError() async throws {
        let (app, dir, _) = try makeApp()
        defer { dir.remove() }
        let good = try png()
        let bomb = claimingSize(try png(1, 1), width: 50000, height: 50000)
        let cases: [(String, ByteBuffer, String, HTTPResponse.Status, String)] = [
            ("?ops=blur", ByteBuffer(string: "just some text"), "application/octet-stream", .unsupportedMediaType, "unknown_format"),
            ("?ops=blur", ByteBuffer(bytes: Array("GIF89a".utf8) + [UInt8](repeating: 1, count: 30)), "image/gif", .unsupportedMediaType, "unsupported_format"),
            ("?ops=blur", ByteBuffer(bytes: Array(good.prefix(good.count / 2))), "image/png", .badRequest, "corrupt_image"),
            ("?ops=blur", ByteBuffer(bytes: bomb), "image/png", .contentTooLarge, "too_many_pixels"),
            ("?ops=blurr", ByteBuffer(bytes: good), "image/png", .badRequest, "bad_pipeline"),
            ("?ops=resize:100", ByteBuffer(bytes: try png(2000, 1000)), "image/png", .badRequest, "bad_pipeline"),
            ("", ByteBuffer(bytes: good), "image/png", .badRequest, "bad_pipeline"),
            ("?ops=blur&tile=3", ByteBuffer(bytes: good), "image/png", .badRequest, "bad_tile"),
            ("?ops=blur", ByteBuffer(), "image/png", .badRequest, "empty_file"),
        ]
        try await app.test(.router) { client in
            for (query, body, type, status, code) in cases {
                let (s, j) = try await post(client, body, type: type, query: query)
                #expect(s == status, "\(code): got \(s) \(j)")
                #expect(j["error"] as? String == code, "\(j)")
                #expect((j["message"] as? String)?.isEmpty == false)
            }
            // Multipart: no file; one good and one bad file refuses both.
            let (noFile, type1) = multipart(ops: "blur", files: [])
            #expect(try await post(client, noFile, type: type1).1["error"] as? String == "no_file")
            let (mixed, type2) = multipart(ops: "blur", files: [("ok.png", good), ("bad.png", Array("nope".utf8))])
            let (s, j) = try await post(client, mixed, type: type2)
            #expect(s == .unsupportedMediaType)
            #expect((j["message"] as? String)?.contains("file 2 (bad.png)") == true, "\(j)")
            // A form field wins over the query, but a bad query value it overrides is still refused.
            for query in ["?dedupe=maybe", "?png_level=12", "?format=gif"] {
                let (form, type3) = multipart(ops: "blur", files: [("ok.png", good)],
                                              fields: [("dedupe", "false"), ("png_level", "3"), ("format", "png")])
                let (s3, j3) = try await post(client, form, type: type3, query: query)
                #expect(s3 == .badRequest && j3["error"] as? String == "bad_option", "\(query): \(s3) \(j3)")
            }
            // The server keeps serving.
            try await client.execute(uri: "/openapi.yaml", method: .get) { #expect($0.status == .ok) }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path("uploads")).isEmpty, "nothing refused is kept")
    }

    @Test func uploadsOverTheByteLimitAreRefused() async throws {
        let (app, dir, _) = try makeApp(maxUpload: 100_000)
        defer { dir.remove() }
        try await app.test(.router) { client in
            let (s, j) = try await post(client, ByteBuffer(bytes: [UInt8](repeating: 7, count: 150_000)), type: "image/png",
                                        query: "?ops=blur")
            #expect(s == .contentTooLarge)
            #expect(j["error"] as? String == "too_large")
            let (body, type) = multipart(ops: "blur", files: [("a.png", [UInt8](repeating: 1, count: 60_000)),
                                                              ("b.png", [UInt8](repeating: 2, count: 60_000))])
            #expect(try await post(client, body, type: type).0 == .contentTooLarge)
        }
    }

    @Test func acceptedUploadsAreStoredQueuedAndAnnounced() async throws {
        let (app, dir, store) = try makeApp()
        defer { dir.remove() }
        // A consumer of our own sees job.created.
        let seen = Locked<[String]>([])
        let listener = try EventListener(url: sharedAMQPURL!) { event in seen.with { $0.append("\(event.status):\(event.id)") } }
        defer { listener.stop() }
        let (body, type) = multipart(ops: "grayscale,canny", files: [("one.png", try png(seed: 1)), ("two.png", try png(seed: 2))])
        let accepted = Locked<[String]>([])
        let expectedSource = try png(seed: 2)
        try await app.test(.router) { client in
            let (s, j) = try await post(client, body, type: type)
            #expect(s == .accepted, "\(j)")
            let jobs = j["jobs"] as? [[String: String]] ?? []
            #expect(jobs.count == 2)
            let ids = jobs.compactMap { $0["id"] }
            accepted.with { $0 = ids }
            for job in jobs {
                #expect(job["status_url"] == "/api/jobs/\(job["id"]!)" && job["result_url"] == "/api/jobs/\(job["id"]!)/result")
            }
            try await client.execute(uri: "/api/jobs/\(ids[0])", method: .get) { r in
                let view = json(r.body)
                #expect(r.status == .ok)
                #expect(view["status"] as? String == "queued" && view["ops"] as? String == "grayscale,canny:100:200")
                #expect((view["progress"] as? [String: Int])?["total"] == 1)
            }
            try await client.execute(uri: "/api/jobs/\(ids[0])/result", method: .get) { r in
                #expect(r.status == .conflict && json(r.body)["error"] as? String == "not_ready")
            }
            try await client.execute(uri: "/api/jobs/\(ids[1])/source", method: .get) { r in
                #expect(r.status == .ok && r.headers[.contentType] == "image/png")
                #expect(r.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
                #expect(Array(r.body.readableBytesView) == expectedSource)
            }
        }
        let ids = accepted.with { $0 }
        for id in ids {
            #expect(try store.job(id)?.status == .queued)
            #expect(FileManager.default.fileExists(atPath: dir.path("uploads/\(id).png")), "the original is kept")
        }
        try waitUntil(seconds: 15) { seen.with { s in ids.allSatisfy { s.contains("queued:\($0)") } } }
    }

    /// A raw upload of 1 MiB or more is copied into Redis while it arrives;
    /// what is refused or answered by a finished job leaves nothing there (a
    /// cut-off upload: `aCutOffUploadLeavesNothingStaged`, with a real server).
    @Test func largeRawUploadsAreStagedAndNothingRefusedStays() async throws {
        let (app, dir, first) = try makeApp(db: 15)
        defer { dir.remove() }
        try first.flushDatabase()
        let url = first.url
        let noise = testImage(width: 800, height: 600, channels: 3, seed: 9)
        let big = try Codec.encode(Image(width: 800, height: 600, channels: 3, pixels: noise.pixels.map { $0 &* 151 &+ 7 }), as: .png)
        #expect(big.count > 1 << 20)
        try await app.test(.router) { client in
            let store = try TileStore(url: url)
            let sources = { () throws -> Int in try store.keys(matching: "imgproc:{*}:source").count }
            // Redis counts the APPENDs that staging sends (here the body comes in one piece).
            let appends = { () throws -> Int in try store.calls(of: "append") }
            let before = try appends()
            var headers = HTTPFields()
            headers[.contentLength] = String(big.count)
            let (s, j) = try await post(client, ByteBuffer(bytes: big), type: "image/png", query: "?ops=invert", headers: headers)
            #expect(s == .accepted, "\(j)")
            #expect(try appends() > before, "staged")
            let id = try #require((j["jobs"] as? [[String: Any]])?.first?["id"] as? String)
            #expect(try store.source(id) == big && store.job(id)?.status == .queued)
            #expect(try store.secondsToLive(JobKeys(id).source) == -1)
            // Refused after it was read (a bad pipeline is found once the body is in): its copy is deleted.
            let refused = try await post(client, ByteBuffer(bytes: big), type: "image/png", query: "?ops=blurr", headers: headers)
            #expect(refused.0 == .badRequest)
            #expect(try sources() == 1)
            // The same upload again, once the first job is done: answered by it, its copy deleted.
            try store.finish(id: id, result: [1, 2, 3], world: 1)
            let again = try await post(client, ByteBuffer(bytes: big), type: "image/png", query: "?ops=invert", headers: headers)
            #expect(again.0 == .accepted && (again.1["jobs"] as? [[String: Any]])?.first?["deduplicated"] as? Bool == true, "\(again.1)")
            #expect(try sources() == 0, "the finished job's original is gone too")
        }
    }

    @Test func unknownJobsAre404() async throws {
        let (app, dir, _) = try makeApp()
        defer { dir.remove() }
        try await app.test(.router) { client in
            for path in ["/api/jobs/0123456789abcdef0123456789abcdef", "/api/jobs/../../etc/passwd", "/api/jobs/XYZ/result",
                         "/api/jobs/0123456789abcdef0123456789abcdef/source", "/api/jobs/0123456789abcdef0123456789abcdef/events",
                         "/jobs/not-an-id"] {
                try await client.execute(uri: path, method: .get) { r in
                    #expect(r.status == .notFound, "\(path)")
                    if path.hasPrefix("/api") { #expect(json(r.body)["error"] as? String == "not_found", "\(path)") }
                }
            }
        }
    }

    @Test func theTokenGuardsTheAPI() async throws {
        let (app, dir, _) = try makeApp(token: "s3cret-token")
        defer { dir.remove() }
        try await app.test(.router) { client in
            for headers: HTTPFields in [[:], [.authorization: "Bearer wrong"], [.authorization: "s3cret-token"]] {
                try await client.execute(uri: "/api/jobs", method: .get, headers: headers) { r in
                    #expect(r.status == .unauthorized)
                    #expect(json(r.body)["error"] as? String == "unauthorized")
                }
            }
            try await client.execute(uri: "/api/jobs", method: .get, headers: [.authorization: "Bearer s3cret-token"]) {
                #expect($0.status == .ok)
            }
            let (s, _) = try await post(client, ByteBuffer(bytes: try png()), type: "image/png", query: "?ops=invert",
                                        headers: [.authorization: "Bearer s3cret-token"])
            #expect(s == .accepted)
            // Pages load without it (they ask for it when the API does).
            try await client.execute(uri: "/", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test func pagesHealthMetricsAndSpec() async throws {
        let (app, dir, _) = try makeApp()
        defer { dir.remove() }
        try await app.test(.router) { client in
            try await client.execute(uri: "/", method: .get) { r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok && r.headers[.contentType]?.hasPrefix("text/html") == true)
                for info in OperationInfo.all { #expect(html.contains(info.usage), "\(info.usage) is listed") }
                #expect(!html.contains("http://") && !html.contains("https://"), "no CDN")
            }
            try await client.execute(uri: "/jobs/0123456789abcdef0123456789abcdef", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/static/app.js", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/static/style.css", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/healthz", method: .get) { r in
                #expect(r.status == .ok, "\(String(buffer: r.body))")
                #expect(json(r.body)["redis"] as? String == "ok" && json(r.body)["rabbitmq"] as? String == "ok")
            }
            try await client.execute(uri: "/metrics", method: .get) { r in
                let text = String(buffer: r.body)
                for name in ["imgproc_jobs{status=\"queued\"}", "imgproc_tiles_processed_total", "imgproc_job_duration_seconds_bucket",
                             "imgproc_upload_bytes_total"] {
                    #expect(text.contains(name), "\(name)")
                }
            }
            try await client.execute(uri: "/openapi.yaml", method: .get) { r in
                let yaml = String(buffer: r.body)
                for path in ["/api/jobs:", "/api/jobs/{id}:", "/api/jobs/{id}/events:", "/api/jobs/{id}/result:",
                             "/api/jobs/{id}/source:", "/healthz:", "/metrics:"] {
                    #expect(yaml.contains(path), "\(path) is described")
                }
            }
        }
    }

    @Test func healthNamesWhatIsDown() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var config = ServerConfiguration()
        let down = ClosedPort()
        defer { withExtendedLifetime(down) {} }
        config.redis = RedisURL(host: "127.0.0.1", port: down.port)
        config.amqp = try AMQPURL(sharedAMQPURL!)
        config.uploads = dir.url.appendingPathComponent("u")
        config.processed = dir.url.appendingPathComponent("p")
        config.redisConnections = 1
        let app = try buildApplication(config, logger: Logger(label: "test"))
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { r in
                #expect(r.status == .serviceUnavailable)
                #expect((json(r.body)["redis"] as? String)?.contains("cannot reach Redis") == true, "\(String(buffer: r.body))")
                #expect(json(r.body)["rabbitmq"] as? String == "ok")
            }
        }
    }
}


@Suite("Limits at submission", .enabled(if: sharedAMQPURL != nil, "AMQP_URL is not set (make test starts RabbitMQ)"))
struct SubmissionLimitTests {
    /// Nothing of a refused request is kept: no key in Redis, no file on disk.
    func expectNothingStored(_ store: TileStore, _ dir: TemporaryDirectory) throws {
        #expect(try store.keyCount() == 0)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir.path("uploads"))) ?? []).isEmpty)
    }

    @Test func aJobCostingTooMuchIsRefusedNamingTheOperation() async throws {
        let (app, dir, store) = try makeApp(db: 32) { $0.limits.maxCost = 1 }
        defer { dir.remove() }
        try store.flushDatabase()
        let flat = try Codec.encode(Image(width: 2000, height: 2000, channels: 1, value: 50), as: .png)
        try await app.test(.router) { client in
            let (status, body) = try await RouterTests().post(client, ByteBuffer(bytes: flat), type: "image/png", query: "?ops=invert,median:64")
            #expect(status == .unprocessableContent && body["error"] as? String == "too_costly", "\(body)")
            #expect((body["message"] as? String ?? "").contains("median:64"), "\(body)")
        }
        try expectNothingStored(store, dir)
        try await app.test(.router) { client in
            let (status, _) = try await RouterTests().post(client, ByteBuffer(bytes: flat), type: "image/png", query: "?ops=invert")
            #expect(status == .accepted)
        }
        let id = try #require(try store.recentJobs().first)
        #expect(try store.job(id)?.fields["max_pixels"] == "100000000", "the limits travel with the job")
    }

    /// 200 files in one request: refused at the 33rd, without reading the rest.
    @Test func tooManyFilesAreRefused() async throws {
        let (app, dir, store) = try makeApp(db: 33)
        defer { dir.remove() }
        try store.flushDatabase()
        let one = try png(8, 8)
        let (body, type) = multipart(ops: "invert", files: (0..<200).map { ("f\($0).png", one) })
        try await app.test(.router) { client in
            let (status, json) = try await RouterTests().post(client, body, type: type)
            #expect(status == .contentTooLarge && json["error"] as? String == "too_many_files", "\(json)")
        }
        try expectNothingStored(store, dir)
    }

    @Test func theFilesOfARequestHaveAPixelLimitTogether() async throws {
        let (app, dir, store) = try makeApp(db: 34) { $0.maxRequestPixels = 3000 }
        defer { dir.remove() }
        try store.flushDatabase()
        let (body, type) = multipart(ops: "invert", files: (0..<3).map { ("f\($0).png", try! png(40, 30)) })
        try await app.test(.router) { client in
            let (status, json) = try await RouterTests().post(client, body, type: type)
            #expect(status == .contentTooLarge && json["error"] as? String == "too_many_pixels", "\(json)")
            #expect((json["message"] as? String ?? "").contains("at file 3"), "\(json)")
        }
        try expectNothingStored(store, dir)
    }

    /// A 600-pixel halo around 16-pixel tiles: the tiles grow until each reads
    /// at most 4 times what it makes, instead of every pixel hundreds of times.
    @Test func tilesGrowWhenTheirHaloWouldDwarfThem() async throws {
        let (app, dir, store) = try makeApp(db: 35)
        defer { dir.remove() }
        try store.flushDatabase()
        let image = try Codec.encode(Image(width: 1000, height: 1000, channels: 1, value: 7), as: .png)
        try await app.test(.router) { client in
            let (status, _) = try await RouterTests().post(client, ByteBuffer(bytes: image), type: "image/png", query: "?ops=blur:100&tile=16")
            #expect(status == .accepted)
        }
        let id = try #require(try store.recentJobs().first)
        let job = try #require(try store.job(id))
        #expect(job.tiling == .squares(1000) || job.tiling == .squares(512), "\(job.fields["tile_size"] ?? "")")
        #expect(job.tilesTotal <= 4)
    }
}
