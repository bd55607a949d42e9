/// A tile-local operation: it produces any rectangle of its output from a
/// rectangle of its input, and says which input rectangle it needs.
///
/// This is the demand-driven rule of libvips: tiles are cut on the *output*
/// grid and their input regions found by walking a pipeline backwards, so
/// halos (blur, median) and geometry (resize, rotate) need no special cases.
///
/// The contract that makes tiled runs exact: the pixels `apply` writes for an
/// output rectangle depend only on the whole input image, never on where the
/// rectangle or the source region was cut. Border rules therefore use
/// whole-image coordinates (see ``Border``).
public protocol TileOperation: Sendable, CustomStringConvertible {
    /// The shape of the output for an input of shape `input`.
    func outputShape(for input: Shape) -> Shape

    /// The rectangle of the input (inside `input.bounds`) that `apply` reads
    /// to produce `output`.
    /// - Parameters:
    ///   - output: a rectangle of the output (inside its bounds).
    ///   - input: the shape of the whole input image.
    func inputRect(for output: Rect, input: Shape) -> Rect

    /// The pixels of `output`, read from `source`, which covers at least
    /// `inputRect(for: output, input: input)`.
    /// - Parameters:
    ///   - source: input pixels, placed in whole-image coordinates.
    ///   - output: the rectangle of the output to make.
    ///   - input: the shape of the whole input image (borders are its edges).
    /// - Returns: exactly `output`, in whole-image coordinates of the output.
    func apply(_ source: Region, output: Rect, input: Shape) -> Region
}

/// An operation whose output pixel depends on the input pixel at the same place only.
protocol PointOperation: TileOperation {
    /// Maps `count` pixels of `shape.channels` samples from `src` to `dst`.
    func map(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>, count: Int, shape: Shape)
}

extension PointOperation {
    public func outputShape(for input: Shape) -> Shape { input }
    public func inputRect(for output: Rect, input: Shape) -> Rect { output }

    public func apply(_ source: Region, output: Rect, input: Shape) -> Region {
        let src = source.cropped(to: output).image
        let out = src.pixels.withUnsafeBufferPointer { s in
            Image(width: src.width, height: src.height, channels: src.channels) { d in
                map(s.baseAddress!, d, count: src.width * src.height, shape: input)
            }
        }
        return Region(image: out, x: output.x, y: output.y)
    }
}

/// A point operation given by a 256-entry table, applied to colour channels
/// and leaving alpha as it is.
protocol LookupOperation: PointOperation {
    var table: [UInt8] { get }
}

extension LookupOperation {
    func map(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>, count: Int, shape: Shape) {
        mapThroughTable(src, dst, count: count, shape: shape)
    }

    /// Colour samples through the table; alpha is copied.
    func mapThroughTable(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>, count: Int, shape: Shape) {
        table.withUnsafeBufferPointer { lut in
            let t = lut.baseAddress!
            let ch = shape.channels
            if !shape.hasAlpha {
                let n = count &* ch
                guard n >= 1 << 20 else { return lookUp(src, dst, count: n, table: t) }
                // Large images: two bytes to a lookup, in a 128 KB table of pairs (built in
                // about 50 µs): half the loads, and L2 serves them as fast as L1 would.
                let pairs = [UInt16](unsafeUninitializedCapacity: 1 << 16) { p, initialized in
                    for i in 0..<(1 << 16) { p[i] = UInt16(t[i & 0xFF]) | UInt16(t[i >> 8]) << 8 }
                    initialized = 1 << 16
                }
                pairs.withUnsafeBufferPointer { lookUpPairs(src, dst, count: n, pairs: $0.baseAddress!, table: t) }
                return
            }
            for p in 0..<count {
                let base = p * ch
                for c in 0..<(ch - 1) { dst[base + c] = t[Int(src[base + c])] }
                dst[base + ch - 1] = src[base + ch - 1]
            }
        }
    }
}

/// `dst[i] = table[src[i]]`, eight bytes to a load and a store. (A plain
/// loop is vectorised with gathers, which are slower than these scalar
/// lookups on the machines measured.)
@inline(__always)
package func lookUp(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>, count n: Int, table t: UnsafePointer<UInt8>) {
    lookUp(src, dst, count: n, entries: t, table: t)
}

/// ``lookUp(_:_:count:table:)`` two bytes at a time: `pairs[b0 | b1 << 8]` is
/// `table[b0] | table[b1] << 8`.
@inline(__always)
package func lookUpPairs(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>, count n: Int,
                         pairs: UnsafePointer<UInt16>, table t: UnsafePointer<UInt8>) {
    lookUp(src, dst, count: n, entries: pairs, table: t)
}

/// Eight bytes at a time through `entries`, each mapping one `Entry`'s worth of
/// source bytes (one or two) to as many result bytes; the tail through `table`.
@inline(__always)
func lookUp<Entry: FixedWidthInteger & UnsignedInteger>(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>, count n: Int,
                                                        entries: UnsafePointer<Entry>, table t: UnsafePointer<UInt8>) {
    let bits = Entry.bitWidth, mask = UInt64(Entry.max)
    var i = 0
    while i &+ 8 <= n {
        let v = UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self)
        var o: UInt64 = 0
        for k in stride(from: 0, to: 64, by: bits) { o |= UInt64(entries[Int(truncatingIfNeeded: (v &>> UInt64(k)) & mask)]) &<< UInt64(k) }
        UnsafeMutableRawPointer(dst + i).storeBytes(of: o, as: UInt64.self)
        i &+= 8
    }
    while i < n { dst[i] = t[Int(src[i])]; i &+= 1 }
}

/// Rounds half away from zero and clamps to 0...255.
@inlinable
func clampToByte(_ v: Double) -> UInt8 {
    let r = v.rounded(.toNearestOrAwayFromZero)
    return r <= 0 ? 0 : (r >= 255 ? 255 : UInt8(r))
}
