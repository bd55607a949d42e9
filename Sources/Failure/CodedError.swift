/// The shape every imgproc error follows: a code a program can act on (stable
/// text, as the API and logs show it), a message for people, and the error
/// underneath when there is one.
public protocol CodedFailure<Code>: Error, Sendable, CustomStringConvertible {
    associatedtype Code: RawRepresentable & Sendable where Code.RawValue == String
    var code: Code { get }
    var message: String { get }
    /// What failed underneath (a system call's error, a library's), if anything.
    var cause: (any Error & Sendable)? { get }
}

/// The usual ``CodedFailure``. Each module names its codes and its error:
/// `typealias RedisError = CodedError<RedisErrorCode>`.
public struct CodedError<Code: RawRepresentable & Sendable>: CodedFailure where Code.RawValue == String {
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
