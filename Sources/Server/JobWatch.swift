import Foundation
import Logging
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

    init(url: RedisURL, logger: Logger) {
        let subscription = RedisSubscription(url: url, channels: [JobKeys.events])
        let listener = Thread { [self] in
            while true {
                switch try? subscription.receive() {
                case let .message(_, payload)?: wake(String(decoding: payload, as: UTF8.self))
                case .subscribed?: wakeAll()
                case nil: Thread.sleep(forTimeInterval: 1)
                }
            }
        }
        listener.name = "imgproc-job-watch"
        listener.start()
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
