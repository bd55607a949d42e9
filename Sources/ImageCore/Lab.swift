import Foundation

/// 8-bit CIE L*a*b* (D65, sRGB primaries) as OpenCV stores it:
/// `L · 255/100`, `a + 128`, `b + 128`. Used by `clahe` to equalise
/// lightness and keep colour. Float maths, the same on every host.
enum Lab {
    static let whiteX: Float = 0.950456
    static let whiteZ: Float = 1.088754

    /// Linear light at which the sRGB encoding crosses `k + 0.5` (k = 0..<255):
    /// counting the thresholds below a value rounds its encoding exactly.
    /// (A 256th threshold at infinity keeps ``encodeByte(bits:bucket:_:_:)`` branch-free.)
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
    static func saturate(_ v: Int32) -> UInt8 { UInt8(truncatingIfNeeded: Swift.min(Swift.max(v, 0), 255)) }

    /// 8-bit L of f(Y) in 15-bit fixed point.
    @inline(__always)
    static func lightness(fy: Int32) -> UInt8 {
        let lScale: Int32 = (116 * 255 + 50) / 100
        let lShift: Int32 = -((16 * 255 * (1 << 15) + 50) / 100)
        return saturate(descale(lScale &* fy &+ lShift, labShift2))
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

    /// Linear light to the nearest sRGB byte, in two steps (see ``toRGB``):
    /// the value clamped to 0...1 and its bucket of ``encodeStart``, then the
    /// byte at the bucket's edge, plus one if the bucket's threshold (never
    /// more than one: the steepest slope of the encoding is 0.4 bytes per
    /// bucket) lies at or below the value.
    @inline(__always)
    static func encodeBucket(_ v: Float) -> (bits: UInt32, bucket: Int32) {
        // max(v, 0) and then min(·, 1) on the bit patterns, which order as the
        // values do when non-negative: `max` and `min` on Float became two
        // unpredictable branches each.
        let bits = Int32(bitPattern: v.bitPattern)
        let c = UInt32(bitPattern: bits & ~(bits >> 31))
        let unit = Float(bitPattern: Swift.min(c, (1 as Float).bitPattern))
        // The bucket, floor(c · 8191), an exact integer below 2^13 read from the mantissa of it plus 2^23
        // (a checked conversion would branch).
        let bucket = (unit * Float(encodeBuckets - 1)).rounded(.down) + 0x1p23
        return (c, Int32(bitPattern: bucket.bitPattern & UInt32(encodeBuckets * 2 - 1)))
    }

    @inline(__always)
    static func encodeByte(bits c: UInt32, bucket: Int32, _ t: UnsafePointer<Float>, _ start: UnsafePointer<UInt8>) -> UInt8 {
        let e = start[Int(bucket)]
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
        let run = LabRun()
        return image.pixels.withUnsafeBufferPointer { sp in
            LabTables.with { t in
                [UInt8](unsafeUninitializedCapacity: n) { out, count in
                    for from in stride(from: 0, to: n, by: LabRun.length) {
                        let s = sp.baseAddress! + from * ch, l = out.baseAddress! + from, m = min(LabRun.length, n - from)
                        if ch < 3 {
                            for i in 0..<m { l[i] = s[i &* ch] }
                        } else {
                            lightness(s, channels: ch, count: m, l: l, run: run, tables: t)
                        }
                    }
                    count = n
                }
            }
        }
    }

    /// 8-bit L only (all that the histograms need) of the `n` (at most
    /// ``LabRun/length``) pixels at `s`, `ch` samples each.
    @inline(__always)
    static func lightness(_ s: UnsafePointer<UInt8>, channels ch: Int, count n: Int, l: UnsafeMutablePointer<UInt8>,
                          run: LabRun, tables t: LabTables) {
        let g = t.gamma, cb = t.cbrt, y = run.int(0)
        let (k3, k4, k5) = (t.coefficients[3], t.coefficients[4], t.coefficients[5])
        for i in 0..<n {
            y[i] = g[Int(s[i &* ch])] &* k3 &+ g[Int(s[i &* ch &+ 1])] &* k4 &+ g[Int(s[i &* ch &+ 2])] &* k5
        }
        for i in 0..<n { y[i] = cb[Int(descale(y[i], labShift))] }
        for i in 0..<n { l[i] = lightness(fy: y[i]) }
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

/// Scratch for converting a run of up to `length` pixels between RGB and Lab
/// in passes, each a simple loop: the table lookups in loops of their own, and
/// the arithmetic between them in loops the compiler vectorises. Pixel by
/// pixel, the lookups and the arithmetic were one long dependent chain.
final class LabRun {
    static let length = 256
    let ints: UnsafeMutablePointer<Int32>
    let floats: UnsafeMutablePointer<Float>

    init() {
        ints = .allocate(capacity: 3 * Self.length)
        floats = .allocate(capacity: 4 * Self.length)
    }

    deinit { ints.deallocate(); floats.deallocate() }

    @inline(__always) func int(_ i: Int) -> UnsafeMutablePointer<Int32> { ints + i * Self.length }
    @inline(__always) func float(_ i: Int) -> UnsafeMutablePointer<Float> { floats + i * Self.length }
}

extension Lab {
    /// 8-bit L, a and b (as OpenCV's 8-bit RGB to Lab) of the `n` (at most
    /// ``LabRun/length``) pixels at `s`, `ch` samples each.
    @inline(__always)
    static func fromRGB(_ s: UnsafePointer<UInt8>, channels ch: Int, count n: Int,
                        l: UnsafeMutablePointer<UInt8>, a: UnsafeMutablePointer<UInt8>, b: UnsafeMutablePointer<UInt8>,
                        run: LabRun, tables t: LabTables) {
        let g = t.gamma, cb = t.cbrt, k = t.coefficients
        let x = run.int(0), y = run.int(1), z = run.int(2)
        for i in 0..<n {
            x[i] = g[Int(s[i &* ch])]; y[i] = g[Int(s[i &* ch &+ 1])]; z[i] = g[Int(s[i &* ch &+ 2])]
        }
        let (k0, k1, k2, k3, k4, k5, k6, k7, k8) = (k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8])
        for i in 0..<n {
            let r = x[i], gg = y[i], bb = z[i]
            x[i] = descale(r &* k0 &+ gg &* k1 &+ bb &* k2, labShift)
            y[i] = descale(r &* k3 &+ gg &* k4 &+ bb &* k5, labShift)
            z[i] = descale(r &* k6 &+ gg &* k7 &+ bb &* k8, labShift)
        }
        for i in 0..<n { x[i] = cb[Int(x[i])]; y[i] = cb[Int(y[i])]; z[i] = cb[Int(z[i])] }
        for i in 0..<n {
            let fx = x[i], fy = y[i], fz = z[i]
            l[i] = lightness(fy: fy)
            a[i] = saturate(descale(500 &* (fx &- fy) &+ 128 &* (1 << 15), labShift2))
            b[i] = saturate(descale(200 &* (fy &- fz) &+ 128 &* (1 << 15), labShift2))
        }
    }

    /// The sRGB pixels of the `n` (at most ``LabRun/length``) 8-bit L, a, b
    /// triples, written `ch` samples apart from `o` (alpha left alone).
    @inline(__always)
    static func toRGB(l: UnsafePointer<UInt8>, a: UnsafePointer<UInt8>, b: UnsafePointer<UInt8>, count n: Int,
                      into o: UnsafeMutablePointer<UInt8>, channels ch: Int, run: LabRun, tables t: LabTables) {
        let fx = run.float(0), fy = run.float(1), fz = run.float(2)
        for i in 0..<n {
            let li = Int(l[i])
            fy[i] = t.y[li]; fx[i] = t.x[li &<< 8 | Int(a[i])]; fz[i] = t.z[li &<< 8 | Int(b[i])]
        }
        // In place: each value's clamped bit pattern over its XYZ, and its bucket.
        let br = run.int(0), bg = run.int(1), bb = run.int(2)
        for i in 0..<n {
            let x = fx[i], y = fy[i], z = fz[i]
            let r = encodeBucket(3.240479 * x - 1.53715 * y - 0.498535 * z)
            let g = encodeBucket(-0.969256 * x + 1.875991 * y + 0.041556 * z)
            let bl = encodeBucket(0.055648 * x - 0.204043 * y + 1.057311 * z)
            fx[i] = Float(bitPattern: r.bits); br[i] = r.bucket
            fy[i] = Float(bitPattern: g.bits); bg[i] = g.bucket
            fz[i] = Float(bitPattern: bl.bits); bb[i] = bl.bucket
        }
        let th = t.thresholds, start = t.encodeStart
        for i in 0..<n {
            let p = o + i &* ch
            p[0] = encodeByte(bits: fx[i].bitPattern, bucket: br[i], th, start)
            p[1] = encodeByte(bits: fy[i].bitPattern, bucket: bg[i], th, start)
            p[2] = encodeByte(bits: fz[i].bitPattern, bucket: bb[i], th, start)
        }
    }
}
