import Foundation
import JobEvents
import Server
import Testing
import TestSupport
import TileStore

/// The server's own threads end at its graceful shutdown, finishing what
/// they hold first, and start again if used after.
@Suite("Threads that end at shutdown", .enabled(if: sharedAMQPURL != nil, "AMQP_URL is not set (make test starts RabbitMQ)"))
struct ShutdownTests {
    @Test func theRedisPoolFinishesItsWorkAndClosesItsConnections() async throws {
        var url = try RedisURL(sharedRedisURL)
        url.database = 3
        let store = try TileStore(url: url)
        let pool = StorePool(url: url, threads: 3)
        #expect(pool.threadCount == 0, "no thread before the first work")
        let others = try store.clients(onDatabase: 3)  // the store's, and the one asking
        // Three calls held at once: each thread opens its connection.
        let done = Locked(0)
        let release = DispatchSemaphore(value: 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    try await pool.run { store in
                        _ = try store.recentJobs(limit: 1)
                        _ = release.wait(timeout: .now() + 30)
                        done.with { $0 += 1 }
                    }
                }
            }
            // Polled without blocking a thread: the calls need the cooperative pool to start.
            var polls = 0
            while try store.clients(onDatabase: 3) < others + 3 && polls < 600 {
                try await Task.sleep(for: .milliseconds(50))
                polls += 1
            }
            #expect(try store.clients(onDatabase: 3) == others + 3)
            #expect(pool.threadCount == 3)
            // Closed while the calls are in hand: they finish, then the threads end.
            let closing = Task.detached { pool.close() }
            for _ in 0..<3 { release.signal() }
            await closing.value
            try await group.waitForAll()
        }
        #expect(done.with { $0 } == 3, "the work in hand was finished")
        #expect(pool.threadCount == 0)
        // The sockets are closed; Redis drops them from its list once it has read their ends.
        var waits = 0
        while try store.clients(onDatabase: 3) != others && waits < 200 {
            try await Task.sleep(for: .milliseconds(50))
            waits += 1
        }
        #expect(try store.clients(onDatabase: 3) == others, "every connection of the pool is closed")
        // Used again (a server run twice in one process): it starts again.
        #expect(try await pool.run { try $0.recentJobs(limit: 1) }.isEmpty)
        #expect(pool.threadCount == 3)
        pool.close()
        #expect(pool.threadCount == 0)
    }

    @Test func thePublisherFlushesThenEnds() throws {
        let received = Locked<[String]>([])
        let listener = try EventListener(url: sharedAMQPURL!) { event in received.with { $0.append(event.id) } }
        defer { listener.stop() }
        let publisher = EventPublisher(url: try AMQPURL(sharedAMQPURL!))
        #expect(!publisher.isRunning, "no thread before the first event")
        let first = TileStore.newJobID(), second = TileStore.newJobID()
        publisher.publish(JobEvent(id: first, status: "done"))
        #expect(publisher.close(timeout: 10), "confirmed before the close returns")
        #expect(!publisher.isRunning)
        publisher.publish(JobEvent(id: second, status: "done"))
        #expect(publisher.isRunning, "an event after the close starts the thread again")
        #expect(publisher.close(timeout: 10))
        try waitUntil(seconds: 10) { received.with { $0.contains(first) && $0.contains(second) } }
    }

    @Test func aPublisherThatCannotReachRabbitMQStillEnds() throws {
        let closed = ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        let publisher = EventPublisher(url: AMQPURL(host: "127.0.0.1", port: closed.port))
        publisher.publish(JobEvent(id: TileStore.newJobID(), status: "done"))
        // Long enough for the backoff to reach seconds between tries.
        Thread.sleep(forTimeInterval: 3.3)
        let started = Date()
        #expect(!publisher.close(timeout: 0.5), "the event was never confirmed")
        #expect(!publisher.isRunning)
        #expect(Date().timeIntervalSince(started) < 2.5, "the close does not wait out the backoff (3.2 s by now)")
    }

    @Test func aConsumerWaitingToReconnectStopsAtOnce() {
        let closed = ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        let consumer = EventConsumer(url: AMQPURL(host: "127.0.0.1", port: closed.port), queue: EventTopology.serverQueue) { _ in }
        Thread.sleep(forTimeInterval: 3.3)
        let started = Date()
        #expect(consumer.stop(waiting: 10), "the thread ended")
        #expect(Date().timeIntervalSince(started) < 2.5, "the stop does not wait out the backoff (3.2 s by now)")
    }
}
