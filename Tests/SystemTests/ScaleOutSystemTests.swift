import Foundation
import Testing
import TestSupport
import TileStore

/// Two stateless servers and two worlds on one Redis (or, in make test's
/// second pass, one Redis Cluster), on this machine (README, "Scaling out";
/// `MultiHostTests/ScaleOutTests` does the same across test hosts).
@Suite("Scaling out on one machine", .serialized, .enabled(if: systemAvailable, "needs RabbitMQ (AMQP_URL) and mpirun"))
struct ScaleOutSystemTests {
    /// A world of its own in a session of its own, so that all of it (the
    /// supervisor, mpirun and the ranks, which sit in process groups of their
    /// own) can be killed at once.
    static func world(_ system: System, _ name: String, ranks: Int) throws -> Background {
        try Background("/usr/bin/setsid", [builtProduct("imgproc").path, "workers", "--np", String(ranks), "--redis", system.redis,
                                           "--consumer", name, "--reclaim-after", "3"],
                       environment: ["AMQP_URL": system.amqp, "IMGPROC_TEST_TILE_DELAY_MS": "200"],
                       log: system.dir.url.appendingPathComponent("world-\(name).log"))
    }

    @Test func twoServersAndTwoWorldsShareOneQueue() throws {
        let system = try System(db: 6, workers: false, serverArguments: ["--stateless"])
        let d = system.dir
        let port = freePort()
        let second = try Background(builtProduct("imgproc-server").path,
                                    ["--port", String(port), "--host", "127.0.0.1", "--redis", system.redis, "--amqp", system.amqp,
                                     "--uploads", d.path("uploaded-2"), "--processed", d.path("processed-2"), "--stateless"],
                                    log: d.url.appendingPathComponent("server-2.log"))
        defer { second.stop() }
        let bases = [system.base, "http://127.0.0.1:\(port)"]
        try waitUntil(seconds: 60) { (try? system.curl([bases[1] + "/healthz"]).status) == 200 }
        // World A has two ranks and world B one: a job's `world` field tells which ran it.
        let worldA = try Self.world(system, "world-a", ranks: 2)
        let worldB = try Self.world(system, "world-b", ranks: 1)
        defer {
            _ = try? run(URL(fileURLWithPath: "/usr/bin/env"), ["pkill", "-KILL", "-s", String(worldA.pid)])
            worldB.stop()
        }

        let ops = "blur:1,sobel"
        var ids: [String] = []
        for i in 0..<24 {
            try writeImage(testImage(width: 80 + i, height: 60, channels: 3, seed: UInt64(700 + i)), .png, to: d.path("in-\(i).png"))
            let reply = try system.curl(["-F", "ops=\(ops)", "-F", "file=@\(d.path("in-\(i).png"))", bases[i % 2] + "/api/jobs"])
            ids.append(try #require(jobIDs(reply.body).first, "\(reply.status) \(String(decoding: reply.body, as: UTF8.self))"))
        }
        var jobs: [JobRecord] = []
        try waitUntil(seconds: 120) {
            jobs = try ids.compactMap { try system.store.job($0) }
            return jobs.filter { $0.status == .done && $0.world == 2 }.count >= 2 && jobs.contains { $0.status == .running && $0.world == 2 }
        }
        // World A dies at once, every process of it.
        let killed = try run(URL(fileURLWithPath: "/usr/bin/env"), ["pkill", "-KILL", "-s", String(worldA.pid)])
        #expect(killed.status == 0)
        let unfinished = Set(jobs.filter { $0.status != .done }.map(\.id))
        #expect(unfinished.count > 2, "world A died mid-run")

        var finished: [JobRecord] = []
        for id in ids {
            try waitUntil(seconds: 180) { try system.store.job(id)?.isFinished == true }
            finished.append(try #require(try system.store.job(id)))
        }
        #expect(finished.allSatisfy { $0.status == .done }, "\(finished.compactMap(\.error)) \(worldB.output.suffix(1500))")
        #expect(finished.contains { $0.world == 2 } && finished.contains { $0.world == 1 }, "jobs spread over both worlds")
        let takenOver = finished.filter { $0.attempts >= 2 }
        #expect(!takenOver.isEmpty && takenOver.allSatisfy { $0.world == 1 && unfinished.contains($0.id) },
                "world B took over what world A had started")

        for (i, id) in ids.enumerated() {
            let other = bases[(i + 1) % 2]
            let result = try system.curl([other + "/api/jobs/\(id)/result"])
            #expect(result.status == 200)
            #expect(result.body == (try reference(d.path("in-\(i).png"), ops: ops, ext: "png", dir: d)), "job \(i) from the other server")
            #expect(try system.curl([other + "/api/jobs/\(id)/source"]).body == Data(contentsOf: URL(fileURLWithPath: d.path("in-\(i).png"))))
        }
        // The same upload again, to the server that did not take it: answered from the first job.
        let again = try system.curl(["-F", "ops=\(ops)", "-F", "file=@\(d.path("in-0.png"))", bases[1] + "/api/jobs"])
        let json = try JSONSerialization.jsonObject(with: again.body) as? [String: Any]
        let repeated = try #require((json?["jobs"] as? [[String: Any]])?.first)
        #expect(repeated["id"] as? String == ids[0] && repeated["deduplicated"] as? Bool == true, "\(repeated)")
    }
}
