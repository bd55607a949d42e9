import Foundation
import ImageCodecs
import ImageCore
import Testing
import TestSupport
import TileStore

/// Root and `ip` make test hosts (network namespaces) with their own addresses.
let testHostsAvailable: Bool = {
    guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip"),
          (try? run(URL(fileURLWithPath: "/usr/bin/env"), ["mpirun", "--version"]).status) == 0 else { return false }
    return (try? run(URL(fileURLWithPath: "/usr/bin/env"), ["ip", "netns", "list"]).status) == 0
}()

/// Test hosts 10.77.0.11–1N (three unless told) on a bridge 10.77.0.1, with
/// Redis and RabbitMQ listening on the bridge, and the environment that makes
/// mpirun launch one rank per host over TCP.
final class TestHosts: @unchecked Sendable {
    // @unchecked: fields are set once in init.
    static let script = packageRoot.appendingPathComponent("Tests/netns-hosts.sh").path
    let redis: RedisTestServer
    /// With `cluster`, a three-master Redis Cluster on the bridge, which ``store`` and ``redisURL`` use.
    let cluster: RedisClusterTestServer?
    let rabbit: RabbitTestServer
    let store: TileStore
    let dir: TemporaryDirectory
    let hostfile: String
    let count: Int

    var environment: [String: String] {
        ["OMPI_MCA_plm_rsh_agent": packageRoot.appendingPathComponent("Tests/netns-rsh.sh").path,
         "OMPI_MCA_oob_tcp_if_include": "10.77.0.0/24", "OMPI_MCA_btl_tcp_if_include": "10.77.0.0/24",
         "OMPI_MCA_btl": "tcp,self", "AMQP_URL": rabbit.url]
    }

    var redisURL: String { cluster?.url ?? redis.url }

    init(count: Int = 3, cluster: Bool = false) throws {
        self.count = count
        _ = try spawnAndWait(Self.script, ["down", "9"])
        guard try spawnAndWait(Self.script, ["up", String(count)]) == 0 else { throw TestServerError("cannot make test hosts") }
        redis = try RedisTestServer(host: "10.77.0.1")
        self.cluster = cluster ? try RedisClusterTestServer(host: "10.77.0.1") : nil
        rabbit = try RabbitTestServer(host: "10.77.0.1")
        store = try TileStore(url: RedisURL(self.cluster?.url ?? redis.url))
        dir = try TemporaryDirectory()
        hostfile = dir.path("hosts")
        try "10.77.0.11 slots=1\n10.77.0.12 slots=1\n10.77.0.13 slots=1\n".write(toFile: hostfile, atomically: true, encoding: .utf8)
    }

    deinit {
        _ = try? spawnAndWait(Self.script, ["down", String(count)])
        dir.remove()
    }

    func cut(_ host: Int) throws { _ = try spawnAndWait(Self.script, ["cut", String(host)]) }
    func mend(_ host: Int) throws { _ = try spawnAndWait(Self.script, ["mend", String(host)]) }
    /// Every process in host `host` killed at once, as when the machine dies.
    func killAll(_ host: Int) throws { _ = try spawnAndWait(Self.script, ["kill", String(host)]) }

    /// `imgproc workers --np 3 --hostfile` with the test hosts' environment.
    func workers(_ extra: [String] = [], environment more: [String: String] = [:]) throws -> Background {
        try Background(builtProduct("imgproc").path, ["workers", "--np", "3", "--hostfile", hostfile, "--redis", redis.url] + extra,
                       environment: environment.merging(more) { $1 },
                       log: dir.url.appendingPathComponent("workers-\(UUID().uuidString.prefix(6)).log"))
    }

    func enqueue(_ image: Image, name: String, ops: String, tile: Int = 48) throws -> String {
        try Data(Codec.encode(image, as: .png)).write(to: URL(fileURLWithPath: dir.path(name)))
        let r = try run(builtProduct("imgproc"), ["enqueue", dir.path(name), "--ops", ops, "--tile", String(tile), "--redis", redis.url])
        guard r.status == 0 else { throw TestServerError(r.stderr) }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func reference(_ name: String, ops: String) throws -> [UInt8] {
        let out = dir.path("ref-\(UUID().uuidString).png")
        let r = try run(builtProduct("imgproc"), ["process", dir.path(name), out, "--ops", ops])
        guard r.status == 0 else { throw TestServerError(r.stderr) }
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
    }

    func waitFor(_ id: String, seconds: Double = 180) throws -> JobRecord {
        var job: JobRecord?
        try waitUntil(seconds: seconds) {
            job = (try? store.job(id)) ?? job
            return job?.status == .done || job?.status == .failed
        }
        return job!
    }

    /// Host name of each rank of the live world, from the heartbeats.
    func rankHosts() throws -> [Int: String] {
        Dictionary(try store.heartbeats().values.map { ($0.rank, $0.host) }) { a, _ in a }
    }
}

@Suite("Several machines", .serialized,
       .enabled(if: testHostsAvailable, "needs root, ip (iproute2) and mpirun to make test hosts in network namespaces"))
struct MultiHostTests {
    @Test func jobsRunOnThreeHosts() throws {
        let hosts = try TestHosts()
        let ops = "clahe:3:4,blur:1,canny:50:150"
        let image = testImage(width: 300, height: 220, channels: 3, seed: 61)
        let viaCLI = try hosts.enqueue(image, name: "a.png", ops: ops)
        // And through the server, listening on the bridge address.
        let port = freePort()
        let server = try Background(builtProduct("imgproc-server").path,
                                    ["--host", "10.77.0.1", "--port", String(port), "--redis", hosts.redis.url, "--amqp", hosts.rabbit.url,
                                     "--uploads", hosts.dir.path("u"), "--processed", hosts.dir.path("p"), "--tile", "48"],
                                    log: hosts.dir.url.appendingPathComponent("server.log"))
        defer { server.stop() }
        try waitUntil(seconds: 30) { canConnect(port: port, host: "10.77.0.1") }
        let upload = try run(URL(fileURLWithPath: "/usr/bin/env"),
                             ["curl", "-s", "-F", "ops=\(ops)", "-F", "file=@\(hosts.dir.path("a.png"))", "http://10.77.0.1:\(port)/api/jobs"])
        let viaHTTP = try #require(((try JSONSerialization.jsonObject(with: Data(upload.stdout.utf8)) as? [String: Any])?["jobs"]
                                    as? [[String: Any]])?.first?["id"] as? String, "\(upload.stdout)")
        let workers = try hosts.workers(["--exit-when-idle", "3"])
        defer { workers.stop() }
        let expected = try hosts.reference("a.png", ops: ops)
        var seenHosts: [Int: String] = [:]
        for id in [viaCLI, viaHTTP] {
            let job = try hosts.waitFor(id)
            if seenHosts.isEmpty { seenHosts = try hosts.rankHosts() }
            #expect(job.status == .done, "\(job.error ?? "") \(workers.output.suffix(1500))")
            #expect(job.world == 3)
            #expect(try hosts.store.result(id).map { $0 == expected } ?? FileManager.default.fileExists(atPath: hosts.dir.path("p/\(id).png")))
            let ranks = Set(try hosts.store.tileRanks(id, completed: true).values)
            #expect(ranks == [0, 1, 2], "the tile map shows all three hosts' ranks: \(ranks)")
        }
        #expect(Set(seenHosts.values) == ["host1", "host2", "host3"], "one rank per host: \(seenHosts)")
        try waitUntil(seconds: 30) { FileManager.default.fileExists(atPath: hosts.dir.path("p/\(viaHTTP).png")) }
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: hosts.dir.path("p/\(viaHTTP).png")))) == expected)
        #expect(workers.wait(seconds: 60) == 0)
    }

    /// A host's link is cut mid-job: the supervisor sees its rank go silent,
    /// starts the world again on the two hosts left, and the job completes the same.
    @Test func aHostFailsMidJob() throws {
        let hosts = try TestHosts()
        let ops = "blur:2,canny:60:140"
        let id = try hosts.enqueue(testImage(width: 320, height: 320, channels: 3, seed: 62), name: "f.png", ops: ops, tile: 32)
        let workers = try hosts.workers(["--stall-timeout", "6", "--exit-when-idle", "3"],
                                        environment: ["IMGPROC_TEST_TILE_DELAY_MS": "60"])
        defer { workers.stop() }
        try waitUntil(seconds: 60) { (try hosts.store.job(id)?.tilesDone ?? 0) >= 15 }
        try hosts.cut(3)
        let job = try hosts.waitFor(id, seconds: 240)
        try hosts.mend(3)
        #expect(job.status == .done, "\(job.error ?? "") \(workers.output.suffix(2000))")
        #expect(job.attempts == 2)
        #expect(job.world == 2, "restarted on the two hosts still reachable")
        #expect(job.fields["last_interruption"]?.contains("went silent") == true, "\(job.fields["last_interruption"] ?? "")")
        #expect(try hosts.store.result(id) == hosts.reference("f.png", ops: ops))
        #expect(workers.output.contains("leaving out a host"))
    }

    /// Redis unreachable from one host for a few seconds: its rank retries and
    /// the job completes in the same world, nothing lost or done twice.
    @Test func redisUnreachableForAWhile() throws {
        let hosts = try TestHosts()
        let ops = "median:2,clahe"
        let id = try hosts.enqueue(testImage(width: 300, height: 300, channels: 3, seed: 63), name: "r.png", ops: ops, tile: 30)
        let workers = try hosts.workers(["--stall-timeout", "60", "--exit-when-idle", "3"],
                                        environment: ["IMGPROC_TEST_TILE_DELAY_MS": "40"])
        defer { workers.stop() }
        try waitUntil(seconds: 60) { (try hosts.store.job(id)?.tilesDone ?? 0) >= 10 }
        try hosts.cut(2)
        Thread.sleep(forTimeInterval: 4)
        try hosts.mend(2)
        let job = try hosts.waitFor(id, seconds: 240)
        #expect(job.status == .done, "\(job.error ?? "") \(workers.output.suffix(2000))")
        #expect(job.attempts == 1, "the same world finished it")
        #expect(job.tilesDone == job.tilesTotal, "each tile counted once")
        #expect(try hosts.store.result(id) == hosts.reference("r.png", ops: ops))
    }
}
