import Backoff
import CHiredis
import Foundation
import Logging

/// hiredis writes with write(2): a write to a Redis that has gone away
/// raises SIGPIPE, which ends the process unless ignored (then the write
/// fails with EPIPE and the command throws `.connectionLost`). Ignored once,
/// for the whole process, as swift-nio does for its sockets.
private let sigpipeIgnored: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

/// One connection to Redis over hiredis, with blocking calls.
///
/// Concurrency rule: a connection belongs to one thread (or one task) at a
/// time and is never shared; open one per thread. It is not `Sendable`.
///
/// When the connection breaks, the failing command throws `.connectionLost`
/// (it may or may not have run: only the caller knows whether to resend it);
/// the next command first reconnects, retrying with backoff for up to
/// ``Configuration/reconnectFor``.
public final class RedisConnection {
    public struct Configuration: Sendable {
        public var url: RedisURL
        public var connectTimeout: Double = 5
        /// Longest wait for one reply, in seconds (blocking reads add their own block
        /// time); 0 waits forever (subscriptions).
        public var commandTimeout: Double = 60
        /// How long the next command keeps trying to reconnect after a break, in seconds.
        public var reconnectFor: Double = 30

        public init(url: RedisURL) { self.url = url }
    }

    public let configuration: Configuration
    private var context: UnsafeMutablePointer<redisContext>?
    private let logger: Logger

    /// Connects, authenticates and selects the database.
    /// - Throws: ``RedisError`` `.connectionRefused`, `.authFailed`, `.timeout`.
    public init(_ configuration: Configuration, logger: Logger = Logger(label: "imgproc.redis")) throws(RedisError) {
        self.configuration = configuration
        self.logger = logger
        try connect()
    }

    public convenience init(url: RedisURL) throws(RedisError) {
        try self.init(Configuration(url: url))
    }

    deinit {
        if let context { redisFree(context) }
    }

    private static func timeval(_ seconds: Double) -> Glibc.timeval {
        Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
    }

    private func connect() throws(RedisError) {
        _ = sigpipeIgnored
        if let context { redisFree(context); self.context = nil }
        let url = configuration.url
        guard let c = redisConnectWithTimeout(url.host, Int32(url.port), Self.timeval(configuration.connectTimeout)) else {
            throw RedisError(.connectionRefused, "cannot reach Redis at \(url): out of memory")
        }
        if c.pointee.err != 0 {
            let reason = String(cString: errorText(c))
            redisFree(c)
            throw RedisError(.connectionRefused, "cannot reach Redis at \(url): \(reason)")
        }
        if configuration.commandTimeout > 0 { redisSetTimeout(c, Self.timeval(configuration.commandTimeout)) }
        redisEnableKeepAlive(c)
        context = c
        if let password = url.password {
            let args: [RedisArgument] = url.user.map { ["AUTH", .text($0), .text(password)] } ?? ["AUTH", .text(password)]
            var refusal: String?
            do {
                if case let .error(message) = try send(args) { refusal = message }
            } catch {
                refusal = error.message
            }
            if let refusal {
                close()
                throw RedisError(.authFailed, "Redis at \(url) refused the password: \(refusal)")
            }
        }
        if url.database != 0, case let .error(message) = try send(["SELECT", .int(url.database)]) {
            close()
            throw RedisError(message.hasPrefix("NOAUTH") ? .authFailed : .server, "Redis at \(url): \(message)")
        }
    }

    private func errorText(_ c: UnsafeMutablePointer<redisContext>) -> UnsafePointer<CChar> {
        withUnsafePointer(to: &c.pointee.errstr) { $0.withMemoryRebound(to: CChar.self, capacity: 128) { $0 } }
    }

    /// Makes sure the connection is up, reconnecting with backoff after a break.
    private func ensureConnected() throws(RedisError) {
        if context != nil { return }
        let deadline = Date().addingTimeInterval(configuration.reconnectFor)
        var backoff = Backoff(first: 0.05, ceiling: 2)
        while true {
            do {
                try connect()
                logger.info("reconnected to Redis", metadata: ["url": "\(configuration.url)"])
                return
            } catch where error.code == .connectionRefused && Date() < deadline {
                Thread.sleep(forTimeInterval: backoff.next())
            }
        }
    }

    /// Runs one command and returns its reply.
    /// - Throws: ``RedisError``: `.server` for an error reply, `.connectionLost`, `.timeout`.
    @discardableResult
    public func command(_ args: [RedisArgument]) throws(RedisError) -> RedisReply {
        try ensureConnected()
        let reply = try send(args)
        if case let .error(message) = reply {
            if message.hasPrefix("NOAUTH") || message.hasPrefix("WRONGPASS") {
                throw RedisError(.authFailed, "Redis at \(configuration.url) wants a password: \(message)")
            }
            throw RedisError(.server, message)
        }
        return reply
    }

    /// Sends several commands in one round trip and returns their replies in
    /// order; error replies are returned, not thrown.
    public func pipeline(_ commands: [[RedisArgument]]) throws(RedisError) -> [RedisReply] {
        try ensureConnected()
        guard let c = context else { throw RedisError(.connectionLost, "not connected") }
        for args in commands {
            withArgv(args) { argc, argv, lengths in _ = redisAppendCommandArgv(c, argc, argv, lengths) }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands { replies.append(try readReply(c)) }
        return replies
    }

    /// Reads one more reply (a pub/sub message on a subscribed connection).
    func read() throws(RedisError) -> RedisReply {
        guard let c = context else { throw RedisError(.connectionLost, "not connected") }
        return try readReply(c)
    }

    /// The socket, for shutting it down from another thread.
    var socketDescriptor: Int32 { context?.pointee.fd ?? -1 }

    /// Closes the connection; the next command reconnects.
    public func close() {
        if let context { redisFree(context) }
        context = nil
    }

    private func send(_ args: [RedisArgument]) throws(RedisError) -> RedisReply {
        guard let c = context else { throw RedisError(.connectionLost, "not connected") }
        withArgv(args) { argc, argv, lengths in _ = redisAppendCommandArgv(c, argc, argv, lengths) }
        return try readReply(c)
    }

    private func readReply(_ c: UnsafeMutablePointer<redisContext>) throws(RedisError) -> RedisReply {
        var raw: UnsafeMutableRawPointer?
        if redisGetReply(c, &raw) != REDIS_OK || raw == nil {
            let reason = String(cString: errorText(c))
            let timedOut = c.pointee.err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK || reason.contains("temporarily"))
            // A broken context cannot be reused: drop it, the next command reconnects.
            close()
            if timedOut { throw RedisError(.timeout, "no reply from Redis at \(configuration.url) in time") }
            throw RedisError(.connectionLost, "lost the connection to Redis at \(configuration.url): \(reason)")
        }
        let reply = raw!.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return Self.convert(reply)
    }

    private static func convert(_ r: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let reply = r.pointee
        func bytes() -> [UInt8] {
            guard let s = reply.str, reply.len > 0 else { return [] }
            return Array(UnsafeRawBufferPointer(start: s, count: Int(reply.len)))
        }
        switch reply.type {
        case REDIS_REPLY_STRING: return .string(bytes())
        case REDIS_REPLY_STATUS: return .status(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: return .integer(Int(reply.integer))
        case REDIS_REPLY_ARRAY:
            return .array((0..<Int(reply.elements)).map { convert(reply.element[$0]!) })
        default: return .null
        }
    }

    /// Lends hiredis an argv: every argument copied into one buffer (hiredis
    /// copies it again into its output buffer, so this is not the costly part).
    private func withArgv(_ args: [RedisArgument],
                          _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafeMutablePointer<Int>) -> Void) {
        let total = args.reduce(0) { $0 + $1.count }
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(total, 1))
        let argv = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: args.count)
        let lengths = UnsafeMutablePointer<Int>.allocate(capacity: args.count)
        defer { buffer.deallocate(); argv.deallocate(); lengths.deallocate() }
        var offset = 0
        for (i, arg) in args.enumerated() {
            arg.copy(into: buffer + offset)
            argv[i] = UnsafeRawPointer(buffer + offset).assumingMemoryBound(to: CChar.self)
            lengths[i] = arg.count
            offset += arg.count
        }
        body(Int32(args.count), argv, lengths)
    }
}
