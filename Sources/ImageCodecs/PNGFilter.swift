/// PNG's row filters and the usual way to choose one per row (libpng's and
/// Pillow's): the filter whose output bytes, read as signed, have the least
/// sum of magnitudes.
///
/// Filters read raw bytes only (the byte `bpp` to the left, above, above
/// left), so sixteen outputs are computed at once.
package enum PNGFilter {
    package typealias Bytes = SIMD16<UInt8>

    /// Writes the filter type and the filtered `count` bytes of `row` to `out`
    /// (1 + count bytes). With `above` nil, only None and Sub are tried: a
    /// segment's first row must not depend on the row before it.
    /// - Parameter scratch: room for 4 · count bytes.
    package static func filter(_ row: UnsafePointer<UInt8>, above: UnsafePointer<UInt8>?, count: Int, bpp: Int,
                       into out: UnsafeMutablePointer<UInt8>, scratch: UnsafeMutablePointer<UInt8>) {
        let sub = scratch, up = scratch + count, average = scratch + 2 * count, paeth = scratch + 3 * count
        var best = 0, least = magnitudes(row, count)
        func consider(_ filter: Int, _ bytes: UnsafePointer<UInt8>) {
            let cost = magnitudes(bytes, count)
            if cost < least { best = filter; least = cost }
        }
        if let above {
            filterAll(row, above, count, bpp, sub, up, average, paeth)
            consider(1, sub); consider(2, up); consider(3, average); consider(4, paeth)
        } else {
            for i in 0..<count { sub[i] = row[i] &- (i >= bpp ? row[i - bpp] : 0) }
            consider(1, sub)
        }
        out[0] = UInt8(best)
        let source = best == 0 ? row : UnsafePointer(scratch + (best - 1) * count)
        (out + 1).update(from: source, count: count)
    }

    /// Sum of |b| over the bytes read as Int8.
    package static func magnitudes(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int {
        let raw = UnsafeRawPointer(p)
        var total = 0
        var i = 0
        while i + 16 <= count {
            // 16-bit lanes hold 256 steps of at most 128 each.
            var sums = SIMD16<UInt16>()
            let end = min(count - 15, i + 256 * 16)
            while i < end {
                let v = raw.loadUnaligned(fromByteOffset: i, as: Bytes.self)
                let m = v.replacing(with: 0 &- v, where: v .> 127)
                sums &+= SIMD16<UInt16>(truncatingIfNeeded: m)
                i += 16
            }
            total += Int(SIMD16<UInt32>(truncatingIfNeeded: sums).wrappedSum())
        }
        while i < count {
            let b = Int(Int8(bitPattern: p[i]))
            total += abs(b)
            i += 1
        }
        return total
    }

    /// Sub, Up, Average and Paeth of one row.
    private static func filterAll(_ row: UnsafePointer<UInt8>, _ above: UnsafePointer<UInt8>, _ count: Int, _ bpp: Int,
                                  _ sub: UnsafeMutablePointer<UInt8>, _ up: UnsafeMutablePointer<UInt8>,
                                  _ average: UnsafeMutablePointer<UInt8>, _ paeth: UnsafeMutablePointer<UInt8>) {
        // The first pixel has nothing to its left (a = c = 0).
        let head = min(bpp, count)
        for i in 0..<head {
            let x = row[i], b = above[i]
            sub[i] = x
            up[i] = x &- b
            average[i] = x &- b / 2
            paeth[i] = x &- b   // Paeth of (0, b, 0) is b
        }
        var i = head
        let r = UnsafeRawPointer(row), u = UnsafeRawPointer(above)
        while i + 16 <= count {
            let x = r.loadUnaligned(fromByteOffset: i, as: Bytes.self)
            let a = r.loadUnaligned(fromByteOffset: i - bpp, as: Bytes.self)
            let b = u.loadUnaligned(fromByteOffset: i, as: Bytes.self)
            let c = u.loadUnaligned(fromByteOffset: i - bpp, as: Bytes.self)
            UnsafeMutableRawPointer(sub).storeBytes(of: x &- a, toByteOffset: i, as: Bytes.self)
            UnsafeMutableRawPointer(up).storeBytes(of: x &- b, toByteOffset: i, as: Bytes.self)
            // floor((a + b) / 2) without leaving 8 bits.
            let mean = (a & b) &+ ((a ^ b) &>> 1)
            UnsafeMutableRawPointer(average).storeBytes(of: x &- mean, toByteOffset: i, as: Bytes.self)
            UnsafeMutableRawPointer(paeth).storeBytes(of: x &- predictor(a, b, c), toByteOffset: i, as: Bytes.self)
            i += 16
        }
        while i < count {
            let x = row[i], a = row[i - bpp], b = above[i], c = above[i - bpp]
            sub[i] = x &- a
            up[i] = x &- b
            average[i] = x &- UInt8((Int(a) + Int(b)) / 2)
            paeth[i] = x &- predictor(a, b, c)
            i += 1
        }
    }

    /// PNG's Paeth predictor: of left, above and upper left, the one nearest
    /// to left + above − upper left, ties in that order.
    @inline(__always)
    static func predictor(_ a: Bytes, _ b: Bytes, _ c: Bytes) -> Bytes {
        let a16 = SIMD16<Int16>(truncatingIfNeeded: a), b16 = SIMD16<Int16>(truncatingIfNeeded: b)
        let c16 = SIMD16<Int16>(truncatingIfNeeded: c)
        let pa = magnitude(b16 &- c16), pb = magnitude(a16 &- c16), pc = magnitude(a16 &+ b16 &- c16 &- c16)
        var chosen = c16
        chosen.replace(with: b16, where: pb .<= pc)
        chosen.replace(with: a16, where: (pa .<= pb) .& (pa .<= pc))
        return Bytes(truncatingIfNeeded: chosen)
    }

    @inline(__always)
    static func predictor(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        let p = Int(a) + Int(b) - Int(c)
        let pa = abs(p - Int(a)), pb = abs(p - Int(b)), pc = abs(p - Int(c))
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }

    @inline(__always)
    private static func magnitude(_ v: SIMD16<Int16>) -> SIMD16<Int16> {
        v.replacing(with: 0 &- v, where: v .< 0)
    }
}
