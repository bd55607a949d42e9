import CHiredis
import Foundation
import Logging

/// A connection subscribed to Redis pub/sub channels, waiting for messages.
///
/// It owns its connection (a subscribed connection can run no other
/// commands). When the connection breaks it reconnects and subscribes again;
/// messages published meanwhile are lost, so users re-read state after a
/// reconnect (``receive()`` reports it). Not Sendable: one thread receives;
/// ``close()`` may be called from any thread to end a waiting ``receive()``.
public final class RedisSubscription: @unchecked Sendable {
    // @unchecked: `connection` is used by the receiving thread only; `closed` and
    // `socket` are guarded by `lock` so that close() can interrupt a blocked read.
    public enum Event: Equatable, Sendable {
        /// A message on a channel.
        case message(channel: String, payload: [UInt8])
        /// The connection was (re)established: messages may have been missed.
        case subscribed
    }

    private let url: RedisURL
    private let channels: [String]
    private var connection: RedisConnection?
    private let lock = NSLock()
    private var closed = false
    private var socket: Int32 = -1
    private var announced = false
    /// Connections tried: on a cluster, each try takes the next seed node
    /// (a message published on any node reaches the subscribers of every node).
    private var tries = 0

    /// - Parameters:
    ///   - url: the Redis to subscribe on.
    ///   - channels: the channels (SUBSCRIBE).
    public init(url: RedisURL, channels: [String]) {
        self.url = url
        self.channels = channels
    }

    /// The next event, waiting as long as it takes (or until ``close()``).
    /// - Throws: ``RedisError`` `.connectionLost` once closed.
    public func receive() throws(RedisError) -> Event {
        var delay = 0.05
        while true {
            if lock.withLock({ closed }) { throw RedisError(.connectionLost, "subscription closed") }
            do {
                if connection == nil {
                    tries += 1
                    var configuration = RedisConnection.Configuration(url: url.isCluster ? url.node(url.seeds[tries % url.seeds.count]) : url)
                    configuration.commandTimeout = 0
                    configuration.reconnectFor = 0
                    let c = try RedisConnection(configuration)
                    for reply in try c.pipeline([["SUBSCRIBE"] + channels.map { .text($0) }]) {
                        if case let .error(message) = reply { throw RedisError(.server, message) }
                    }
                    // The other channels' confirmations arrive before any message.
                    for _ in 1..<channels.count { _ = try c.read() }
                    lock.withLock { socket = c.socketDescriptor }
                    connection = c
                    delay = 0.05
                    return .subscribed
                }
                let reply = try connection!.read()
                guard let items = reply.array, items.count == 3, items[0].text == "message",
                      let channel = items[1].text, let payload = items[2].bytes else { continue }
                return .message(channel: channel, payload: payload)
            } catch {
                connection = nil
                lock.withLock { socket = -1 }
                if lock.withLock({ closed }) { throw RedisError(.connectionLost, "subscription closed") }
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 2)
            }
        }
    }

    /// Ends the subscription; a thread waiting in ``receive()`` returns with an error.
    public func close() {
        lock.withLock {
            closed = true
            if socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
        }
    }
}
