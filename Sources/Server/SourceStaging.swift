import TileStore

/// A raw upload's original copied into Redis while it arrives, in parts,
/// one in flight while the next is read. Storing an 8.5 MB original after
/// the upload took 20-40 ms (Redis writes it to its append-only file before
/// it answers); staged, most of that happens while the bytes still arrive.
/// The job then takes the id the staging chose.
final class SourceStaging: @unchecked Sendable {
    // @unchecked: used by the one task that reads the upload; `inFlight` is awaited before it is replaced.
    let id = TileStore.newJobID()
    private let pool: StorePool
    private let part: Int
    private var sent = 0
    private var inFlight: Task<Void, Error>?
    /// The job is published: the original is its now, never dropped.
    private var kept = false

    /// Staging for uploads worth it: a raw body (not a form) that says it holds at least `threshold` bytes.
    static func start(_ contentType: String, length: Int?, pool: StorePool, threshold: Int = 1 << 20) -> SourceStaging? {
        guard let length, length >= threshold, !contentType.lowercased().hasPrefix("multipart/") else { return nil }
        return SourceStaging(pool: pool, part: 512 << 10)
    }

    init(pool: StorePool, part: Int) {
        self.pool = pool
        self.part = part
    }

    /// Sends what has arrived since the last part, once it is a part's worth.
    func add(_ data: [UInt8]) async throws {
        if data.count - sent >= part { try await send(data) }
    }

    /// Sends the rest and waits until Redis holds all of `data`.
    func finish(_ data: [UInt8]) async throws {
        if data.count > sent { try await send(data) }
        try await inFlight?.value
        inFlight = nil
    }

    /// The job was published with the staged original.
    func keep() { kept = true }

    /// Deletes what was staged (the upload was refused, cut off, or repeats a
    /// finished job), unless a published job holds it.
    func drop() async {
        guard !kept else { return }
        _ = try? await inFlight?.value
        let id = self.id
        _ = try? await pool.run { try $0.dropStagedSource(id: id) }
    }

    private func send(_ data: [UInt8]) async throws {
        try await inFlight?.value
        let piece = Array(data[sent...]), id = self.id, pool = self.pool
        sent = data.count
        inFlight = Task { _ = try await pool.run { try $0.stageSource(id: id, piece) } }
    }
}
