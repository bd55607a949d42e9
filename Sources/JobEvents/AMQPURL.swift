import ServiceURL

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

    /// - Parameters:
    ///   - host: the broker's host.
    ///   - port: its AMQP port.
    ///   - user: the user to log in as.
    ///   - password: its password.
    ///   - vhost: the virtual host.
    public init(host: String, port: Int = 5672, user: String = "guest", password: String = "guest", vhost: String = "/") {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.vhost = vhost
    }

    public init(_ text: String) throws(EventError) {
        let url: ServiceURL
        do { url = try ServiceURL(text, scheme: "amqp") } catch {
            throw EventError(.badURL, "bad AMQP URL '\(text)': \(error.message)")
        }
        self.init(host: url.host, port: url.port ?? 5672, user: url.user ?? "guest",
                  password: url.user == nil ? "guest" : url.password ?? "", vhost: url.path.isEmpty ? "/" : url.path)
    }

    /// The URL with the password hidden.
    public var description: String { "amqp://\(user):***@\(host):\(port)/\(vhost == "/" ? "" : vhost)" }
    /// The URL with the password, for child processes (not for logs); user,
    /// password and vhost percent-encoded, so that it parses back the same.
    public var full: String {
        "amqp://\(ServiceURL.encoded(user)):\(ServiceURL.encoded(password))@\(host):\(port)/\(vhost == "/" ? "" : ServiceURL.encoded(vhost))"
    }
}
