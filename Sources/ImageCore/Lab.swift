import Foundation

/// 8-bit CIE L*a*b* (D65, sRGB primaries) as OpenCV stores it:
/// `L · 255/100`, `a + 128`, `b + 128`. Used by `clahe` to equalise
/// lightness and keep colour. Float maths, the same on every host.
enum Lab {
    static let whiteX: Float = 0.950456
    static let whiteZ: Float = 1.088754

    /// Linear light at which the sRGB encoding crosses `k + 0.5` (k = 0..<255):
    /// counting the thresholds below a value rounds its encoding exactly.
    /// (A 256th threshold at infinity keeps ``encode(_:_:_:)`` branch-free.)
    static let encodeThresholds: [Float] = (0..<255).map { k in
        let v = (Double(k) + 0.5) / 255
        return Float(v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4))
    } + [.infinity]

    @inline(__always)
    static func finv(_ t: Float) -> Float { t > 6.0 / 29.0 ? t * t * t : (t - 16.0 / 116.0) / 7.787 }

    /// `v` clamped to 0...255 and rounded to the nearest (ties to even).
    @inline(__always)
    static func byte(_ v: Float) -> UInt8 {
        // Added to 2^23, a value in 0...255 lands on a float whose low mantissa
        // bits are it, rounded as asked: no conversion, so no range check.
        UInt8(truncatingIfNeeded: (min(max(v, 0), 255) + 0x1p23).bitPattern)
    }

    // RGB to Lab follows OpenCV's 8-bit integer path (RGB2Lab_b) so that
    // lightness histograms, and so clahe's tables, match cv2's.
    static let labShift = 12, gammaShift = 3, labShift2 = 15

    /// sRGB byte to linear light scaled by 255 · 2^3.
    static let gammaTable: [Int32] = (0...255).map { i in
        let x = Float(i) / 255
        let v = x <= 0.04045 ? x * (1 / 12.92) : Float(pow(Double(x + 0.055) / 1.055, 2.4))
        return Int32(min(65535, max(0, (255 * 8 * v).rounded(.toNearestOrEven))))
    }

    /// Cube root (or its linear toe) of linear light in 15-bit fixed point,
    /// in single precision as OpenCV builds it. OpenCV's software cube root
    /// rounds entry 324 down where the correctly rounded one goes up; it is
    /// pinned so that 8-bit Lab equals cv2's for all 2^24 colours.
    static let cbrtTable: [Int32] = (0..<(256 * 3 / 2 * 8)).map { i in
        let x = Float(i) * (1 / Float(255 * 8))
        let toe: Float = 216 / 24389, scale: Float = 841 / 108, bias: Float = 16 / 116
        let v = x < toe ? bias.addingProduct(x, scale) : Float(cbrt(Double(x)))
        let fixed = Int32(min(65535, max(0, (32768 * v).rounded(.toNearestOrEven))))
        return i == 324 ? 17745 : fixed
    }

    /// sRGB to XYZ over the white point, in 12-bit fixed point.
    static let coefficients: [Int32] = {
        let m: [Double] = [0.412453, 0.357580, 0.180423, 0.212671, 0.715160, 0.072169, 0.019334, 0.119193, 0.950227]
        let white: [Double] = [0.950456, 1, 1.088754]
        return (0..<9).map { Int32((4096 * m[$0] / white[$0 / 3]).rounded(.toNearestOrEven)) }
    }()

    @inline(__always)
    static func descale(_ v: Int32, _ n: Int) -> Int32 { (v &+ (1 << (n - 1))) &>> n }

    @inline(__always)
    static func saturate(_ v: Int32) -> UInt8 { v < 0 ? 0 : (v > 255 ? 255 : UInt8(v)) }

    /// 8-bit L, a, b of an sRGB pixel.
    @inline(__always)
    static func fromRGB(_ r8: UInt8, _ g8: UInt8, _ b8: UInt8, tables t: LabTables) -> (UInt8, UInt8, UInt8) {
        let c = t.coefficients, g = t.gamma, cb = t.cbrt
        let r = g[Int(r8)], gg = g[Int(g8)], b = g[Int(b8)]
        let fx = cb[Int(descale(r &* c[0] &+ gg &* c[1] &+ b &* c[2], labShift))]
        let fy = cb[Int(descale(r &* c[3] &+ gg &* c[4] &+ b &* c[5], labShift))]
        let fz = cb[Int(descale(r &* c[6] &+ gg &* c[7] &+ b &* c[8], labShift))]
        let lScale: Int32 = (116 * 255 + 50) / 100
        let lShift: Int32 = -((16 * 255 * (1 << 15) + 50) / 100)
        let l = descale(lScale &* fy &+ lShift, labShift2)
        let a = descale(500 &* (fx &- fy) &+ 128 &* (1 << 15), labShift2)
        let bb = descale(200 &* (fy &- fz) &+ 128 &* (1 << 15), labShift2)
        return (saturate(l), saturate(a), saturate(bb))
    }

    /// 8-bit L only: all that the histograms need.
    @inline(__always)
    static func lightness(_ r8: UInt8, _ g8: UInt8, _ b8: UInt8, tables t: LabTables) -> UInt8 {
        let c = t.coefficients, g = t.gamma
        let fy = t.cbrt[Int(descale(g[Int(r8)] &* c[3] &+ g[Int(g8)] &* c[4] &+ g[Int(b8)] &* c[5], labShift))]
        let lScale: Int32 = (116 * 255 + 50) / 100
        let lShift: Int32 = -((16 * 255 * (1 << 15) + 50) / 100)
        return saturate(descale(lScale &* fy &+ lShift, labShift2))
    }

    /// The sRGB pixel of 8-bit L, a, b.
    @inline(__always)
    static func toRGB(_ l8: UInt8, _ a8: UInt8, _ b8: UInt8, tables: LabTables) -> (UInt8, UInt8, UInt8) {
        let t = tables.thresholds, start = tables.encodeStart
        let y = tables.y[Int(l8)]
        let x = tables.x[Int(l8) &<< 8 | Int(a8)], z = tables.z[Int(l8) &<< 8 | Int(b8)]
        let r = 3.240479 * x - 1.53715 * y - 0.498535 * z
        let g = -0.969256 * x + 1.875991 * y + 0.041556 * z
        let bl = 0.055648 * x - 0.204043 * y + 1.057311 * z
        return (encode(r, t, start), encode(g, t, start), encode(bl, t, start))
    }

    /// `f(Y)` and Y of 8-bit L, as OpenCV's Lab to RGB (linear toe below L = 8).
    @inline(__always)
    static func lightnessTerms(_ l8: Int) -> (fy: Float, y: Float) {
        let l = Float(l8) * (100.0 / 255.0)
        if l <= 7.9996248 {
            let y = l / 903.3
            return (7.787 * y + 16.0 / 116.0, y)
        }
        let fy = (l + 16) / 116
        return (fy, fy * fy * fy)
    }

    /// Y of each 8-bit L.
    static let yTable: [Float] = (0..<256).map { lightnessTerms($0).y }
    /// X of each (L, a) pair, at `L << 8 | a`, and Z of each (L, b) pair: the
    /// only parts of Lab to RGB that mix two inputs, so that a pixel needs
    /// three table loads and a 3×3 product.
    static let xTable: [Float] = (0..<65536).map { i in
        finv(lightnessTerms(i >> 8).fy + (Float(i & 255) - 128) / 500) * whiteX
    }
    static let zTable: [Float] = (0..<65536).map { i in
        finv(lightnessTerms(i >> 8).fy - (Float(i & 255) - 128) / 200) * whiteZ
    }

    /// Buckets of linear light: the sRGB byte at each bucket's lower edge.
    static let encodeBuckets = 8192
    static let encodeStart: [UInt8] = {
        let start = (0..<encodeBuckets).map { j in
            UInt8(encodeThresholds.filter { $0 <= Float(j) / Float(encodeBuckets - 1) }.count)
        }
        for j in 0..<(encodeBuckets - 1) { precondition(start[j + 1] - start[j] <= 1, "two thresholds in one bucket") }
        return start
    }()

    /// Linear light to the nearest sRGB byte: the byte at the bucket's edge,
    /// plus one if the bucket's threshold (never more than one: the steepest
    /// slope of the encoding is 0.4 bytes per bucket) lies at or below `v`.
    @inline(__always)
    static func encode(_ v: Float, _ t: UnsafePointer<Float>, _ start: UnsafePointer<UInt8>) -> UInt8 {
        // max(v, 0) and then min(·, 1) on the bit patterns, which order as the
        // values do when non-negative: `max` and `min` on Float became two
        // unpredictable branches each.
        let bits = Int32(bitPattern: v.bitPattern)
        let c = UInt32(bitPattern: bits & ~(bits >> 31))
        let unit = Float(bitPattern: Swift.min(c, (1 as Float).bitPattern))
        // The bucket, floor(c · 8191), an exact integer below 2^13 read from the mantissa of it plus 2^23
        // (a checked conversion would branch).
        let bucket = (unit * Float(encodeBuckets - 1)).rounded(.down) + 0x1p23
        let e = start[Int(bucket.bitPattern & UInt32(encodeBuckets * 2 - 1))]
        // `t[e] <= c` without a branch (which way it goes is not predictable): both are
        // non-negative, so their bit patterns order as they do; c's is at least t[e]'s
        // exactly when t[e]'s - c's - 1 wraps below zero. (Every threshold is above 0,
        // so clamping v at 0 changes no answer.)
        let below = (t[Int(e)].bitPattern &- c &- 1) >> 31
        return e &+ UInt8(truncatingIfNeeded: below)
    }

    /// The value clahe equalises for every pixel: gray, or 8-bit Lab lightness.
    static func lightnessPlane(_ image: Image) -> [UInt8] {
        let n = image.width * image.height, ch = image.channels
        return image.pixels.withUnsafeBufferPointer { sp in
            LabTables.with { t in
                [UInt8](unsafeUninitializedCapacity: n) { out, count in
                    for i in 0..<n {
                        let p = i * ch
                        out[i] = ch < 3 ? sp[p] : lightness(sp[p], sp[p + 1], sp[p + 2], tables: t)
                    }
                    count = n
                }
            }
        }
    }
}

/// Pointers to the Lab tables, lent for the length of a loop.
struct LabTables {
    let gamma: UnsafePointer<Int32>
    let cbrt: UnsafePointer<Int32>
    let coefficients: UnsafePointer<Int32>
    let thresholds: UnsafePointer<Float>
    let encodeStart: UnsafePointer<UInt8>
    let x: UnsafePointer<Float>
    let y: UnsafePointer<Float>
    let z: UnsafePointer<Float>

    static func with<T>(_ body: (LabTables) -> T) -> T {
        Lab.gammaTable.withUnsafeBufferPointer { g in
            Lab.cbrtTable.withUnsafeBufferPointer { c in
                Lab.coefficients.withUnsafeBufferPointer { k in
                    Lab.encodeThresholds.withUnsafeBufferPointer { t in
                        Lab.encodeStart.withUnsafeBufferPointer { e in
                            Lab.xTable.withUnsafeBufferPointer { x in
                                Lab.yTable.withUnsafeBufferPointer { y in
                                    Lab.zTable.withUnsafeBufferPointer { z in
                                        body(LabTables(gamma: g.baseAddress!, cbrt: c.baseAddress!,
                                                       coefficients: k.baseAddress!, thresholds: t.baseAddress!,
                                                       encodeStart: e.baseAddress!, x: x.baseAddress!,
                                                       y: y.baseAddress!, z: z.baseAddress!))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
