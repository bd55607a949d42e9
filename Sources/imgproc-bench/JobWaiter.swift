import Foundation
import Supervision
import TileStore
import Worker

/// Waits for jobs to end by listening to `imgproc:events` (no polling, so the
/// bench itself takes no CPU from the system it measures).
final class JobWaiter: @unchecked Sendable {
    // @unchecked: `finished` is guarded by `condition`; the subscription and its store are used by the listening thread only.
    private let subscription: RedisSubscription
    private let condition = NSCondition()
    private var finished: [String: Date] = [:]

    init(url: RedisURL) throws {
        subscription = RedisSubscription(url: url, channels: [JobKeys.events])
        let ready = DispatchSemaphore(value: 0)
        Thread { [self] in
            guard let store = try? TileStore(url: url) else { return }
            while let event = try? subscription.receive() {
                guard case let .message(_, payload) = event else { ready.signal(); continue }
                let id = String(decoding: payload, as: UTF8.self)
                if let job = try? store.job(id), job.isFinished {
                    condition.withLock {
                        if finished[id] == nil { finished[id] = Date() }
                        condition.broadcast()
                    }
                }
            }
        }.start()
        ready.wait()
    }

    deinit { subscription.close() }

    /// Waits until every job of `ids` has ended; returns when each did.
    func wait(_ ids: [String], seconds: Double = 600) throws -> [Date] {
        let deadline = Date().addingTimeInterval(seconds)
        return try condition.withLock {
            while !ids.allSatisfy({ finished[$0] != nil }) {
                guard condition.wait(until: deadline) else { throw BenchError(.timedOut, "timed out waiting for jobs") }
            }
            return ids.map { finished[$0]! }
        }
    }
}
