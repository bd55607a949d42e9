import CRabbitMQ
import Foundation

/// One connection (and one channel) to RabbitMQ over librabbitmq-c, with
/// blocking calls. Like librabbitmq itself, it belongs to one thread and is
/// never shared; open one per thread.
public final class AMQPConnection {
    let url: AMQPURL
    private var state: amqp_connection_state_t?
    private let channel: amqp_channel_t = 1
    private var confirming = false

    /// Connects, logs in, opens a channel and declares imgproc's exchange and queues.
    /// - Parameters:
    ///   - url: the broker.
    ///   - timeout: seconds to connect and log in.
    public init(url: AMQPURL, timeout: Double = 5) throws(EventError) {
        self.url = url
        guard let conn = amqp_new_connection() else { throw EventError(.connectionRefused, "out of memory") }
        state = conn
        guard let socket = amqp_tcp_socket_new(conn) else {
            close()
            throw EventError(.connectionRefused, "cannot create a socket for RabbitMQ")
        }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        let status = amqp_socket_open_noblock(socket, url.host, Int32(url.port), &tv)
        guard status == AMQP_STATUS_OK.rawValue else {
            let reason = String(cString: amqp_error_string2(status))
            close()
            throw EventError(.connectionRefused, "cannot reach RabbitMQ at \(url): \(reason)")
        }
        guard cimgproc_amqp_login(conn, url.vhost, url.user, url.password, 30) == Int32(AMQP_RESPONSE_NORMAL.rawValue) else {
            let reason = lastError() ?? "login refused"
            close()
            throw EventError(.authFailed, "RabbitMQ at \(url) refused the login: \(reason)")
        }
        amqp_channel_open(conn, channel)
        try check("opening a channel")
        try declareTopology()
    }

    deinit { close() }

    private func lastError() -> String? {
        guard let state else { return "not connected" }
        var buffer = [CChar](repeating: 0, count: 512)
        guard cimgproc_amqp_last_error(state, &buffer, buffer.count) != 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func check(_ what: String) throws(EventError) {
        if let reason = lastError() {
            close()
            throw EventError(.connectionLost, "RabbitMQ at \(url), \(what): \(reason)")
        }
    }

    /// The durable topic exchange imgproc.events and the durable queues bound to it.
    private func declareTopology() throws(EventError) {
        guard let state else { throw EventError(.connectionLost, "not connected") }
        bytes(EventTopology.exchange) { exchange in
            bytes("topic") { type in
                _ = amqp_exchange_declare(state, channel, exchange, type, 0, 1, 0, 0, cimgproc_amqp_empty_table())
            }
        }
        try check("declaring the exchange")
        for (queue, key) in EventTopology.bindings {
            bytes(queue) { q in _ = amqp_queue_declare(state, channel, q, 0, 1, 0, 0, cimgproc_amqp_empty_table()) }
            try check("declaring queue \(queue)")
            bytes(queue) { q in
                bytes(EventTopology.exchange) { exchange in
                    bytes(key) { k in _ = amqp_queue_bind(state, channel, q, exchange, k, cimgproc_amqp_empty_table()) }
                }
            }
            try check("binding queue \(queue)")
        }
    }

    /// A string as amqp_bytes_t, valid inside `body` only.
    private func bytes<R>(_ text: String, _ body: (amqp_bytes_t) -> R) -> R {
        text.withCString { body(cimgproc_amqp_bytes($0)) }
    }

    public var isOpen: Bool { state != nil }

    public func close() {
        guard let state else { return }
        amqp_channel_close(state, channel, Int32(AMQP_REPLY_SUCCESS))
        amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS))
        amqp_destroy_connection(state)
        self.state = nil
    }

    /// Publishes a persistent message and waits for the broker's confirm.
    /// - Parameters:
    ///   - body: the message (an event's JSON).
    ///   - routingKey: `job.created` or `job.done`.
    ///   - timeout: seconds to wait for the broker's confirm.
    public func publish(_ body: [UInt8], routingKey: String, confirmWithin timeout: Double = 5) throws(EventError) {
        guard let state else { throw EventError(.connectionLost, "not connected to RabbitMQ") }
        if !confirming {
            amqp_confirm_select(state, channel)
            try check("turning on publisher confirms")
            confirming = true
        }
        let status = body.withUnsafeBytes { p in
            cimgproc_amqp_publish(state, channel, EventTopology.exchange, routingKey, p.baseAddress, p.count)
        }
        guard status == AMQP_STATUS_OK.rawValue else {
            close()
            throw EventError(.connectionLost, "publishing to RabbitMQ at \(url): \(String(cString: amqp_error_string2(status)))")
        }
        switch cimgproc_amqp_wait_confirm(state, Int32(timeout * 1000)) {
        case 1: return
        case 0: throw EventError(.notConfirmed, "RabbitMQ refused the message (nack)")
        default:
            close()
            throw EventError(.notConfirmed, "RabbitMQ at \(url) did not confirm the message in time")
        }
    }

    /// Starts consuming `queue` with manual acks, `prefetch` messages at a time.
    /// - Parameters:
    ///   - queue: a queue of the topology (``EventTopology``).
    ///   - prefetch: most unacknowledged messages the broker sends ahead.
    public func consume(_ queue: String, prefetch: UInt16 = 16) throws(EventError) {
        guard let state else { throw EventError(.connectionLost, "not connected to RabbitMQ") }
        amqp_basic_qos(state, channel, 0, prefetch, 0)
        try check("setting the prefetch")
        bytes(queue) { q in _ = amqp_basic_consume(state, channel, q, amqp_empty_bytes, 0, 0, 0, cimgproc_amqp_empty_table()) }
        try check("consuming \(queue)")
    }

    /// A delivered message: its body and the tag to ack it with.
    public struct Delivery {
        public let body: [UInt8]
        public let tag: UInt64
        public let routingKey: String
    }

    /// The next delivery, waiting up to `timeout` seconds; nil on timeout.
    public func next(timeout: Double) throws(EventError) -> Delivery? {
        guard let state else { throw EventError(.connectionLost, "not connected to RabbitMQ") }
        var envelope = amqp_envelope_t()
        switch cimgproc_amqp_consume(state, &envelope, Int32(timeout * 1000)) {
        case 1:
            defer { amqp_destroy_envelope(&envelope) }
            let body = Array(UnsafeRawBufferPointer(start: envelope.message.body.bytes, count: envelope.message.body.len))
            let key = String(decoding: UnsafeRawBufferPointer(start: envelope.routing_key.bytes, count: envelope.routing_key.len),
                             as: UTF8.self)
            return Delivery(body: body, tag: envelope.delivery_tag, routingKey: key)
        case 0:
            return nil
        default:
            close()
            throw EventError(.connectionLost, "lost the connection to RabbitMQ at \(url)")
        }
    }

    /// Consumes every event whose routing key matches `pattern` on a fresh
    /// exclusive queue of this connection's own (for tests and monitoring).
    public func listen(to pattern: String) throws(EventError) {
        guard let state else { throw EventError(.connectionLost, "not connected to RabbitMQ") }
        let declared = amqp_queue_declare(state, channel, amqp_empty_bytes, 0, 0, 1, 1, cimgproc_amqp_empty_table())
        try check("declaring a private queue")
        guard let name = declared?.pointee.queue else { throw EventError(.connectionLost, "no queue name") }
        let queue = String(decoding: UnsafeRawBufferPointer(start: name.bytes, count: name.len), as: UTF8.self)
        bytes(queue) { q in
            bytes(EventTopology.exchange) { exchange in
                bytes(pattern) { k in _ = amqp_queue_bind(state, channel, q, exchange, k, cimgproc_amqp_empty_table()) }
            }
        }
        try check("binding a private queue")
        try consume(queue)
    }

    /// Acknowledges a delivery once its work is done.
    public func ack(_ tag: UInt64) throws(EventError) {
        guard let state else { throw EventError(.connectionLost, "not connected to RabbitMQ") }
        guard amqp_basic_ack(state, channel, tag, 0) == AMQP_STATUS_OK.rawValue else {
            close()
            throw EventError(.connectionLost, "acknowledging to RabbitMQ at \(url) failed")
        }
    }
}
