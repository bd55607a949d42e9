import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ImageCodecs
import ImageCore
import JobEvents
import NIOCore
import Server
import TestSupport
import TileStore
import Testing

@Suite("Protection", .enabled(if: sharedAMQPURL != nil, "AMQP_URL is not set (make test starts RabbitMQ)"))
struct ProtectionTests {
    func upload(_ client: some TestClientProtocol, headers: HTTPFields = [:]) async throws -> (HTTPResponse.Status, [String: Any], HTTPFields) {
        var all = headers
        all[.contentType] = "image/png"
        let body = ByteBuffer(bytes: try png())
        return try await client.execute(uri: "/api/jobs?ops=invert", method: .post, headers: all, body: body) { r in
            (r.status, json(r.body), r.headers)
        }
    }

    func keysAndFiles(_ store: TileStore, _ dir: TemporaryDirectory) throws -> (Int, Int) {
        (try store.keyCount(),
         ((try? FileManager.default.contentsOfDirectory(atPath: dir.path("uploads"))) ?? []).count)
    }

    /// A full queue answers 429 with Retry-After, and stores nothing of the refused upload.
    @Test func aFullQueueAnswers429() async throws {
        let (app, dir, store) = try makeApp(db: 36) { $0.maxQueued = 2 }
        defer { dir.remove() }
        try store.flushDatabase()
        try await app.test(.router) { client in
            for _ in 0..<2 {
                let (status, _, _) = try await upload(client)
                #expect(status == .accepted)
            }
        }
        let before = try keysAndFiles(store, dir)
        try await app.test(.router) { client in
            let (status, body, headers) = try await upload(client)
            #expect(status == .tooManyRequests && body["error"] as? String == "busy", "\(body)")
            #expect(headers[HTTPField.Name("Retry-After")!] == "10")
        }
        #expect(try keysAndFiles(store, dir) == before, "nothing of the refused upload is stored")
    }

    @Test func aNearlyFullDiskAnswers507() async throws {
        let (app, dir, store) = try makeApp(db: 37) { $0.minFreeDisk = Int.max / 2 }
        defer { dir.remove() }
        try store.flushDatabase()
        try await app.test(.router) { client in
            let (status, body, _) = try await upload(client)
            #expect(status.code == 507 && body["error"] as? String == "insufficient_storage", "\(body)")
        }
        #expect(try keysAndFiles(store, dir) == (0, 0))
    }

    /// A page of another site cannot make a visitor's browser submit jobs;
    /// the server's own pages, tools without Origin, and allowed origins can.
    @Test func crossOriginPostsAreRefused() async throws {
        let (app, dir, store) = try makeApp(db: 38) { $0.corsOrigins = ["https://gallery.example"] }
        defer { dir.remove() }
        try store.flushDatabase()
        try await app.test(.router) { client in
            let (evil, body, _) = try await upload(client, headers: [.origin: "https://evil.example"])
            #expect(evil == .forbidden && body["error"] as? String == "cross_origin", "\(body)")
            let (plain, _, _) = try await upload(client)
            #expect(plain == .accepted, "curl sends no Origin")
            let (allowed, _, headers) = try await upload(client, headers: [.origin: "https://gallery.example"])
            #expect(allowed == .accepted && headers[.accessControlAllowOrigin] == "https://gallery.example")
            try await client.execute(uri: "/api/jobs", method: .options,
                                     headers: [.origin: "https://gallery.example", .accessControlRequestMethod: "POST"]) { r in
                #expect(r.status == .noContent && r.headers[.accessControlAllowMethods]?.contains("POST") == true)
            }
            try await client.execute(uri: "/api/jobs", method: .options, headers: [.origin: "https://evil.example"]) { r in
                #expect(r.status == .forbidden)
            }
        }
        #expect(try store.recentJobs().count == 2)
    }

    /// Pages allow scripts only from the server or with their own nonce, and cannot be framed.
    @Test func pagesCarryTheirSecurityHeaders() async throws {
        let (app, dir, _) = try makeApp(db: 39)
        defer { dir.remove() }
        try await app.test(.router) { client in
            for path in ["/", "/jobs/0123456789abcdef0123456789abcdef"] {
                try await client.execute(uri: path, method: .get) { r in
                    let policy = r.headers[.contentSecurityPolicy] ?? ""
                    let page = String(buffer: r.body)
                    let value = try #require(page.firstMatch(of: /nonce="([a-z0-9]+)"/)?.1)
                    #expect(policy.contains("script-src 'self' 'nonce-\(value)'") && policy.contains("frame-ancestors 'none'"), "\(policy)")
                    #expect(!policy.contains("unsafe-inline"))
                    #expect(r.headers[HTTPField.Name("X-Frame-Options")!] == "DENY" && r.headers[.xContentTypeOptionsName] == "nosniff")
                }
            }
        }
    }

    @Test func bearerIsMatchedInAnyCaseAndMetricsNeedTheToken() async throws {
        let (app, dir, _) = try makeApp(token: "t0ken", db: 39)
        defer { dir.remove() }
        try await app.test(.router) { client in
            for scheme in ["Bearer", "bearer", "BEARER"] {
                try await client.execute(uri: "/api/jobs", method: .get, headers: [.authorization: "\(scheme) t0ken"]) { r in
                    #expect(r.status == .ok, "\(scheme)")
                }
            }
            try await client.execute(uri: "/api/jobs", method: .get, headers: [.authorization: "Bearer t0kem"]) { r in
                #expect(r.status == .unauthorized)
            }
            try await client.execute(uri: "/metrics", method: .get) { r in #expect(r.status == .unauthorized) }
            // A refused upload is counted once, by its reason.
            try await client.execute(uri: "/api/jobs?ops=nope", method: .post,
                                     headers: [.authorization: "Bearer t0ken", .contentType: "image/png"],
                                     body: ByteBuffer(bytes: try png())) { r in #expect(r.status == .badRequest) }
            try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer t0ken"]) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("imgproc_uploads_refused_total{reason=\"bad_pipeline\"} 1\n"))
            }
        }
    }

    /// A scrape costs the same few Redis commands with 3 jobs or 300 (it read
    /// each recent job's status before, one HGET per job).
    @Test func metricsCostABoundedNumberOfRedisCalls() async throws {
        let redis = try RedisTestServer()
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var config = ServerConfiguration()
        config.redis = try RedisURL(redis.url)
        config.amqp = try AMQPURL(sharedAMQPURL!)
        config.uploads = dir.url.appendingPathComponent("uploads")
        config.processed = dir.url.appendingPathComponent("processed")
        config.redisConnections = 1
        let app = try buildApplication(config, logger: .init(label: "test"))
        let url = try RedisURL(redis.url)
        let store = try TileStore(url: url)
        var perScrape: [Int] = []
        for jobs in [3, 300] {
            for _ in 0..<(jobs - (perScrape.isEmpty ? 0 : 3)) {
                try store.submit(id: TileStore.newJobID(), fields: ["ops": "invert"], tiles: [], source: [1])
            }
            let used = Locked(0)
            try await app.test(.router) { client in
                let store = try TileStore(url: url)
                // The commands a scrape may use, and the one it used to send per job; the
                // server's background work (health checks, reconciliation) uses others.
                func commands() throws -> Int {
                    try ["hget", "xlen", "xpending"].reduce(0) { $0 + (try store.calls(of: $1)) }
                }
                _ = try await client.execute(uri: "/metrics", method: .get) { _ in }
                let before = try commands()
                try await client.execute(uri: "/metrics", method: .get) { r in
                    #expect(String(buffer: r.body).contains("imgproc_jobs{status=\"queued\"} \(jobs)"))
                }
                let after = try commands()
                used.with { $0 = after - before }
            }
            perScrape.append(used.with { $0 })
        }
        #expect(perScrape == [2, 2], "XLEN, XPENDING and HGET commands per scrape: \(perScrape)")
    }
}

extension HTTPField.Name {
    static let xContentTypeOptionsName = Self("X-Content-Type-Options")!
}
