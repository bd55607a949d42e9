import Backoff
import Foundation
import Logging

/// Consumes one of imgproc's queues on a thread of its own, reconnecting with
/// backoff. Each message is acknowledged after `handler` returns; a handler
/// that throws leaves it unacknowledged, so RabbitMQ delivers it again after
/// a reconnect (handlers are idempotent).
public final class EventConsumer: @unchecked Sendable {
    // @unchecked: `stopped` is guarded by `condition`; the connection is used by the consuming thread only.
    private let condition = NSCondition()
    private var stopped = false
    private let ended = DispatchSemaphore(value: 0)

    /// Starts consuming `queue` at `url`.
    /// - Parameters:
    ///   - url: the broker.
    ///   - queue: the queue to consume (``EventTopology``).
    ///   - logger: where reconnections and failed handlers are logged.
    ///   - handler: runs on the consuming thread for each event; throwing leaves the message for a later delivery.
    public init(url: AMQPURL, queue: String, logger: Logger = Logger(label: "imgproc.events"),
                handler: @escaping @Sendable (JobEvent) throws -> Void) {
        let thread = Thread { [self] in
            defer { ended.signal() }
            var backoff = Backoff(first: 0.1, ceiling: 5)
            var warned = false
            while !isStopped {
                do {
                    let connection = try AMQPConnection(url: url)
                    try connection.consume(queue)
                    if warned { logger.info("consuming \(queue) again") }
                    warned = false
                    while !isStopped {
                        guard let delivery = try connection.next(timeout: 0.5) else { continue }
                        if let event = try? JobEvent(json: delivery.body) {
                            do { try handler(event) } catch {
                                logger.warning("handling \(delivery.routingKey) failed, it will come again: \(error)")
                                connection.close()
                                // Not at once: a failure that lasts (a full disk) must not spin.
                                nap(backoff.next())
                                break
                            }
                        }
                        backoff.reset()
                        try connection.ack(delivery.tag)
                    }
                } catch {
                    if !warned && backoff.delay >= 0.8 {
                        logger.warning("cannot consume \(queue) yet: \(error)")
                        warned = true
                    }
                    nap(backoff.next())
                }
            }
        }
        thread.name = "imgproc-events-\(queue)"
        thread.start()
    }

    private var isStopped: Bool { condition.withLock { stopped } }

    /// Sleeps between tries; a stop ends the sleep.
    private func nap(_ seconds: Double) {
        let until = Date().addingTimeInterval(seconds)
        condition.withLock { while !stopped && condition.wait(until: until) {} }
    }

    /// Stops consuming; a message being handled is handled (and acknowledged) first.
    /// - Parameter seconds: how long to wait for that (0: do not wait).
    /// - Returns: whether the consuming thread has ended.
    @discardableResult
    public func stop(waiting seconds: Double = 0) -> Bool {
        condition.withLock { stopped = true }
        condition.broadcast()
        return ended.wait(timeout: .now() + max(seconds, 0)) == .success
    }
}
