import Foundation
import TileStore

/// Runs blocking Redis work off the event loops, on threads that each own
/// one Redis connection (connections are never shared between threads).
/// The threads start with the first work, and ``close()`` (the application's
/// last step at shutdown) lets them finish the work queued and end, closing
/// their connections; work after that starts them again.
public final class StorePool: @unchecked Sendable {
    // @unchecked: `queue`, `running` and `closing` are guarded by `condition`; each TileStore lives on its own thread.
    private let condition = NSCondition()
    private var queue: [(TileStore?, String) -> Void] = []
    private var running = 0
    private var closing = false
    private let url: RedisURL
    private let threads: Int

    /// - Parameters:
    ///   - url: the Redis every thread connects to (on its first work).
    ///   - threads: threads, hence connections, in the pool.
    public init(url: RedisURL, threads: Int) {
        self.url = url
        self.threads = max(1, threads)
    }

    /// Runs `body` with a store on one of the pool's threads.
    public func run<T: Sendable>(_ body: @escaping @Sendable (TileStore) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            if running == 0 { start() }
            queue.append { store, failure in
                guard let store else {
                    continuation.resume(throwing: RedisError(.connectionRefused, failure))
                    return
                }
                continuation.resume(with: Result { try body(store) })
            }
            condition.signal()
            condition.unlock()
        }
    }

    /// Threads alive now.
    package var threadCount: Int { condition.withLock { running } }

    /// Ends the threads once the work queued is done, and waits for them.
    public func close() {
        condition.lock()
        closing = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        closing = false
        condition.unlock()
    }

    /// Starts the threads; called with `condition` locked.
    private func start() {
        running = threads
        for i in 0..<threads {
            let thread = Thread { [self] in
                var store: TileStore?
                while true {
                    condition.lock()
                    while queue.isEmpty && !closing { condition.wait() }
                    if queue.isEmpty {
                        running -= 1
                        condition.broadcast()
                        condition.unlock()
                        return
                    }
                    let work = queue.removeFirst()
                    condition.unlock()
                    var failure = ""
                    if store == nil {
                        do { store = try TileStore(url: url) } catch { failure = "\(error)" }
                    }
                    work(store, failure)
                    // A store whose connection broke reconnects on its next command.
                }
            }
            thread.name = "imgproc-redis-\(i)"
            thread.start()
        }
    }
}

/// Runs CPU-heavy work (decoding, cutting) off the event loops; its error
/// comes back with its type.
func offloaded<T: Sendable, Failure: Error>(_ body: @escaping @Sendable () throws(Failure) -> T) async throws(Failure) -> T {
    let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, Failure>, Never>) in
        DispatchQueue.global(qos: .userInitiated).async {
            do throws(Failure) { continuation.resume(returning: .success(try body())) } catch { continuation.resume(returning: .failure(error)) }
        }
    }
    return try result.get()
}
