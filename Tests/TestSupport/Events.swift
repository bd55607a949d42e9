import Foundation

/// The RabbitMQ of the tests: AMQP_URL (make test starts one), or none.
public let sharedAMQPURL: String? = {
    let url = ProcessInfo.processInfo.environment["AMQP_URL"]
    return url?.isEmpty == false ? url : nil
}()
