import ArgumentParser
import Foundation
import TileStore

/// `--redis URL`, defaulting to `REDIS_URL`, else `redis://127.0.0.1:6379/0`.
struct RedisOptions: ParsableArguments {
    @Option(name: .customLong("redis"), help: "Redis URL, redis://[:password@]host:port/db or redis+cluster://[:password@]host:port,host:port/ (default: $REDIS_URL or redis://127.0.0.1:6379/0).")
    var url: String?

    func resolved() throws -> RedisURL {
        let text = url ?? ProcessInfo.processInfo.environment["REDIS_URL"]
        guard let text, !text.isEmpty else { return .default }
        do { return try RedisURL(text) } catch { throw CLIError("\(error)") }
    }

    func store() throws -> TileStore {
        let url = try resolved()
        do { return try TileStore(url: url) } catch { throw CLIError("\(error)") }
    }
}
