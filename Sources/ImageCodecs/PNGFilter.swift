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
    ///
    /// Lane comparisons are done per lane by the compiler here, so signs and
    /// sums are bit arithmetic: |b| = (b ^ m) - m with m the sign spread over
    /// the byte, and pairs of bytes summed as 16-bit lanes.
    package static func magnitudes(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int {
        let raw = UnsafeRawPointer(p)
        var total = 0
        var i = 0
        while i + 16 <= count {
            // Each step adds at most 2 · 128 to a 16-bit lane: 128 steps fit.
            var sums = SIMD8<UInt16>()
            let end = min(count - 15, i + 128 * 16)
            while i < end {
                let v = raw.loadUnaligned(fromByteOffset: i, as: Bytes.self)
                let sign = 0 &- (v &>> 7)
                let pairs = unsafeBitCast((v ^ sign) &- sign, to: SIMD8<UInt16>.self)
                sums &+= (pairs & 0xFF) &+ (pairs &>> 8)
                i += 16
            }
            total += Int(SIMD8<UInt32>(truncatingIfNeeded: sums).wrappedSum())
        }
        while i < count {
            total += abs(Int(Int8(bitPattern: p[i])))
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
    /// to left + above − upper left, ties in that order. Worked in 16-bit
    /// lanes, the even bytes and the odd apart, with masks made by shifts.
    @inline(__always)
    static func predictor(_ a: Bytes, _ b: Bytes, _ c: Bytes) -> Bytes {
        let a2 = unsafeBitCast(a, to: SIMD8<UInt16>.self), b2 = unsafeBitCast(b, to: SIMD8<UInt16>.self)
        let c2 = unsafeBitCast(c, to: SIMD8<UInt16>.self)
        let even = predictor16(a2 & 0xFF, b2 & 0xFF, c2 & 0xFF)
        let odd = predictor16(a2 &>> 8, b2 &>> 8, c2 &>> 8)
        return unsafeBitCast(even | (odd &<< 8), to: Bytes.self)
    }

    /// The predictor of lanes holding 0...255.
    @inline(__always)
    private static func predictor16(_ a: SIMD8<UInt16>, _ b: SIMD8<UInt16>, _ c: SIMD8<UInt16>) -> SIMD8<UInt16> {
        let sa = unsafeBitCast(a, to: SIMD8<Int16>.self), sb = unsafeBitCast(b, to: SIMD8<Int16>.self)
        let sc = unsafeBitCast(c, to: SIMD8<Int16>.self)
        let pa = magnitude(sb &- sc), pb = magnitude(sa &- sc), pc = magnitude(sa &+ sb &- sc &- sc)
        // All ones where x <= y: the sign of y - x, inverted.
        func atMost(_ x: SIMD8<Int16>, _ y: SIMD8<Int16>) -> SIMD8<UInt16> { unsafeBitCast(~((y &- x) &>> 15), to: SIMD8<UInt16>.self) }
        let takeB = atMost(pb, pc)
        let takeA = atMost(pa, pb) & atMost(pa, pc)
        let bOrC = (b & takeB) | (c & ~takeB)
        return (a & takeA) | (bOrC & ~takeA)
    }

    @inline(__always)
    static func predictor(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        let p = Int(a) + Int(b) - Int(c)
        let pa = abs(p - Int(a)), pb = abs(p - Int(b)), pc = abs(p - Int(c))
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }

    @inline(__always)
    private static func magnitude(_ v: SIMD8<Int16>) -> SIMD8<Int16> {
        let sign = v &>> 15
        return (v ^ sign) &- sign
    }
}
