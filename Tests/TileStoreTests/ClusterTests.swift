import Foundation
import Testing
import TestSupport
import TileStore

/// The client on a Redis Cluster: slots, and the redirections a cluster
/// answers while a slot moves (make test's services start a three-master one).
@Suite("Redis Cluster routing", .serialized)
struct ClusterTests {
    static let url = ProcessInfo.processInfo.environment["IMGPROC_TEST_REDIS_CLUSTER"]

    @Test func slotsAreRedisClusters() {
        // The values Redis's own CLUSTER KEYSLOT gives.
        #expect(ClusterRouter.slot(Array("123456789".utf8)) == 12739)
        #expect(ClusterRouter.slot(Array("foo".utf8)) == 12182)
        // Only the hash tag counts; an empty one does not.
        #expect(ClusterRouter.slot(Array("imgproc:{abc}:job".utf8)) == ClusterRouter.slot(Array("abc".utf8)))
        #expect(ClusterRouter.slot(Array("x{}y".utf8)) == ClusterRouter.slot(Array("x{}y".utf8)) && ClusterRouter.slot(Array("x{}y".utf8)) != ClusterRouter.slot(Array("".utf8)))
        let job = JobKeys("0123abcd")
        #expect(Set([job.job, job.tiles, job.source, job.result, job.queue(3)].map { ClusterRouter.slot(Array($0.utf8)) }).count == 1)
    }

    /// A slot is migrated from its master to another while the client works:
    /// during the migration the old master answers ASK for a key it does not
    /// hold, after it MOVED; the client follows both. The slot goes back after.
    @Test(.enabled(if: url != nil, "needs IMGPROC_TEST_REDIS_CLUSTER (make test starts one)"))
    func movedAndAskAreFollowed() throws {
        let cluster = try RedisURL(#require(Self.url))
        let client = try RedisConnection(url: cluster)
        let key = "imgproc:{routing-\(TileStore.newJobID())}:x"
        let slot = ClusterRouter.slot(Array(key.utf8))
        // Every master, its id, and the one that holds the slot.
        let nodes = try cluster.seeds.map { seed in
            let c = try RedisConnection(url: cluster.node(seed))
            return (connection: c, id: try #require(try c.command(["CLUSTER", "MYID"]).text))
        }
        // Only the master of the slot answers a GET (the others answer MOVED).
        let holder = try #require(nodes.firstIndex { (try? $0.connection.command(["GET", .text(key)])) != nil })
        let other = (holder + 1) % nodes.count
        func assign(to target: Int) throws {
            for node in nodes { try node.connection.command(["CLUSTER", "SETSLOT", .int(slot), "NODE", .text(nodes[target].id)]) }
        }
        defer { _ = try? client.command(["DEL", .text(key)]); try? assign(to: holder) }

        _ = try client.command(["GET", .text(key)])   // the client now knows the slot's master
        try nodes[other].connection.command(["CLUSTER", "SETSLOT", .int(slot), "IMPORTING", .text(nodes[holder].id)])
        try nodes[holder].connection.command(["CLUSTER", "SETSLOT", .int(slot), "MIGRATING", .text(nodes[other].id)])
        // Migrating: the old master does not hold the key, so it answers ASK.
        #expect(try client.command(["SET", .text(key), "asked"]).text == "OK")
        try assign(to: other)
        // Moved: the client's map is out of date, the old master answers MOVED.
        #expect(try client.command(["GET", .text(key)]).text == "asked")
        #expect(try nodes[other].connection.command(["CLUSTER", "COUNTKEYSINSLOT", .int(slot)]).int == 1, "the key went to the new master")
        #expect(try client.pipeline([["GET", .text(key)], ["DEL", .text(key)]]).map(\.int) == [nil, 1])
    }

    /// A master dies: its replica takes over (after the cluster's node
    /// timeout) and the client, retrying as the ranks and the server do,
    /// finds the new master through the slot map; what was written stays.
    @Test func aMasterFailsOverAndTheClientFollows() throws {
        let cluster = try RedisClusterTestServer(replicas: 1, nodeTimeout: 1000)
        let client = try RedisConnection(url: RedisURL(cluster.url))
        let key = "imgproc:{failover}:x"
        try client.command(["SET", .text(key), "before"])
        try waitUntil(seconds: 10) { cluster.copies(of: key, value: "before") == 2 }   // the replica has it too
        let master = try #require(cluster.master(of: key))
        master.crash()
        let start = Date()
        var written = false
        while !written && Date().timeIntervalSince(start) < 30 {
            do {
                try client.command(["SET", .text(key + ":after"), "after"])
                written = true
            } catch {
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
        #expect(written, "a write succeeded after the failover")
        #expect(Date().timeIntervalSince(start) < 15, "within seconds of the cluster's failover")
        #expect(try client.command(["GET", .text(key)]).text == "before")
        let now = try #require(cluster.master(of: key))
        #expect(now.port != master.port, "the replica is the master now")
    }
}
