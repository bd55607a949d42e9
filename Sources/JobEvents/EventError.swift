/// What went wrong talking to RabbitMQ.
public struct EventError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case badURL = "bad_url"
        case connectionRefused = "connection_refused"
        case authFailed = "auth_failed"
        /// The connection or channel broke, or the broker closed it.
        case connectionLost = "connection_lost"
        /// The broker did not confirm a publish in time, or refused it.
        case notConfirmed = "not_confirmed"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
