import Foundation

/// The RabbitMQ of the tests: AMQP_URL (make test starts one), or none.
public let sharedAMQPURL: String? = {
    let url = ProcessInfo.processInfo.environment["AMQP_URL"]
    return url?.isEmpty == false ? url : nil
}()

import JobEvents

/// A lock-protected value for results gathered from threads.
public final class Locked<T>: @unchecked Sendable {
    // @unchecked: every access goes through the lock.
    private var value: T
    private let lock = NSLock()
    public init(_ value: T) { self.value = value }
    public func with<R>(_ body: (inout T) -> R) -> R { lock.withLock { body(&value) } }
}

/// Sees every imgproc event on a queue of its own (exclusive, deleted when closed).
public final class EventListener: @unchecked Sendable {
    // @unchecked: `stopped` is guarded by `lock`.
    private let lock = NSLock()
    private var stopped = false

    public init(url: String, _ handler: @escaping @Sendable (JobEvent) -> Void) throws {
        let amqp = try AMQPURL(url)
        let ready = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            guard let connection = try? AMQPConnection(url: amqp), (try? connection.listen(to: "job.*")) != nil else {
                ready.signal()
                return
            }
            ready.signal()
            while !lock.withLock({ stopped }) {
                guard let delivery = try? connection.next(timeout: 0.2) else { continue }
                if let event = try? JobEvent(json: delivery.body) { handler(event) }
                try? connection.ack(delivery.tag)
            }
            connection.close()
        }
        thread.start()
        ready.wait()
    }

    public func stop() { lock.withLock { stopped = true } }
}
