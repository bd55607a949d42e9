/// The shape of imgproc's errors: a code a program can act on (stable text,
/// as the API and logs show it), a message for people, and the error
/// underneath when there is one. Each module names its codes and its error:
/// `typealias RedisError = CodedError<RedisErrorCode>`.
public struct CodedError<Code: RawRepresentable & Sendable>: Error, Sendable, CustomStringConvertible where Code.RawValue == String {
    public let code: Code
    public let message: String
    /// What failed underneath (a system call's error, a library's), if anything.
    public let cause: (any Error & Sendable)?

    /// - Parameters:
    ///   - code: what kind of failure, for programs.
    ///   - message: what went wrong, for people.
    ///   - cause: the error underneath, if any.
    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }
}
