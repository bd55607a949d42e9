import Foundation

/// `blur:SIGMA`: Gaussian blur with standard deviation SIGMA (pixels).
///
/// As `cv2.GaussianBlur(img, (0, 0), SIGMA)` for 8-bit images: a kernel of
/// `round(6 SIGMA + 1) | 1` taps, weights in 8-bit fixed point, the
/// horizontal pass kept in 16-bit fixed point, reflect-101 border. Matches
/// OpenCV within ±1.
public struct GaussianBlur: TileOperation {
    public let sigma: Double
    let kernel: SeparableKernel

    public init(sigma: Double) {
        self.sigma = sigma
        kernel = SeparableKernel.gaussian(sigma: sigma)
    }

    public var description: String { "blur:\(formatNumber(sigma))" }
    public func outputShape(for input: Shape) -> Shape { input }

    public func inputRect(for output: Rect, input: Shape) -> Rect {
        kernel.neighbourhood(output, input).inputRect
    }

    public func apply(_ source: Region, output: Rect, input: Shape) -> Region {
        Region(image: kernel.convolve(source, output: output, input: input), x: output.x, y: output.y)
    }
}

/// A symmetric 1-D kernel applied along rows then columns, in fixed point:
/// weights sum to 256; the row pass keeps 8 fractional bits in 16-bit
/// integers, the column pass rounds the 16 fractional bits away at the end.
struct SeparableKernel: Sendable {
    let weights: [UInt16]
    var radius: Int { weights.count / 2 }

    static func gaussian(sigma: Double) -> SeparableKernel {
        let n = Int((sigma * 6 + 1).rounded(.toNearestOrEven)) | 1
        let r = n / 2
        let scale = -0.5 / (sigma * sigma)
        let side = (0..<r).map { exp(scale * Double((r - $0) * (r - $0))) }
        let norm = 1 / (2 * side.reduce(0, +) + 1)
        // Quantise with error diffusion from the outside in, and let the centre
        // take what is left, so the weights sum to exactly 256 (as OpenCV's
        // bit-exact kernels do).
        var fixed = [UInt16](repeating: 0, count: n)
        var err = 0.0, sum = 0
        for i in 0..<r {
            let adjusted = side[i] * norm * 256 + err
            let v = adjusted.rounded(.toNearestOrEven)
            err = adjusted - v
            fixed[i] = UInt16(v)
            fixed[n - 1 - i] = UInt16(v)
            sum += Int(v)
        }
        fixed[r] = UInt16(256 - 2 * sum)
        return SeparableKernel(weights: fixed)
    }

    func neighbourhood(_ output: Rect, _ input: Shape) -> Neighbourhood {
        Neighbourhood(output: output, rx: radius, ry: radius, border: .reflect101, input: input)
    }

    /// The convolved pixels of `output`.
    func convolve(_ source: Region, output: Rect, input: Shape) -> Image {
        let hood = neighbourhood(output, input)
        let ch = input.channels, r = radius, n = output.width * ch
        let columns = ColumnRun.runs(hood.columns(originX: source.x), channels: ch)
        // Padded row j (output row j - r) reads source row rowMap[j], relative to the region.
        let rowMap = hood.rows(originY: source.y)
        // Row-pass results in a ring of 2r+2 slots keyed by source row: the rows one
        // output row needs lie within 2r+1 consecutive source rows, so they never
        // collide, and each row is filtered once while the ring stays in cache.
        let slots = 2 * r + 2
        let ring = RowBuffer<UInt16>(rows: slots, length: n + 32)
        var held = [Int](repeating: -1, count: slots)
        let padded = RowBuffer<UInt8>(rows: 1, length: (output.width + 2 * r) * ch + 64)
        let srcRowBytes = source.image.rowBytes
        return source.image.pixels.withUnsafeBufferPointer { sp in
            columns.withUnsafeBufferPointer { runs in
                weights.withUnsafeBufferPointer { wp in
                    Image(width: output.width, height: output.height, channels: ch) { dst in
                        let taps = UnsafeMutablePointer<UnsafePointer<UInt16>>.allocate(capacity: 2 * r + 1)
                        defer { taps.deallocate() }
                        for y in 0..<output.height {
                            for k in 0...(2 * r) {
                                let row = rowMap[y + k], slot = row % slots
                                if held[slot] != row {
                                    fillPaddedRow(sp.baseAddress! + row * srcRowBytes, padded.base, runs: runs)
                                    Self.rowPass(padded.base, ring.row(slot), count: n, channels: ch,
                                                 weights: wp.baseAddress!, radius: r)
                                    held[slot] = row
                                }
                                taps[k] = UnsafePointer(ring.row(slot))
                            }
                            Self.columnPass(taps, dst + y * n, count: n, weights: wp.baseAddress!, radius: r)
                        }
                    }
                }
            }
        }
    }

    // Both passes work on 32 samples at a time in 16-bit lanes without
    // widening: 32 bytes loaded as 16 UInt16 hold the even samples in their
    // low bytes and the odd ones in their high bytes. Row-pass results keep
    // that split (16 even, then 16 odd, per block of 32), and the column pass
    // packs them back as `even | odd << 8`, which is the bytes in order.

    /// Row pass: `out[i] = Σ w[k] · src[i + k·ch]` with 8 fractional bits.
    /// Sums are below 2^16 and exact modulo 2^16, so wrapping arithmetic is exact.
    @inline(__always)
    static func rowPass(_ src: UnsafePointer<UInt8>, _ out: UnsafeMutablePointer<UInt16>, count: Int,
                        channels ch: Int, weights w: UnsafePointer<UInt16>, radius r: Int) {
        let mask = SIMD16<UInt16>(repeating: 0xFF)
        var i = 0
        while i < count {
            let p = UnsafeRawPointer(src + i)
            let c = p.loadUnaligned(fromByteOffset: r * ch, as: SIMD16<UInt16>.self)
            var even = (c & mask) &* w[r], odd = (c &>> 8) &* w[r]
            for k in 0..<r {
                let a = p.loadUnaligned(fromByteOffset: k * ch, as: SIMD16<UInt16>.self)
                let b = p.loadUnaligned(fromByteOffset: (2 * r - k) * ch, as: SIMD16<UInt16>.self)
                even &+= ((a & mask) &+ (b & mask)) &* w[k]
                odd &+= ((a &>> 8) &+ (b &>> 8)) &* w[k]
            }
            let o = UnsafeMutableRawPointer(out + i)
            o.storeBytes(of: even, as: SIMD16<UInt16>.self)
            o.storeBytes(of: odd, toByteOffset: 32, as: SIMD16<UInt16>.self)
            i += 32
        }
    }

    /// Column pass: `out[i] = round(Σ w[k] · rows[k][i] / 2^16)`.
    ///
    /// Each 16-bit sample splits into its high and low bytes, whose weighted
    /// sums (at most 255 · 256) fit 16 bits; `(hi + lo >> 8 + 128) >> 8` then
    /// equals the rounded 24-bit sum shifted by 16.
    @inline(__always)
    static func columnPass(_ rows: UnsafeMutablePointer<UnsafePointer<UInt16>>, _ out: UnsafeMutablePointer<UInt8>,
                           count: Int, weights w: UnsafePointer<UInt16>, radius r: Int) {
        @inline(__always)
        func half(_ offset: Int) -> SIMD16<UInt16> {
            let low = SIMD16<UInt16>(repeating: 0xFF)
            let c = UnsafeRawPointer(rows[r] + offset).loadUnaligned(as: SIMD16<UInt16>.self)
            var hi = (c &>> 8) &* w[r], lo = (c & low) &* w[r]
            for k in 0..<r {
                let a = UnsafeRawPointer(rows[k] + offset).loadUnaligned(as: SIMD16<UInt16>.self)
                let b = UnsafeRawPointer(rows[2 * r - k] + offset).loadUnaligned(as: SIMD16<UInt16>.self)
                hi &+= ((a &>> 8) &+ (b &>> 8)) &* w[k]
                lo &+= ((a & low) &+ (b & low)) &* w[k]
            }
            return (hi &+ (lo &>> 8) &+ 128) &>> 8
        }
        var i = 0
        while i < count {
            var packed = half(i) | (half(i + 16) &<< 8)
            if i + 32 <= count {
                UnsafeMutableRawPointer(out + i).storeBytes(of: packed, as: SIMD16<UInt16>.self)
            } else {
                withUnsafeBytes(of: &packed) { t in
                    for j in 0..<(count - i) { out[i + j] = t[j] }
                }
            }
            i += 32
        }
    }
}
