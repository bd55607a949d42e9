import Foundation
import JobEvents
import Logging
import TileStore

/// Checks Redis (every second, PING on a new connection) and RabbitMQ (every
/// 5 s, a login) from a thread of its own, each with a 1-second timeout, so
/// that /healthz answers at once with what was last seen, whether or not either hangs.
/// Only right after start does it wait (at most 1.5 s) for the first round, so
/// that a probe then gets an answer rather than "not checked yet".
final class HealthCheck: @unchecked Sendable {
    // @unchecked: `redis`, `rabbit` and `checkedOnce` are guarded by `lock`; `round` belongs to the checking thread.
    private let lock = NSLock()
    private var redis = "not checked yet", rabbit = "not checked yet"
    private var checkedOnce = false
    private var round = 0

    func service(redis url: RedisURL, amqp: AMQPURL) -> ThreadLoop {
        ThreadLoop(name: "imgproc-health", every: 1) { [self] in
            do {
                try TileStore.ping(url, timeout: 1)
                lock.withLock { redis = "ok" }
            } catch {
                lock.withLock { redis = "\(error)" }
            }
            if round % 5 == 0 {
                let state: String
                do { _ = try AMQPConnection(url: amqp, timeout: 1); state = "ok" } catch { state = "\(error)" }
                lock.withLock { rabbit = state; checkedOnce = true }
            }
            round += 1
        }
    }

    var status: (redis: String, rabbitmq: String) { lock.withLock { (redis, rabbit) } }

    func status(waitingForTheFirstRound limit: Duration) async -> (redis: String, rabbitmq: String) {
        let clock = ContinuousClock(), end = clock.now + limit
        while lock.withLock({ !checkedOnce }), clock.now < end {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return status
    }
}
