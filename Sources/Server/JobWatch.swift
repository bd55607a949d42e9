import Foundation
import Logging
import ServiceLifecycle
import TileStore

/// Wakes the event streams of jobs when their state changes. The Lua scripts
/// publish a job's id on `imgproc:events` at every change (progress, stage,
/// done, failed); a thread subscribed to it hands each id to the streams
/// watching that job. Every few seconds every stream is woken anyway
/// (``wakeAll()``, the application's ticker), so that it re-reads the job (a
/// message lost while Redis restarted) and finds out whether its client has gone.
final class JobWatch: @unchecked Sendable {
    // @unchecked: `watchers` is guarded by `lock`; the subscription is used by its own thread.
    private let lock = NSLock()
    private var watchers: [String: [UUID: AsyncStream<Void>.Continuation]] = [:]

    private let url: RedisURL

    init(url: RedisURL) {
        self.url = url
    }

    /// Listens while the application runs: a subscription on a thread of its
    /// own, closed at the graceful shutdown.
    func service() -> some Service { Listening(watch: self) }

    private struct Listening: Service {
        let watch: JobWatch

        func run() async {
            let subscription = RedisSubscription(url: watch.url, channels: [JobKeys.events])
            let watch = self.watch
            await onThreadUntilShutdown(name: "imgproc-job-watch", {
                while true {
                    do {
                        switch try subscription.receive() {
                        case let .message(_, payload): watch.wake(String(decoding: payload, as: UTF8.self))
                        case .subscribed: watch.wakeAll()
                        }
                    } catch {
                        // Only a closed subscription throws: it reconnects by itself otherwise.
                        break
                    }
                }
            }, stop: subscription.close)
        }
    }

    /// Wake-ups for job `id`, the first at once; call `stop` when done watching.
    func watch(_ id: String) -> (wakes: AsyncStream<Void>, stop: @Sendable () -> Void) {
        let token = UUID()
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        lock.withLock { watchers[id, default: [:]][token] = continuation }
        continuation.yield()
        let stop: @Sendable () -> Void = { [self] in
            lock.withLock {
                watchers[id]?[token] = nil
                if watchers[id]?.isEmpty == true { watchers[id] = nil }
            }
            continuation.finish()
        }
        return (stream, stop)
    }

    func wake(_ id: String) {
        let continuations = lock.withLock { watchers[id].map { Array($0.values) } ?? [] }
        for c in continuations { c.yield() }
    }

    func wakeAll() {
        let continuations = lock.withLock { watchers.values.flatMap(\.values) }
        for c in continuations { c.yield() }
    }

    /// Streams watching now, for tests and metrics.
    var count: Int { lock.withLock { watchers.values.reduce(0) { $0 + $1.count } } }
}
