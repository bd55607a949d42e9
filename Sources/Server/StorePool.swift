import Foundation
import TileStore

/// Runs blocking Redis work off the event loops, on threads that each own
/// one Redis connection (connections are never shared between threads).
public final class StorePool: @unchecked Sendable {
    // @unchecked: `queue` is guarded by `condition`; each TileStore lives on its own thread.
    private let condition = NSCondition()
    private var queue: [(TileStore?, String) -> Void] = []

    /// - Parameters:
    ///   - url: the Redis every thread connects to (lazily, on its first work).
    ///   - threads: threads, hence connections, in the pool.
    public init(url: RedisURL, threads: Int) {
        for i in 0..<max(1, threads) {
            let thread = Thread { [self] in
                var store: TileStore?
                while true {
                    condition.lock()
                    while queue.isEmpty { condition.wait() }
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

    /// Runs `body` with a store on one of the pool's threads.
    public func run<T: Sendable>(_ body: @escaping @Sendable (TileStore) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
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
