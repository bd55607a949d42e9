import Failure

/// What went wrong talking to RabbitMQ.
public typealias EventError = CodedError<EventErrorCode>

public enum EventErrorCode: String, Sendable {
        case badURL = "bad_url"
        case connectionRefused = "connection_refused"
        case authFailed = "auth_failed"
        /// The connection or channel broke, or the broker closed it.
        case connectionLost = "connection_lost"
        /// The broker did not confirm a publish in time, or refused it.
        case notConfirmed = "not_confirmed"
}
