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
        let need = hood.inputRect
        let ch = input.channels, r = radius, n = output.width * ch
        let columns = hood.columns(originX: source.x)
        // Rows of `need`, relative to need.y; padded row j reads horizontal row rowMap[j].
        let rowMap = hood.rows(originY: need.y)
        let horizontal = RowBuffer<UInt16>(rows: need.height, length: n)
        let padded = RowBuffer<UInt8>(rows: 1, length: (output.width + 2 * r) * ch + 16)
        let w = weights
        let srcRowBytes = source.image.rowBytes

        source.image.pixels.withUnsafeBufferPointer { sp in
            columns.withUnsafeBufferPointer { cols in
                w.withUnsafeBufferPointer { wp in
                    for row in 0..<need.height {
                        let line = sp.baseAddress! + (need.y + row - source.y) * srcRowBytes
                        fillPaddedRow(line, padded.base, columns: cols, channels: ch)
                        Self.rowPass(padded.base, horizontal.row(row), count: n, channels: ch,
                                     weights: wp.baseAddress!, radius: r)
                    }
                }
            }
        }
        return Image(width: output.width, height: output.height, channels: ch) { dst in
            let taps = UnsafeMutablePointer<UnsafePointer<UInt16>>.allocate(capacity: 2 * r + 1)
            defer { taps.deallocate() }
            w.withUnsafeBufferPointer { wp in
                for y in 0..<output.height {
                    for k in 0...(2 * r) { taps[k] = UnsafePointer(horizontal.row(rowMap[y + k])) }
                    Self.columnPass(taps, dst + y * n, count: n, weights: wp.baseAddress!, radius: r)
                }
            }
        }
    }

    /// `out[i] = Σ w[k] · src[i + k·ch]` over 16 samples at a time; sums are
    /// exact modulo 2^16 and below 2^16, so wrapping arithmetic is exact.
    @inline(__always)
    static func rowPass(_ src: UnsafePointer<UInt8>, _ out: UnsafeMutablePointer<UInt16>, count: Int,
                        channels ch: Int, weights w: UnsafePointer<UInt16>, radius r: Int) {
        var i = 0
        while i < count {
            let p = src + i
            var acc = SIMD16<UInt16>(truncatingIfNeeded: load16(p + r * ch)) &* w[r]
            for k in 0..<r {
                let a = SIMD16<UInt16>(truncatingIfNeeded: load16(p + k * ch))
                let b = SIMD16<UInt16>(truncatingIfNeeded: load16(p + (2 * r - k) * ch))
                acc &+= (a &+ b) &* w[k]
            }
            store16(acc, UnsafeMutableRawPointer(out + i))
            i += 16
        }
    }

    /// `out[i] = round(Σ w[k] · rows[k][i] / 2^16)`, 16 samples at a time.
    @inline(__always)
    static func columnPass(_ rows: UnsafeMutablePointer<UnsafePointer<UInt16>>, _ out: UnsafeMutablePointer<UInt8>,
                           count: Int, weights w: UnsafePointer<UInt16>, radius r: Int) {
        var i = 0
        var tail = SIMD16<UInt8>()
        while i < count {
            var acc = SIMD16<UInt32>(truncatingIfNeeded: load16(rows[r] + i)) &* UInt32(w[r])
            for k in 0..<r {
                let a = SIMD16<UInt32>(truncatingIfNeeded: load16(rows[k] + i))
                let b = SIMD16<UInt32>(truncatingIfNeeded: load16(rows[2 * r - k] + i))
                acc &+= (a &+ b) &* UInt32(w[k])
            }
            let v = SIMD16<UInt8>(truncatingIfNeeded: (acc &+ 32768) &>> 16)
            if i + 16 <= count {
                store16(v, UnsafeMutableRawPointer(out + i))
            } else {
                tail = v
                withUnsafeBytes(of: &tail) { t in
                    for j in 0..<(count - i) { out[i + j] = t[j] }
                }
            }
            i += 16
        }
    }
}
