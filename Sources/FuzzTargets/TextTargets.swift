import JobEvents
import TileStore

/// Small parsers of text from outside: URLs from flags and the environment,
/// event JSON from RabbitMQ.
enum TextTargets {
    /// A URL that parses prints (password hidden) and rebuilds (password
    /// shown) to one that parses to the same thing.
    static func urls(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        if let url = try? RedisURL(text) {
            _ = url.description
            precondition((try? RedisURL(url.full)) == url, "\(text) does not survive a round trip through \(url.full)")
        }
        if let url = try? AMQPURL(text) {
            _ = url.description
            precondition((try? AMQPURL(url.full)) == url, "\(text) does not survive a round trip through \(url.full)")
        }
    }

    /// An event that decodes encodes to JSON that decodes to the same event.
    static func events(_ data: [UInt8]) {
        guard let event = try? JobEvent(json: data) else { return }
        _ = event.kind
        precondition((try? JobEvent(json: event.json)) == event, "event does not survive a JSON round trip")
    }
}
