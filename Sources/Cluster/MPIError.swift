import Failure

/// A failed MPI call, with MPI's own description in the message and its
/// return code as the cause.
public typealias MPIError = CodedError<MPIErrorCode>

public enum MPIErrorCode: String, Sendable {
    /// An MPI call returned an error.
    case callFailed = "mpi_call_failed"
    /// A collective would carry more bytes than MPI's Int32 counts can say.
    case tooLarge = "too_large"
    /// Bytes from another rank that do not parse: a bug, not bad input.
    case malformed
}

/// What an MPI call returned.
public struct MPIReturnCode: Error, Sendable, CustomStringConvertible {
    public let call: String
    public let value: Int32
    public var description: String { "\(call) returned MPI error \(value)" }
}
