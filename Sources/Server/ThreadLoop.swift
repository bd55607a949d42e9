import Foundation
import JobEvents
import ServiceLifecycle

/// Background work of the server, on a thread of its own, run as a Service
/// (swift-service-lifecycle) of the application: it starts with it, is asked
/// to stop at its graceful shutdown (SIGTERM or SIGINT, once the HTTP server
/// has answered the requests in hand), and is waited for, so that a round in
/// progress (a result being written, a sweep) ends before the process does.
/// The work blocks on Redis and RabbitMQ, so it stays off Swift's cooperative threads.
struct ThreadLoop: Service {
    let name: String
    /// Seconds between the ends of two rounds.
    let every: Double
    /// One round; the first runs at once.
    let round: @Sendable () -> Void

    func run() async {
        let stop = Stop()
        await onThreadUntilShutdown(name: name, { repeat { round() } while stop.sleep(every) }, stop: stop.request)
    }

    /// A stop request that also ends a sleep early.
    final class Stop: @unchecked Sendable {
        // @unchecked: `requested` is guarded by `condition`.
        private let condition = NSCondition()
        private var requested = false

        func request() {
            condition.withLock { requested = true }
            condition.broadcast()
        }

        /// Sleeps `seconds`, less if a stop is requested meanwhile.
        /// - Returns: false when a stop was requested.
        func sleep(_ seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            return condition.withLock {
                while !requested && condition.wait(until: deadline) {}
                return !requested
            }
        }
    }
}

/// Runs `body` on a thread named `name` until the application's graceful
/// shutdown, then calls `stop` (which must make `body` return) and waits for it.
func onThreadUntilShutdown(name: String, _ body: @escaping @Sendable () -> Void, stop: @Sendable () -> Void) async {
    let ended = DispatchSemaphore(value: 0)
    let thread = Thread {
        body()
        ended.signal()
    }
    thread.name = name
    thread.start()
    try? await gracefulShutdown()
    stop()
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
        DispatchQueue.global().async {
            ended.wait()
            done.resume()
        }
    }
}

/// An event consumer that runs while the application does: made when it
/// starts, stopped at its graceful shutdown (a message being handled is
/// handled first, for up to 2 s).
struct Consuming: Service {
    let make: @Sendable () -> EventConsumer

    func run() async {
        let consumer = make()
        try? await gracefulShutdown()
        consumer.stop(waiting: 2)
    }
}

/// Runs `stop` at the application's graceful shutdown, after the HTTP server
/// has answered the requests in hand (say, to flush the events they published).
struct OnShutdown: Service {
    let stop: @Sendable () -> Void

    func run() async {
        try? await gracefulShutdown()
        stop()
    }
}
