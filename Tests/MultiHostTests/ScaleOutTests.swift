import Foundation
import ImageCodecs
import ImageCore
import Testing
import TestSupport
import TileStore

/// Several servers and several worlds on one Redis Cluster and one RabbitMQ,
/// each on hosts of its own (README, "Scaling out"). The test belongs to the
/// suite of the other test-host tests, which runs one test at a time: they
/// all make and remove the same network namespaces.
enum ScaleOut {
    static let ip = FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") ? "/usr/sbin/ip" : "/sbin/ip"

    /// `imgproc-server --stateless` inside test host `host`, listening on its address.
    static func server(_ hosts: TestHosts, on host: Int) throws -> (process: Background, base: String) {
        let address = "10.77.0.1\(host)"
        let process = try Background(ip, ["netns", "exec", "imgproc-h\(host)", builtProduct("imgproc-server").path,
                                          "--host", address, "--port", "8080", "--redis", hosts.redisURL, "--amqp", hosts.rabbit.url,
                                          "--uploads", hosts.dir.path("uploads-\(host)"), "--processed", hosts.dir.path("processed-\(host)"),
                                          "--stateless"],
                                     log: hosts.dir.url.appendingPathComponent("server-\(host).log"))
        try waitUntil(seconds: 60) { process.wait(seconds: 0) != nil || canConnect(port: 8080, host: address) }
        return (process, "http://\(address):8080")
    }

    /// A world of its own: `imgproc workers` over test hosts `ranks`, one rank each, named `name`.
    static func world(_ hosts: TestHosts, _ name: String, ranks: [Int]) throws -> Background {
        let hostfile = hosts.dir.path("hosts-\(name)")
        try ranks.map { "10.77.0.1\($0) slots=1\n" }.joined().write(toFile: hostfile, atomically: true, encoding: .utf8)
        return try Background(builtProduct("imgproc").path,
                              ["workers", "--np", String(ranks.count), "--hostfile", hostfile, "--redis", hosts.redisURL,
                               "--consumer", name, "--reclaim-after", "3", "--stall-timeout", "60"],
                              environment: hosts.environment.merging(["IMGPROC_TEST_TILE_DELAY_MS": "250"]) { $1 },
                              log: hosts.dir.url.appendingPathComponent("world-\(name).log"))
    }

    static func curl(_ arguments: [String]) throws -> (status: Int, body: [UInt8]) {
        let out = "/tmp/imgproc-curl-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try run(URL(fileURLWithPath: "/usr/bin/env"), ["curl", "-s", "-o", out, "-w", "%{http_code}", "--max-time", "60"] + arguments)
        return (Int(r.stdout) ?? 0, [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: out))) ?? Data()))
    }

}

extension MultiHostTests {
    /// 50 uploads alternately to two stateless servers on two hosts, a Redis
    /// Cluster of three masters on the bridge, run by two
    /// worlds (two ranks on hosts 3–4, one rank on host 5; a job's `world`
    /// field, its rank count, tells which ran it). World A dies mid-run; world B
    /// takes over its jobs. Every job is then read from the server that did
    /// *not* accept it: status, result (equal to `imgproc process`) and original.
    @Test func twoServersTwoWorldsOneDies() throws {
        let hosts = try TestHosts(count: 5, cluster: true)
        let servers = try [1, 2].map { try ScaleOut.server(hosts, on: $0) }
        defer { servers.forEach { $0.process.stop() } }
        for server in servers {
            try waitUntil(seconds: 60) { (try? ScaleOut.curl([server.base + "/healthz"]).status) == 200 }
        }
        let worldA = try ScaleOut.world(hosts, "world-a", ranks: [3, 4])
        let worldB = try ScaleOut.world(hosts, "world-b", ranks: [5])
        defer { worldA.stop(grace: 1); worldB.stop() }

        let ops = "blur:1,sobel"
        var ids: [String] = []
        for i in 0..<50 {
            let file = hosts.dir.path("in-\(i).png")
            try Data(Codec.encode(testImage(width: 96 + i, height: 72, channels: 3, seed: UInt64(300 + i)), as: .png))
                .write(to: URL(fileURLWithPath: file))
            let r = try ScaleOut.curl(["-F", "ops=\(ops)", "-F", "file=@\(file)", servers[i % 2].base + "/api/jobs"])
            let json = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
            let id = try #require((json?["jobs"] as? [[String: Any]])?.first?["id"] as? String, "\(r.status) \(String(decoding: r.body, as: UTF8.self))")
            ids.append(id)
        }

        // World A dies while it holds jobs, after it has finished some.
        var jobs: [JobRecord] = []
        try waitUntil(seconds: 120) {
            jobs = try ids.compactMap { try hosts.store.job($0) }
            let doneByA = jobs.filter { $0.status == .done && $0.world == 2 }.count
            return doneByA >= 3 && jobs.contains { $0.status == .running && $0.world == 2 }
        }
        kill(worldA.pid, SIGKILL)
        try hosts.killAll(3)
        try hosts.killAll(4)
        let unfinishedAtKill = jobs.filter { $0.status != .done }.map(\.id)
        #expect(unfinishedAtKill.count > 3, "world A died mid-run, with \(unfinishedAtKill.count) jobs left")

        var finished: [JobRecord] = []
        for id in ids {
            let job = try hosts.waitFor(id, seconds: 240)
            #expect(job.status == .done, "\(job.error ?? "") \(worldB.output.suffix(1500))")
            finished.append(job)
        }
        let byA = finished.filter { $0.world == 2 }, byB = finished.filter { $0.world == 1 }
        #expect(byA.count >= 3 && byB.count >= 3, "jobs spread over both worlds: A \(byA.count), B \(byB.count)")
        let takenOver = finished.filter { $0.attempts >= 2 && $0.world == 1 }
        #expect(!takenOver.isEmpty, "world B took over a job world A had started")
        #expect(takenOver.allSatisfy { unfinishedAtKill.contains($0.id) })

        for (i, id) in ids.enumerated() {
            let other = servers[(i + 1) % 2].base
            let status = try ScaleOut.curl([other + "/api/jobs/\(id)"])
            #expect(status.status == 200 && String(decoding: status.body, as: UTF8.self).contains("\"done\""))
            let result = try ScaleOut.curl([other + "/api/jobs/\(id)/result"])
            #expect(result.status == 200, "result of \(id) from the other server: \(result.status)")
            #expect(result.body == (try hosts.reference("in-\(i).png", ops: ops)), "result of \(id) equals imgproc process")
            let source = try ScaleOut.curl([other + "/api/jobs/\(id)/source"])
            #expect(source.body == [UInt8](try Data(contentsOf: URL(fileURLWithPath: hosts.dir.path("in-\(i).png")))))
        }
        // The jobs are spread over the cluster's three masters.
        for node in try #require(hosts.cluster).nodes {
            let jobsHere = try RedisConnection(url: RedisURL(node.url)).command(["KEYS", "imgproc:{*}:job"]).array?.count ?? 0
            #expect(jobsHere > 0, "master \(node.port) holds some of the jobs")
        }
        // The other server cached what it served; Redis keeps the shared copy until retention.
        #expect(FileManager.default.fileExists(atPath: hosts.dir.path("processed-2/\(ids[0]).png")))
        #expect(try hosts.store.result(ids[0]) != nil)
        let events = try ScaleOut.curl(["--max-time", "5", servers[1].base + "/api/jobs/\(ids[0])/events"])
        #expect(String(decoding: events.body, as: UTF8.self).contains("done"), "the other server's event stream")
    }
}
