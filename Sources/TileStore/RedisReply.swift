/// A Redis reply (RESP2), with binary-safe strings.
public enum RedisReply: Sendable, Equatable {
    case string([UInt8])
    case status(String)
    case integer(Int)
    case array([RedisReply])
    case null
    case error(String)

    /// The reply as text, for strings and statuses.
    public var text: String? {
        switch self {
        case let .string(bytes): return String(decoding: bytes, as: UTF8.self)
        case let .status(s): return s
        case let .integer(i): return String(i)
        default: return nil
        }
    }

    public var bytes: [UInt8]? {
        if case let .string(b) = self { return b }
        return nil
    }

    /// Integers, and strings holding integers (as Lua and hashes return them).
    public var int: Int? {
        switch self {
        case let .integer(i): return i
        case let .string(b): return Int(String(decoding: b, as: UTF8.self))
        default: return nil
        }
    }

    public var array: [RedisReply]? {
        if case let .array(a) = self { return a }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// A flat `[field, value, ...]` array as a dictionary of byte values.
    public var fields: [String: [UInt8]] {
        guard let items = array else { return [:] }
        var out: [String: [UInt8]] = [:]
        var i = 0
        while i + 1 < items.count {
            if let k = items[i].text, let v = items[i + 1].bytes ?? items[i + 1].text.map({ Array($0.utf8) }) { out[k] = v }
            i += 2
        }
        return out
    }
}

/// An argument of a Redis command: text, a number or raw bytes.
public enum RedisArgument: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case text(String)
    case bytes([UInt8])

    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int) { self = .text(String(value)) }
    public static func int(_ v: Int) -> RedisArgument { .text(String(v)) }

    var count: Int {
        switch self {
        case let .text(s): return s.utf8.count
        case let .bytes(b): return b.count
        }
    }

    func copy(into p: UnsafeMutablePointer<UInt8>) {
        switch self {
        case let .text(s): _ = UnsafeMutableBufferPointer(start: p, count: s.utf8.count).initialize(from: s.utf8)
        case let .bytes(b): b.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: b.count) }
        }
    }
}
