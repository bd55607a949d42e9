import ImageCore

/// Processed tiles packed into one byte buffer for MPI_Gatherv: per tile,
/// its index, core rectangle and channel count (little-endian Int32s), then
/// its pixels.
enum TilePacking {
    static func pack(_ tiles: [(index: Int, region: Region)]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(tiles.reduce(0) { $0 + 24 + $1.region.image.pixels.count })
        func put(_ v: Int) { let u = UInt32(truncatingIfNeeded: v); for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: u >> (8 * k))) } }
        for t in tiles {
            put(t.index); put(t.region.x); put(t.region.y); put(t.region.image.width); put(t.region.image.height)
            put(t.region.image.channels)
            out.append(contentsOf: t.region.image.pixels)
        }
        return out
    }

    static func unpack(_ bytes: [UInt8]) -> [(index: Int, region: Region)] {
        var tiles: [(Int, Region)] = []
        var at = 0
        func get() -> Int {
            let v = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * $1) }
            at += 4
            return Int(Int32(bitPattern: v))
        }
        while at + 24 <= bytes.count {
            let index = get(), x = get(), y = get(), w = get(), h = get(), c = get()
            let n = w * h * c
            let image = Image(width: w, height: h, channels: c, pixels: Array(bytes[at..<(at + n)]))
            at += n
            tiles.append((index, Region(image: image, x: x, y: y)))
        }
        return tiles
    }
}
