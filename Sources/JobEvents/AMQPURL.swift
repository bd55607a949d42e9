/// Where RabbitMQ is: `amqp://user:password@host:port/vhost`.
///
/// The default is `amqp://guest:guest@127.0.0.1:5672/`; `AMQP_URL` names another.
public struct AMQPURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var vhost: String

    public static let `default` = AMQPURL(host: "127.0.0.1", port: 5672, user: "guest", password: "guest", vhost: "/")

    public init(host: String, port: Int = 5672, user: String = "guest", password: String = "guest", vhost: String = "/") {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.vhost = vhost
    }

    public init(_ text: String) throws(EventError) {
        func bad(_ why: String) -> EventError { EventError(.badURL, "bad AMQP URL '\(text)': \(why)") }
        guard text.hasPrefix("amqp://") else { throw bad("it must start with amqp://") }
        var rest = Substring(text.dropFirst("amqp://".count))
        var user = "guest", password = "guest", vhost = "/"
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            user = parts[0].percentDecoded
            password = parts.count > 1 ? parts[1].percentDecoded : ""
        }
        if let slash = rest.firstIndex(of: "/") {
            let v = rest[rest.index(after: slash)...]
            vhost = v.isEmpty ? "/" : v.percentDecoded
            rest = rest[..<slash]
        }
        var host = String(rest), port = 5672
        if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else { throw bad("port must be 1...65535") }
            port = p
        }
        if host.isEmpty { throw bad("no host") }
        self.init(host: host, port: port, user: user, password: password, vhost: vhost)
    }

    /// The URL with the password hidden.
    public var description: String { "amqp://\(user):***@\(host):\(port)/\(vhost == "/" ? "" : vhost)" }
    /// The URL with the password, for child processes (not for logs); user,
    /// password and vhost percent-encoded, so that it parses back the same.
    public var full: String {
        "amqp://\(user.percentEncoded):\(password.percentEncoded)@\(host):\(port)/\(vhost == "/" ? "" : vhost.percentEncoded)"
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
        return String(bytes: bytes, encoding: .utf8)
    }
}

extension String {
    /// Every byte but letters, digits and `-._~` as `%XX` (RFC 3986 unreserved).
    var percentEncoded: String {
        var out = ""
        for byte in utf8 {
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
