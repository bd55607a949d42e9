import Failure

/// Why a bench run stopped: it measures nothing once a job fails.
typealias BenchError = CodedError<BenchErrorCode>

enum BenchErrorCode: String, Sendable {
    /// The HTTP exchange with the server broke.
    case http
    case jobFailed = "job_failed"
    case timedOut = "timed_out"
}
