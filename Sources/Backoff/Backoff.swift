/// Delays that double after each failure, up to a ceiling: how every
/// reconnect and retry loop here waits (Redis, RabbitMQ, the mpirun supervisor).
public struct Backoff: Sendable {
    public let first: Double
    public let ceiling: Double
    /// The delay the next failure waits.
    public private(set) var delay: Double

    /// - Parameters:
    ///   - first: seconds to wait after the first failure (and after a ``reset()``).
    ///   - ceiling: the most seconds ever waited.
    public init(first: Double, ceiling: Double) {
        self.first = first
        self.ceiling = ceiling
        delay = min(first, ceiling)
    }

    /// The seconds to wait now; the next call returns twice as many, up to the ceiling.
    public mutating func next() -> Double {
        defer { delay = min(delay * 2, ceiling) }
        return delay
    }

    /// After a success: the next failure waits `first` again.
    public mutating func reset() { delay = min(first, ceiling) }
}
