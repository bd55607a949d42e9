import Foundation

/// A child process started with posix_spawn, with default signal handling
/// restored (a parent that ignores or blocks SIGTERM must not pass that on,
/// or the child could never be stopped), waited for with waitpid.
public struct ChildProcess: Sendable {
    public let pid: pid_t

    /// Starts `path` (searched in PATH when it has no slash) with `arguments`
    /// and the current environment plus `environment`.
    public init(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws {
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
        let rc = posix_spawnp(&pid, path, nil, &attributes, argv, envp)
        guard rc == 0 else { throw SupervisorError("cannot start \(path): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    /// Waits for the child to end; returns how it ended.
    public func wait() -> Termination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }

    public func signal(_ sig: Int32) { kill(pid, sig) }

    public enum Termination: Equatable, Sendable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)
        public var description: String {
            switch self {
            case let .exited(code): return "exited with status \(code)"
            case let .signalled(sig): return "was killed by signal \(sig)"
            }
        }
    }
}

public struct SupervisorError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
