import Backoff
import Foundation
import Logging

/// Publishes job events from a thread of its own, so callers never wait on
/// RabbitMQ: messages are persistent and confirmed by the broker; while
/// RabbitMQ is unreachable they wait in memory and are retried with backoff.
/// (Redis stays the source of truth: a lost event only delays a wake-up.)
/// The thread starts with the first event; ``close(timeout:)`` ends it.
public final class EventPublisher: @unchecked Sendable {
    // @unchecked: `pending`, `inFlight`, `running` and `closing` are guarded by `condition`;
    // the connection is used by the publishing thread only.
    private let url: AMQPURL
    private let logger: Logger
    private let condition = NSCondition()
    private var pending: [JobEvent] = []
    private var inFlight = 0
    private var running = false
    private var closing = false

    /// - Parameters:
    ///   - url: the broker.
    ///   - logger: where reconnections and dropped events are logged.
    public init(url: AMQPURL, logger: Logger = Logger(label: "imgproc.events")) {
        self.url = url
        self.logger = logger
    }

    /// Queues an event for publishing; returns at once.
    public func publish(_ event: JobEvent) {
        condition.lock()
        if !running {
            running = true
            let thread = Thread { [self] in loop() }
            thread.name = "imgproc-events-publisher"
            thread.start()
        }
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

    /// Waits up to `timeout` for the queued events to be confirmed, then ends
    /// the thread and its connection; events still unconfirmed then are
    /// dropped (and logged). Events published later start the thread again.
    /// - Returns: whether every event was confirmed.
    @discardableResult
    public func close(timeout: Double) -> Bool {
        let flushed = flush(timeout: timeout)
        condition.lock()
        closing = true
        condition.broadcast()
        while running { condition.wait() }
        if !pending.isEmpty { logger.warning("\(pending.count) job events were never confirmed by RabbitMQ, and are dropped") }
        pending.removeAll()
        closing = false
        condition.unlock()
        return flushed
    }

    /// Whether the publishing thread is alive.
    package var isRunning: Bool { condition.withLock { running } }

    private var isClosing: Bool { condition.withLock { closing } }

    private func loop() {
        var connection: AMQPConnection?
        var backoff = Backoff(first: 0.1, ceiling: 5)
        while true {
            condition.lock()
            while pending.isEmpty && !closing { condition.wait() }
            if closing {
                running = false
                condition.broadcast()
                condition.unlock()
                return
            }
            let event = pending.removeFirst()
            inFlight += 1
            condition.unlock()
            var sent = false
            while !sent && !isClosing {
                do {
                    if connection == nil || !connection!.isOpen { connection = try AMQPConnection(url: url) }
                    try connection!.publish(event.json, routingKey: event.kind.rawValue)
                    sent = true
                    backoff.reset()
                } catch {
                    connection = nil
                    if backoff.delay >= 1.6 { logger.warning("cannot publish \(event.kind.rawValue) yet: \(error)") }
                    // A close ends the wait.
                    let until = Date().addingTimeInterval(backoff.next())
                    condition.withLock { while !closing && condition.wait(until: until) {} }
                }
            }
            if !sent { logger.warning("job event \(event.kind.rawValue) for \(event.id) was never confirmed by RabbitMQ, and is dropped") }
            condition.lock()
            inFlight -= 1
            condition.broadcast()
            condition.unlock()
        }
    }
}
