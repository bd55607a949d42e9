import Foundation

/// A message on the `imgproc.events` exchange: `job.created` when a job is
/// safely in Redis, `job.done` when it is done or failed (then with why).
public struct JobEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case created = "job.created"
        case done = "job.done"
    }

    public var id: String
    /// `queued` for job.created; `done` or `failed` for job.done.
    public var status: String
    public var error: String?
    /// Milliseconds since the epoch.
    public var at: Int

    /// - Parameters:
    ///   - id: the job.
    ///   - status: `queued` (job.created), `done` or `failed` (job.done).
    ///   - error: why it failed.
    ///   - at: when.
    public init(id: String, status: String, error: String? = nil, at: Date = Date()) {
        self.id = id
        self.status = status
        self.error = error
        self.at = Int(at.timeIntervalSince1970 * 1000)
    }

    public var kind: Kind { status == "queued" ? .created : .done }

    public var json: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array((try? encoder.encode(self)) ?? Data())
    }

    public init(json: [UInt8]) throws {
        self = try JSONDecoder().decode(JobEvent.self, from: Data(json))
    }
}

/// The exchange, routing keys and queues of imgproc (all durable).
public enum EventTopology {
    public static let exchange = "imgproc.events"
    /// The server's queue: job.done.
    public static let serverQueue = "imgproc.server"
    /// Worker rank 0's queue: job.created, as a wake-up.
    public static let workersQueue = "imgproc.workers"
    static let bindings = [(serverQueue, JobEvent.Kind.done.rawValue), (workersQueue, JobEvent.Kind.created.rawValue)]
}
