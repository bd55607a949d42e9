import Backoff
import Foundation
import Logging

/// Publishes job events from a thread of its own, so callers never wait on
/// RabbitMQ: messages are persistent and confirmed by the broker; while
/// RabbitMQ is unreachable they wait in memory and are retried with backoff.
/// (Redis stays the source of truth: a lost event only delays a wake-up.)
public final class EventPublisher: @unchecked Sendable {
    // @unchecked: `pending` is guarded by `condition`; the connection is used by the publishing thread only.
    private let url: AMQPURL
    private let logger: Logger
    private let condition = NSCondition()
    private var pending: [JobEvent] = []
    private var inFlight = 0

    /// - Parameters:
    ///   - url: the broker.
    ///   - logger: where reconnections and dropped events are logged.
    public init(url: AMQPURL, logger: Logger = Logger(label: "imgproc.events")) {
        self.url = url
        self.logger = logger
        let thread = Thread { [self] in loop() }
        thread.name = "imgproc-events-publisher"
        thread.start()
    }

    /// Queues an event for publishing; returns at once.
    public func publish(_ event: JobEvent) {
        condition.lock()
        pending.append(event)
        condition.signal()
        condition.unlock()
    }

    /// Waits until every queued event is confirmed, or `timeout` passes; returns whether all were.
    @discardableResult
    public func flush(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !pending.isEmpty || inFlight > 0 {
            if !condition.wait(until: deadline) { return false }
        }
        return true
    }

    private func loop() {
        var connection: AMQPConnection?
        var backoff = Backoff(first: 0.1, ceiling: 5)
        while true {
            condition.lock()
            while pending.isEmpty { condition.wait() }
            let event = pending.removeFirst()
            inFlight += 1
            condition.unlock()
            var sent = false
            while !sent {
                do {
                    if connection == nil || !connection!.isOpen { connection = try AMQPConnection(url: url) }
                    try connection!.publish(event.json, routingKey: event.kind.rawValue)
                    sent = true
                    backoff.reset()
                } catch {
                    connection = nil
                    if backoff.delay >= 1.6 { logger.warning("cannot publish \(event.kind.rawValue) yet: \(error)") }
                    Thread.sleep(forTimeInterval: backoff.next())
                }
            }
            condition.lock()
            inFlight -= 1
            condition.broadcast()
            condition.unlock()
        }
    }
}
