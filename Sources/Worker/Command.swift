import Foundation

/// What rank 0 broadcasts to every rank: run a stage of a job, or stop.
struct Command: Codable, Equatable {
    enum Kind: String, Codable { case stage, stop }
    var kind: Kind
    var job = ""
    var stage = 0

    static let stop = Command(kind: .stop)

    var bytes: [UInt8] { Array((try? JSONEncoder().encode(self)) ?? Data()) }

    init(kind: Kind, job: String = "", stage: Int = 0) {
        self.kind = kind
        self.job = job
        self.stage = stage
    }

    init(bytes: [UInt8]) throws {
        self = try JSONDecoder().decode(Command.self, from: Data(bytes))
    }
}
