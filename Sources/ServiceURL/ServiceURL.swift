import Failure
/// `scheme://[user[:password]@]host[:port][/path]`, as Redis and RabbitMQ
/// URLs are written: the one parser behind `RedisURL` and `AMQPURL`, which
/// give the parts their meaning. User, password and path are
/// percent-decoded, and ``encoded(_:)`` writes them back.
public struct ServiceURL: Sendable, Hashable {
    /// Why a URL cannot be read: the message names the part at fault.
    public typealias Problem = CodedError<ProblemCode>

    public enum ProblemCode: String, Sendable {
        case malformed
    }

    public var host: String
    public var port: Int?
    /// Before the `@`: up to the first `:` (all of it when there is none); nil without an `@`.
    public var user: String?
    /// After that `:`; nil when there is none.
    public var password: String?
    /// After the first `/` following the host; "" when there is none.
    public var path: String

    /// - Parameter scheme: what the text must start with, e.g. `redis` for `redis://`.
    public init(_ text: String, scheme: String) throws(Problem) {
        guard text.hasPrefix(scheme + "://") else { throw Problem(.malformed, "it must start with \(scheme)://") }
        var rest = Substring(text.dropFirst(scheme.count + 3))
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            user = parts[0].percentDecoded
            password = parts.count > 1 ? parts[1].percentDecoded : nil
        }
        path = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...].percentDecoded
            rest = rest[..<slash]
        }
        host = String(rest)
        if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else { throw Problem(.malformed, "port must be 1...65535") }
            port = p
        }
        if host.isEmpty { throw Problem(.malformed, "no host") }
    }

    /// Every byte but letters, digits and `-._~` as `%XX` (RFC 3986 unreserved),
    /// so that a user, password or path written back parses the same.
    public static func encoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}

extension Substring {
    /// `%2F` and friends decoded; the text as it is when they do not make UTF-8.
    var percentDecoded: String { percentDecodedUTF8 ?? String(self) }

    private var percentDecodedUTF8: String? {
        var bytes: [UInt8] = []
        var i = startIndex
        while i < endIndex {
            if self[i] == "%", let a = index(i, offsetBy: 1, limitedBy: endIndex), let b = index(i, offsetBy: 2, limitedBy: endIndex),
               b < endIndex, let v = UInt8(self[a...b], radix: 16) {
                bytes.append(v)
                i = index(i, offsetBy: 3)
            } else {
                bytes.append(contentsOf: Array(String(self[i]).utf8))
                i = index(after: i)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
