import Foundation
import Hummingbird
import SystemMemory

/// Gives freed memory back to the system once the server goes quiet.
///
/// glibc keeps what a burst of requests freed in its per-thread arenas:
/// after 200 clients the server held 86 MB of which 3.5 MB were in use.
/// `malloc_trim` returns it; it runs at each tick in which no request began
/// (the sweeper and the result keeper free memory between requests too),
/// never while requests keep coming. On two small arenas it takes well
/// under a millisecond.
final class MemoryReturn: @unchecked Sendable {
    // @unchecked: `started` is guarded by `lock`.
    private let lock = NSLock()
    private var started = 0

    /// - Parameter tick: how long without a new request counts as quiet.
    /// `imgproc-server` also tunes glibc for bursts as it starts
    /// (`SystemMemory.restartTunedForBursts`).
    private var seen = -1

    /// Looks every `tick` seconds.
    func service(tick: Double = 5) -> ThreadLoop {
        ThreadLoop(name: "imgproc-memory-return", every: tick) { [self] in
            let now = lock.withLock { started }
            if now == seen { SystemMemory.giveBack() }
            seen = now
        }
    }

    func began() { lock.withLock { started += 1 } }

    /// Counts requests as they begin.
    struct Counter<Context: RequestContext>: RouterMiddleware {
        let memory: MemoryReturn

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            memory.began()
            return try await next(request, context)
        }
    }
}
