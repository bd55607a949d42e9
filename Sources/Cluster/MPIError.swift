/// An MPI call that failed, with MPI's own description.
public struct MPIError: Error, Sendable, CustomStringConvertible {
    public let call: String
    public let code: Int32
    public let message: String
    public var description: String { "\(call) failed: \(message) (MPI error \(code))" }
}
