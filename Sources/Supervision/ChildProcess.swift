import Failure
import Foundation

/// A child process started with posix_spawn, with default signal handling
/// restored (a parent that ignores or blocks SIGTERM must not pass that on,
/// or the child could never be stopped), waited for with waitpid.
public struct ChildProcess: Sendable {
    public let pid: pid_t

    /// Starts `path` (searched in PATH when it has no slash) with `arguments`
    /// and the current environment plus `environment`.
    /// - Parameter output: a file that stdout and stderr are appended to (stdin is then
    ///   /dev/null); nil keeps this process's.
    public init(_ path: String, _ arguments: [String], environment: [String: String] = [:], output: String? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let output {
            posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
            for fd in [STDOUT_FILENO, STDERR_FILENO] {
                posix_spawn_file_actions_addopen(&actions, fd, output, O_WRONLY | O_APPEND | O_CREAT, 0o644)
            }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, path, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw SupervisorError(.cannotStart, "cannot start \(path): \(String(cString: strerror(rc)))", cause: POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO)) }
        self.pid = pid
    }

    /// Waits for the child to end; returns how it ended.
    public func wait() -> Termination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return Termination(status)
    }

    /// How the child ended, if it has (without waiting).
    public func poll() -> Termination? {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == pid ? Termination(status) : nil
    }

    public func signal(_ sig: Int32) { kill(pid, sig) }

    public enum Termination: Equatable, Sendable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        init(_ status: Int32) {
            let signal = status & 0x7f
            self = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
        }

        /// The status a shell would report: the exit code, or 128 + signal.
        public var code: Int32 {
            switch self {
            case let .exited(c): return c
            case let .signalled(s): return 128 + s
            }
        }
        public var description: String {
            switch self {
            case let .exited(code): return "exited with status \(code)"
            case let .signalled(sig): return "was killed by signal \(sig)"
            }
        }
    }
}

public typealias SupervisorError = CodedError<SupervisorErrorCode>

public enum SupervisorErrorCode: String, Sendable {
    case cannotStart = "cannot_start"
}
