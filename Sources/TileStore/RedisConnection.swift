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
///
/// A `redis+cluster://` URL makes it a connection to a Redis Cluster: a
/// ``ClusterRouter`` sends each command to the node that holds its key.
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
    /// Set on a cluster: it holds one connection per node.
    private var router: ClusterRouter?

    /// Connects, authenticates and selects the database.
    /// - Throws: ``RedisError`` `.connectionRefused`, `.authFailed`, `.timeout`.
    /// - Parameters:
    ///   - configuration: the URL and the timeouts.
    ///   - logger: where reconnections are logged.
    public init(_ configuration: Configuration, logger: Logger = Logger(label: "imgproc.redis")) throws(RedisError) {
        self.configuration = configuration
        self.logger = logger
        if configuration.url.isCluster {
            router = try ClusterRouter(configuration, logger: logger)
        } else {
            try connect()
        }
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
        let reply: RedisReply
        if let router {
            reply = try router.reply(args)
        } else {
            try ensureConnected()
            reply = try send(args)
        }
        if case let .error(message) = reply {
            if message.hasPrefix("NOAUTH") || message.hasPrefix("WRONGPASS") {
                throw RedisError(.authFailed, "Redis at \(configuration.url) wants a password: \(message)")
            }
            throw RedisError(.server, message)
        }
        return reply
    }

    /// A command without a key on every master of a cluster (on the one
    /// Redis otherwise), one reply each: for figures to add up (INFO).
    public func commandOnEveryMaster(_ args: [RedisArgument]) throws(RedisError) -> [RedisReply] {
        guard let router else { return [try command(args)] }
        let replies = try router.replies(onEveryMaster: args)
        for case let .error(message) in replies { throw RedisError(.server, message) }
        return replies
    }

    /// Sends several commands in one round trip and returns their replies in
    /// order; error replies are returned, not thrown.
    public func pipeline(_ commands: [[RedisArgument]]) throws(RedisError) -> [RedisReply] {
        if let router { return try router.pipeline(commands) }
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

    /// Runs a command whose reply is one string (GET, GETRANGE) and reads the
    /// string from the socket straight into the array it returns. hiredis
    /// would read it 16 KiB at a time into a buffer it grows and then copy it
    /// twice: a worker's fetch of an 8.5 MB original took 14-25 ms that way,
    /// 8-12 ms this way (about Redis's own pace of sending it).
    /// Any other reply (an error, nil) goes back through hiredis's reader.
    /// - Returns: the string, or nil for a nil reply.
    /// - Throws: ``RedisError``: `.server` for an error reply, `.connectionLost`, `.timeout`.
    public func bulk(_ args: [RedisArgument]) throws(RedisError) -> [UInt8]? {
        if let router, args.count > 1 {
            do { return try router.connection(forKey: ClusterRouter.bytes(args[1])).bulk(args) } catch where error.code == .server {
                // Redirected (the slot moved): the router follows it.
                return try command(args).bytes
            }
        }
        try ensureConnected()
        guard let c = context, let reader = c.pointee.reader, reader.pointee.pos == reader.pointee.len else {
            return try command(args).bytes
        }
        withArgv(args) { argc, argv, lengths in _ = redisAppendCommandArgv(c, argc, argv, lengths) }
        var done: Int32 = 0
        repeat {
            guard redisBufferWrite(c, &done) == REDIS_OK else { throw broken(String(cString: errorText(c))) }
        } while done == 0
        // The header line, and perhaps the first bytes of the string.
        let head = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
        defer { head.deallocate() }
        var have = 0
        var lineEnd: Int?
        while lineEnd == nil && have < head.count {
            have += try receive(c, into: UnsafeMutableRawBufferPointer(rebasing: head[have...]))
            lineEnd = head[..<have].firstRange(of: [13, 10])?.lowerBound
        }
        guard head[0] == UInt8(ascii: "$"), let end = lineEnd,
              let length = Int(String(decoding: head[1..<end], as: UTF8.self)), length >= 0 else {
            // Not a string: hiredis parses what came and reads the rest.
            _ = redisReaderFeed(reader, head.baseAddress!.assumingMemoryBound(to: CChar.self), have)
            let reply = try readReply(c)
            if case let .error(message) = reply { throw RedisError(.server, message) }
            return reply.bytes
        }
        let first = end + 2, early = min(length, have - first)
        var trailer = 2 - (have - first - early)
        let value = try [UInt8](unsafeUninitializedCapacity: length) { (buffer, count) throws(RedisError) in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: head[first..<(first + early)]))
            var filled = early
            while filled < length { filled += try receive(c, into: UnsafeMutableRawBufferPointer(rebasing: raw[filled...])) }
            count = length
        }
        while trailer > 0 { trailer -= try receive(c, into: UnsafeMutableRawBufferPointer(rebasing: head[..<trailer])) }
        return value
    }

    /// One recv(2) on the connection's blocking socket (its timeout is hiredis's).
    private func receive(_ c: UnsafeMutablePointer<redisContext>, into buffer: UnsafeMutableRawBufferPointer) throws(RedisError) -> Int {
        while true {
            let n = recv(c.pointee.fd, buffer.baseAddress, buffer.count, 0)
            if n > 0 { return n }
            if n < 0 && errno == EINTR { continue }
            throw broken(n == 0 ? "Redis closed the connection" : String(cString: strerror(errno)),
                         timedOut: n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        }
    }

    /// Drops a connection that broke (a broken hiredis context cannot be
    /// reused; the next command reconnects) and says why.
    private func broken(_ reason: String, timedOut: Bool = false) -> RedisError {
        close()
        if timedOut { return RedisError(.timeout, "no reply from Redis at \(configuration.url) in time") }
        return RedisError(.connectionLost, "lost the connection to Redis at \(configuration.url): \(reason)")
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
        router?.close()
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
            throw broken(reason, timedOut: c.pointee.err == REDIS_ERR_IO
                         && (errno == EAGAIN || errno == EWOULDBLOCK || reason.contains("temporarily")))
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
