/// Looking at Redis's keys directly, and breaking them on purpose as a crash,
/// an eviction or an operator would: for the package's tests, which check what
/// a job leaves behind and how the system copes with damage. Services use the
/// typed methods only. Each call has a connection of its own, so a test may
/// look while another thread uses the store.
extension TileStore {
    @discardableResult
    private func once(_ args: [RedisArgument]) throws(RedisError) -> RedisReply {
        try RedisConnection(url: url).command(args)
    }

    /// Keys in the database (`DBSIZE`).
    package func keyCount() throws(RedisError) -> Int {
        try once(["DBSIZE"]).int ?? 0
    }

    /// Keys matching a glob pattern, e.g. `imgproc:{*}:source`.
    package func keys(matching pattern: String) throws(RedisError) -> [String] {
        try once(["KEYS", .text(pattern)]).array?.compactMap(\.text) ?? []
    }

    /// Every key of one job.
    package func keys(ofJob id: String) throws(RedisError) -> [String] {
        try keys(matching: "imgproc:{\(id)}:*")
    }

    package func exists(_ key: String) throws(RedisError) -> Bool {
        try once(["EXISTS", .text(key)]).int == 1
    }

    /// Seconds until `key` expires: -1 when it has no expiry, -2 when it does not exist.
    package func secondsToLive(_ key: String) throws(RedisError) -> Int {
        try once(["TTL", .text(key)]).int ?? -2
    }

    /// Entries in a stream (`XLEN`): the queue, or a job's tiles.
    package func streamLength(_ key: String) throws(RedisError) -> Int {
        try once(["XLEN", .text(key)]).int ?? 0
    }

    /// Fields in a hash (`HLEN`), e.g. the worker heartbeats.
    package func hashLength(_ key: String) throws(RedisError) -> Int {
        try once(["HLEN", .text(key)]).int ?? 0
    }

    // MARK: Damage

    package func delete(_ keys: String...) throws(RedisError) {
        try once(["DEL"] + keys.map { .text($0) })
    }

    /// Writes one field of a hash as it is, e.g. a heartbeat that does not parse.
    package func setField(_ key: String, _ field: String, _ value: String) throws(RedisError) {
        try once(["HSET", .text(key), .text(field), .text(value)])
    }

    /// Deletes one field of a hash, e.g. a record Redis lost.
    package func deleteField(_ key: String, _ field: String) throws(RedisError) {
        try once(["HDEL", .text(key), .text(field)])
    }

    /// Keeps only the newest `count` entries of a stream: tiles lost.
    package func trimStream(_ key: String, to count: Int) throws(RedisError) {
        try once(["XTRIM", .text(key), "MAXLEN", .text(String(count))])
    }

    /// Deletes one stream entry by its ID.
    package func deleteEntry(_ key: String, _ entry: String) throws(RedisError) {
        try once(["XDEL", .text(key), .text(entry)])
    }

    /// Forgets the loaded Lua scripts, as a Redis restart does.
    package func forgetScripts() throws(RedisError) {
        try once(["SCRIPT", "FLUSH"])
    }
}

extension TileStore {
    /// Clients connected to database `db` (from `CLIENT LIST`).
    package func clients(onDatabase db: Int) throws(RedisError) -> Int {
        let list = try once(["CLIENT", "LIST"]).text ?? ""
        return list.split(whereSeparator: \.isNewline).filter { $0.split(separator: " ").contains("db=\(db)") }.count
    }
}
