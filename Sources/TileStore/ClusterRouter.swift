import Foundation
import Logging

/// Routes commands over a Redis Cluster: each goes to the master holding its
/// key's slot (CRC16 of the key's hash tag; the slot map from CLUSTER SLOTS),
/// and redirections are followed: MOVED (the map changed: it is read again)
/// and ASK (a slot being migrated: that one command goes to the other node,
/// after ASKING). Commands without a key go to one node, or to every master
/// (SCRIPT, FLUSHDB, KEYS); DEL, UNLINK and EXISTS over keys of several slots
/// are split and their counts added.
///
/// imgproc's keys are laid out for this: a job's keys share the hash tag
/// `{ID}`, a round's `{round:CONSUMER}`, and no script touches two slots.
/// Belongs to its ``RedisConnection``, and so to one thread at a time.
package final class ClusterRouter {
    private let configuration: RedisConnection.Configuration
    private let logger: Logger
    /// The master of each slot, nil until learnt.
    private var slots = [RedisURL.Node?](repeating: nil, count: 16384)
    private var masters: [RedisURL.Node] = []
    private var connections: [RedisURL.Node: RedisConnection] = [:]
    private var mapped = false

    init(_ configuration: RedisConnection.Configuration, logger: Logger) throws(RedisError) {
        self.configuration = configuration
        self.logger = logger
        try learnSlots()
    }

    // MARK: Slots

    /// The slot of a key: CRC16 (XMODEM) of its hash tag (the text between
    /// the first `{` and the next `}`, when not empty) or of the whole key, mod 16384.
    package static func slot(_ key: [UInt8]) -> Int {
        var part = key[...]
        if let open = key.firstIndex(of: UInt8(ascii: "{")),
           let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            part = key[(open + 1)..<close]
        }
        var crc: UInt16 = 0
        for byte in part {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return Int(crc) & 16383
    }

    /// Reads the slot map from the masters known, else from the seeds.
    private func learnSlots() throws(RedisError) {
        var last = RedisError(.connectionRefused, "no node of the Redis Cluster \(configuration.url) answered")
        var candidates: [RedisURL.Node] = []
        for node in masters + configuration.url.seeds where !candidates.contains(node) { candidates.append(node) }
        for node in candidates {
            do throws(RedisError) {
                let reply = try connection(node).command(["CLUSTER", "SLOTS"])
                var table = [RedisURL.Node?](repeating: nil, count: 16384)
                var found: [RedisURL.Node] = []
                for range in reply.array ?? [] {
                    guard let items = range.array, items.count >= 3, let start = items[0].int, let end = items[1].int,
                          let address = items[2].array, address.count >= 2, let port = address[1].int,
                          (0...end).contains(start), end < 16384 else { continue }
                    // An empty host means: the address this node was reached at.
                    let host = address[0].text.flatMap { $0.isEmpty || $0 == "?" ? nil : $0 } ?? node.host
                    let master = RedisURL.Node(host: host, port: port)
                    if !found.contains(master) { found.append(master) }
                    for slot in start...end { table[slot] = master }
                }
                guard !found.isEmpty else { throw RedisError(.server, "\(node.host):\(node.port) is not part of a cluster with slots") }
                slots = table
                masters = found
                mapped = true
                return
            } catch {
                lost(node, error)
                last = error
            }
        }
        throw last
    }

    private func connection(_ node: RedisURL.Node) throws(RedisError) -> RedisConnection {
        if let known = connections[node] { return known }
        var nodeConfiguration = configuration
        nodeConfiguration.url = configuration.url.node(node)
        let made = try RedisConnection(nodeConfiguration, logger: logger)
        connections[node] = made
        return made
    }

    // MARK: Routing

    private enum Route {
        case key([UInt8])
        case anyNode
        case everyMaster
        /// A command over several keys, split by slot with its counts added.
        case split(name: RedisArgument, keys: [RedisArgument])
    }

    static func bytes(_ argument: RedisArgument) -> [UInt8] {
        switch argument {
        case let .text(s): return Array(s.utf8)
        case let .bytes(b): return b
        }
    }

    private static func route(_ args: [RedisArgument]) -> Route {
        guard let first = args.first else { return .anyNode }
        let name = String(decoding: bytes(first), as: UTF8.self).uppercased()
        switch name {
        case "EVALSHA", "EVAL":
            guard args.count > 3, let n = Int(String(decoding: bytes(args[2]), as: UTF8.self)), n > 0 else { return .anyNode }
            return .key(bytes(args[3]))
        case "XREADGROUP", "XREAD":
            guard let at = args.firstIndex(where: { String(decoding: bytes($0), as: UTF8.self).uppercased() == "STREAMS" }),
                  at + 1 < args.count else { return .anyNode }
            return .key(bytes(args[at + 1]))
        case "SCRIPT", "FLUSHDB", "FLUSHALL", "KEYS", "DBSIZE":
            return .everyMaster
        case "PING", "INFO", "CLIENT", "PUBLISH", "TIME", "CLUSTER", "ECHO", "COMMAND", "CONFIG":
            return .anyNode
        case "DEL", "UNLINK", "EXISTS", "TOUCH":
            guard args.count > 1 else { return .anyNode }
            let keys = Array(args.dropFirst())
            let slot = Self.slot(bytes(keys[0]))
            return keys.allSatisfy({ Self.slot(bytes($0)) == slot }) ? .key(bytes(keys[0])) : .split(name: first, keys: keys)
        default:
            return args.count > 1 ? .key(bytes(args[1])) : .anyNode
        }
    }

    private func master(for key: [UInt8]) throws(RedisError) -> RedisURL.Node {
        if !mapped { try learnSlots() }
        guard let node = slots[Self.slot(key)] ?? masters.first else {
            throw RedisError(.server, "the Redis Cluster \(configuration.url) serves no slot")
        }
        return node
    }

    private func anyNode() throws(RedisError) -> RedisURL.Node {
        if !mapped { try learnSlots() }
        guard let node = masters.first else { throw RedisError(.server, "the Redis Cluster \(configuration.url) has no master") }
        return node
    }

    /// A redirection in an error reply: `MOVED slot host:port` or `ASK slot host:port`.
    private static func redirection(_ reply: RedisReply) -> (ask: Bool, node: RedisURL.Node)? {
        guard case let .error(message) = reply, message.hasPrefix("MOVED ") || message.hasPrefix("ASK ") else { return nil }
        let parts = message.split(separator: " ")
        guard parts.count >= 3, let colon = parts[2].lastIndex(of: ":"), let port = Int(parts[2][parts[2].index(after: colon)...]) else { return nil }
        return (message.hasPrefix("ASK "), RedisURL.Node(host: String(parts[2][..<colon]), port: port))
    }

    /// Sends one command to `node`, following up to five redirections; the
    /// reply may be an error reply. A node that cannot be reached makes the
    /// slot map be read again before the next command.
    private func send(_ args: [RedisArgument], to first: RedisURL.Node) throws(RedisError) -> RedisReply {
        var node = first, asking = false
        for _ in 0..<6 {
            let reply: RedisReply
            do {
                let c = try connection(node)
                reply = asking ? try c.pipeline([["ASKING"], args])[1] : try c.pipeline([args])[0]
            } catch {
                lost(node, error)
                throw error
            }
            guard let redirect = Self.redirection(reply) else { return reply }
            if !redirect.ask {
                // The map changed (a failover, a resharding): read it again.
                mapped = false
                try? learnSlots()
            }
            node = redirect.node
            asking = redirect.ask
        }
        throw RedisError(.server, "too many redirections for \(String(decoding: Self.bytes(args[0]), as: UTF8.self))")
    }

    /// One command, routed; error replies are returned, not thrown.
    func reply(_ args: [RedisArgument]) throws(RedisError) -> RedisReply {
        switch Self.route(args) {
        case let .key(key):
            return try send(args, to: try master(for: key))
        case .anyNode:
            return try send(args, to: try anyNode())
        case .everyMaster:
            let replies = try replies(onEveryMaster: args)
            if let failed = replies.first(where: { if case .error = $0 { return true } else { return false } }) { return failed }
            // KEYS: every master's keys; DBSIZE: their sum; others: one reply stands for all.
            if case .array = replies.first { return .array(replies.flatMap { $0.array ?? [] }) }
            if case .integer = replies.first { return .integer(replies.reduce(0) { $0 + ($1.int ?? 0) }) }
            return replies.first ?? .null
        case let .split(name, keys):
            var bySlot: [Int: [RedisArgument]] = [:]
            for key in keys { bySlot[Self.slot(Self.bytes(key)), default: []].append(key) }
            var total = 0
            for (_, group) in bySlot.sorted(by: { $0.key < $1.key }) {
                let reply = try send([name] + group, to: try master(for: Self.bytes(group[0])))
                if case .error = reply { return reply }
                total += reply.int ?? 0
            }
            return .integer(total)
        }
    }

    /// Several commands: each master gets its share in one round trip;
    /// replies come back in the order of `commands`. Order is kept on each
    /// node, which is what matters: commands on keys of one slot (one job)
    /// run in the order given. A command without a single slot (split, or
    /// keyless) waits for the ones before it and runs alone; a redirected one
    /// is sent again where it belongs.
    func pipeline(_ commands: [[RedisArgument]]) throws(RedisError) -> [RedisReply] {
        var replies = [RedisReply](repeating: .null, count: commands.count)
        var byNode: [RedisURL.Node: [Int]] = [:]
        var order: [RedisURL.Node] = []
        func flush() throws(RedisError) {
            for node in order {
                let indexes = byNode[node]!
                let got: [RedisReply]
                do { got = try connection(node).pipeline(indexes.map { commands[$0] }) } catch {
                    lost(node, error)
                    throw error
                }
                for (i, reply) in zip(indexes, got) {
                    replies[i] = Self.redirection(reply) == nil ? reply : try self.reply(commands[i])
                }
            }
            byNode = [:]
            order = []
        }
        for (i, args) in commands.enumerated() {
            guard case let .key(key) = Self.route(args) else {
                try flush()
                replies[i] = try reply(args)
                continue
            }
            let node = try master(for: key)
            if byNode[node] == nil { order.append(node) }
            byNode[node, default: []].append(i)
        }
        try flush()
        return replies
    }

    /// A node that could not be reached, or broke the connection: its
    /// connection is dropped (a new one fails at once if it is down, where the
    /// old one would keep trying to reconnect) and the slot map is read again
    /// before the next command, from the nodes still up: after a failover it
    /// names the replica that took over.
    private func lost(_ node: RedisURL.Node, _ error: RedisError) {
        guard error.code == .connectionRefused || error.code == .connectionLost || error.code == .timeout else { return }
        connections[node]?.close()
        connections[node] = nil
        mapped = false
    }

    /// `args` on every master, one reply each (error replies included).
    func replies(onEveryMaster args: [RedisArgument]) throws(RedisError) -> [RedisReply] {
        if !mapped { try learnSlots() }
        var replies: [RedisReply] = []
        for node in masters { replies.append(try send(args, to: node)) }
        return replies
    }

    /// The master of `key`'s slot, for reads that bypass ``reply(_:)``.
    func connection(forKey key: [UInt8]) throws(RedisError) -> RedisConnection {
        try connection(try master(for: key))
    }

    func close() {
        for c in connections.values { c.close() }
    }
}
