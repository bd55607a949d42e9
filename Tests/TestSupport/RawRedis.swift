import TileStore

extension TileStore {
    /// One command sent as it is, on a connection of its own: for tests that
    /// look at Redis's keys directly or break them on purpose (services go
    /// through TileStore's typed methods only).
    @discardableResult
    public func raw(_ args: [RedisArgument]) throws(RedisError) -> RedisReply {
        try RedisConnection(url: url).command(args)
    }
}
