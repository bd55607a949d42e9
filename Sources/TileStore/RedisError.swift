import Failure

/// What went wrong talking to Redis.
public typealias RedisError = CodedError<RedisErrorCode>

public enum RedisErrorCode: String, Sendable {
        case badURL = "bad_url"
        /// Nothing listens at the address, or it cannot be reached in time.
        case connectionRefused = "connection_refused"
        /// AUTH was refused (or Redis wants a password and none was given).
        case authFailed = "auth_failed"
        /// A command got no reply in time.
        case timeout
        /// The connection broke; the command may or may not have run.
        case connectionLost = "connection_lost"
        /// Redis replied with an error.
        case server
        /// A Lua script failed; the message is Redis's.
        case script
        /// A script found no such job (`NOJOB`).
        case noSuchJob = "no_such_job"
        /// A script found the job already done or failed (`FINISHED`).
        case jobFinished = "job_finished"
        /// A script found a stage's tile stream short (`TILES`): a crash cut its writing.
        case tilesMissing = "tiles_missing"
        /// `submit.lua` found a job with the same id (`EXISTS`).
        case jobExists = "job_exists"
        /// `submit.lua` found the original missing or short (`SOURCE`): its staging was cut off.
        case sourceMissing = "source_missing"
        /// A reply did not have the expected shape.
        case protocolError = "protocol"
        /// A Lua script file could not be found or read.
        case missingScript = "missing_script"
}

extension CodedError where Code == RedisErrorCode {
    /// A Lua script's error reply: the word it starts with (our scripts' `NOJOB`,
    /// `FINISHED`, `TILES`, `EXISTS`, `SOURCE`) gives the code; anything else is `.script`.
    static func script(_ name: String, _ reply: String) -> RedisError {
        let codes: [Substring: Code] = ["NOJOB": .noSuchJob, "FINISHED": .jobFinished, "TILES": .tilesMissing, "EXISTS": .jobExists,
                                      "SOURCE": .sourceMissing]
        return RedisError(codes[reply.prefix { $0 != " " }] ?? .script, "\(name).lua: \(reply)")
    }
}
