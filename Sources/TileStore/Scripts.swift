import Foundation

/// The Lua scripts of the top-level `lua/` folder, one per state change.
///
/// They are read from `IMGPROC_LUA_DIR` when set, else from the first
/// `lua/` folder found above the running executable (the checkout it was
/// built in), so the files users run with `redis-cli --eval` are exactly the
/// ones the program runs.
public struct Scripts: Sendable {
    public struct Script: Sendable {
        public let name: String
        public let source: String
    }

    public static let names = ["submit", "deal", "claim", "steal", "complete", "advance", "finish", "fail", "next", "begin", "take"]
    private let scripts: [String: Script]

    public subscript(_ name: String) -> Script {
        guard let s = scripts[name] else { preconditionFailure("no script \(name)") }
        return s
    }

    /// Loads every script from `directory`.
    public init(directory: URL) throws(RedisError) {
        var scripts: [String: Script] = [:]
        for name in Self.names {
            let url = directory.appendingPathComponent("\(name).lua")
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw RedisError(.missingScript, "cannot read the Lua script \(url.path)")
            }
            let source = String(decoding: data, as: UTF8.self)
            scripts[name] = Script(name: name, source: source)
        }
        self.scripts = scripts
    }

    /// Loads the scripts from where this installation keeps them (see above).
    public static func locate() throws(RedisError) -> Scripts {
        try Scripts(directory: try directory())
    }

    /// Where the scripts are read from (see above).
    public static func directory() throws(RedisError) -> URL {
        if let dir = ProcessInfo.processInfo.environment["IMGPROC_LUA_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent("lua")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("claim.lua").path) { return candidate }
            dir.deleteLastPathComponent()
        }
        throw RedisError(.missingScript, "cannot find imgproc's lua/ folder above \(exe.path); set IMGPROC_LUA_DIR")
    }
}

/// Runs scripts on one connection with EVALSHA, loading each with SCRIPT
/// LOAD the first time and again whenever Redis answers NOSCRIPT (a restart
/// or SCRIPT FLUSH empties its script cache).
final class ScriptRunner {
    let connection: RedisConnection
    let scripts: Scripts
    private var shas: [String: String] = [:]

    init(connection: RedisConnection, scripts: Scripts) {
        self.connection = connection
        self.scripts = scripts
    }

    /// The EVALSHA command for `name`, loading the script first if needed, for
    /// sending in a pipeline; a NOSCRIPT reply to it means: ``run(_:keys:args:)`` it.
    func command(_ name: String, keys: [RedisArgument], args: [RedisArgument]) throws(RedisError) -> [RedisArgument] {
        ["EVALSHA", .text(try sha(name)), .int(keys.count)] + keys + args
    }

    /// Drops the SHA of `name` (Redis answered NOSCRIPT to it).
    func forget(_ name: String) { shas[name] = nil }

    private func sha(_ name: String) throws(RedisError) -> String {
        if let known = shas[name] { return known }
        guard let loaded = try connection.command(["SCRIPT", "LOAD", .text(scripts[name].source)]).text else {
            throw RedisError(.protocolError, "SCRIPT LOAD gave no SHA for \(name).lua")
        }
        shas[name] = loaded
        return loaded
    }

    /// Several script calls in one round trip; replies in order (a failed call's
    /// reply is its error). Calls Redis answered NOSCRIPT to are run again alone.
    func runAll(_ calls: [(name: String, keys: [RedisArgument], args: [RedisArgument])]) throws(RedisError) -> [RedisReply] {
        guard !calls.isEmpty else { return [] }
        var commands: [[RedisArgument]] = []
        for call in calls { commands.append(try command(call.name, keys: call.keys, args: call.args)) }
        var replies = try connection.pipeline(commands)
        for (i, reply) in replies.enumerated() {
            guard case let .error(message) = reply, message.hasPrefix("NOSCRIPT") else { continue }
            forget(calls[i].name)
            do { replies[i] = try run(calls[i].name, keys: calls[i].keys, args: calls[i].args) } catch { replies[i] = .error(error.message) }
        }
        return replies
    }

    /// - Throws: ``RedisError`` `.script` with Redis's message when the script fails.
    func run(_ name: String, keys: [RedisArgument], args: [RedisArgument]) throws(RedisError) -> RedisReply {
        for attempt in 0..<2 {
            do {
                return try connection.command(command(name, keys: keys, args: args))
            } catch where error.code == .server {
                if error.message.hasPrefix("NOSCRIPT") && attempt == 0 {
                    shas[name] = nil
                    continue
                }
                throw RedisError.script(name, error.message)
            }
        }
        throw RedisError(.script, "\(name).lua could not be loaded")
    }
}
