import Backoff
import Foundation
import TileStore

/// Runs a Redis operation that is safe to repeat, retrying with backoff
/// while Redis is unreachable or restarting, for up to `seconds`.
func retrying<T>(for seconds: Double = 60, _ body: () throws -> T) throws -> T {
    let deadline = Date().addingTimeInterval(seconds)
    var backoff = Backoff(first: 0.05, ceiling: 2)
    while true {
        do {
            return try body()
        } catch let error as RedisError where [.connectionLost, .connectionRefused, .timeout].contains(error.code)
                    || error.message.contains("LOADING") {
            if Date() > deadline { throw error }
            Thread.sleep(forTimeInterval: backoff.next())
        }
    }
}
