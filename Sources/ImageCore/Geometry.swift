/// `flip:h` mirrors left to right, `flip:v` top to bottom.
public struct Flip: TileOperation {
    public enum Axis: String, Sendable { case h, v }
    public let axis: Axis
    public init(axis: Axis) { self.axis = axis }
    public var description: String { "flip:\(axis.rawValue)" }

    public func outputShape(for input: Shape) -> Shape { input }

    public func inputRect(for output: Rect, input: Shape) -> Rect {
        var r = output
        switch axis {
        case .h: r.x = input.width - output.maxX
        case .v: r.y = input.height - output.maxY
        }
        return r
    }

    public func apply(_ source: Region, output: Rect, input: Shape) -> Region {
        let src = source.cropped(to: inputRect(for: output, input: input)).image
        let ch = src.channels, w = src.width, h = src.height, row = src.rowBytes
        let out = src.pixels.withUnsafeBufferPointer { sp in
            Image(width: w, height: h, channels: ch) { d in
                let s = sp.baseAddress!
                for y in 0..<h {
                    switch axis {
                    case .v:
                        (d + y * row).update(from: s + (h - 1 - y) * row, count: row)
                    case .h:
                        let sr = s + y * row, dr = d + y * row
                        mirrorRow(sr, dr, width: w, channels: ch)
                    }
                }
            }
        }
        return Region(image: out, x: output.x, y: output.y)
    }
}

/// `rotate:90|180|270`: rotates clockwise by that many degrees (as
/// `cv2.rotate` with ROTATE_90_CLOCKWISE, ROTATE_180, ROTATE_90_COUNTERCLOCKWISE).
public struct Rotate: TileOperation {
    public let degrees: Int
    public init(degrees: Int) {
        precondition([90, 180, 270].contains(degrees))
        self.degrees = degrees
    }
    public var description: String { "rotate:\(degrees)" }

    public func outputShape(for input: Shape) -> Shape {
        degrees == 180 ? input : Shape(width: input.height, height: input.width, channels: input.channels)
    }

    public func inputRect(for o: Rect, input: Shape) -> Rect {
        switch degrees {
        case 90:  // out(x, y) = in(y, H-1-x)
            return Rect(x: o.y, y: input.height - o.maxX, width: o.height, height: o.width)
        case 270: // out(x, y) = in(W-1-y, x)
            return Rect(x: input.width - o.maxY, y: o.x, width: o.height, height: o.width)
        default:  // out(x, y) = in(W-1-x, H-1-y)
            return Rect(x: input.width - o.maxX, y: input.height - o.maxY, width: o.width, height: o.height)
        }
    }

    public func apply(_ source: Region, output o: Rect, input: Shape) -> Region {
        let need = inputRect(for: o, input: input)
        let src = source.cropped(to: need).image
        let ch = src.channels, sw = src.width, sh = src.height, rowOut = o.width * ch
        let out = src.pixels.withUnsafeBufferPointer { sp in
            Image(width: o.width, height: o.height, channels: ch) { d in
                let s = sp.baseAddress!
                if degrees == 180 {
                    for y in 0..<o.height { mirrorRow(s + (sh - 1 - y) * sw * ch, d + y * rowOut, width: o.width, channels: ch) }
                    return
                }
                // Quarter turns transpose, in blocks of 128 output rows by 512 pixels: a run
                // of 512 reads down a source column is long enough for the hardware to
                // prefetch, and the 128 columns' lines are still in cache for the next row
                // (32×32 blocks took twice the time here).
                // Output pixel (x, y) reads source pixel first + x·step (local coordinates).
                let blockRows = 128, blockColumns = 512
                let step = degrees == 90 ? -sw : sw
                for by in stride(from: 0, to: o.height, by: blockRows) {
                    for bx in stride(from: 0, to: o.width, by: blockColumns) {
                        let endX = min(bx + blockColumns, o.width)
                        for y in by..<min(by + blockRows, o.height) {
                            let first = degrees == 90 ? (sh - 1) * sw + y : sw - 1 - y
                            transposeRun(s, d + y * rowOut, from: bx, to: endX, rowEnd: o.width, first: first, step: step, channels: ch)
                        }
                    }
                }
            }
        }
        return Region(image: out, x: o.x, y: o.y)
    }
}

/// `resize:WxH` or `resize:SCALE`: bilinear resampling with OpenCV's
/// `INTER_LINEAR` pixel-centre mapping and 11-bit fixed-point weights, so it
/// matches `cv2.resize` within ±1. `SCALE` multiplies both sides (rounded, at
/// least 1). Like OpenCV's default it does not pre-filter, so large
/// reductions alias; blur first when that matters.
public struct Resize: TileOperation {
    public enum Target: Sendable, Equatable {
        case size(width: Int, height: Int)
        case scale(Double)
    }
    public let target: Target
    public init(_ target: Target) { self.target = target }

    public var description: String {
        switch target {
        case let .size(w, h): return "resize:\(w)x\(h)"
        case let .scale(s): return "resize:\(formatNumber(s))"
        }
    }

    public func outputShape(for input: Shape) -> Shape {
        switch target {
        case let .size(w, h):
            return Shape(width: w, height: h, channels: input.channels)
        case let .scale(s):
            func scaled(_ v: Int) -> Int { max(1, Int((Double(v) * s).rounded(.toNearestOrEven))) }
            return Shape(width: scaled(input.width), height: scaled(input.height), channels: input.channels)
        }
    }

    /// Source index and weight (of 2048) of the first of two taps, per output coordinate.
    struct Taps {
        var index: [Int]
        var weight: [Int32]
    }

    static func taps(from start: Int, count: Int, inSize: Int, outSize: Int) -> Taps {
        let scale = Double(inSize) / Double(outSize)
        var index = [Int](repeating: 0, count: count)
        var weight = [Int32](repeating: 0, count: count)
        for k in 0..<count {
            let d = start + k
            var f = (Double(d) + 0.5) * scale - 0.5
            var s = Int(f.rounded(.down))
            f -= Double(s)
            if s < 0 { s = 0; f = 0 }
            if s >= inSize - 1 { s = inSize - 1; f = 0 }
            index[k] = s
            weight[k] = Int32((1 - f) * 2048 + 0.5) // cvRound of a non-negative value
        }
        return Taps(index: index, weight: weight)
    }

    public func inputRect(for o: Rect, input: Shape) -> Rect {
        let out = outputShape(for: input)
        let tx = Self.taps(from: o.x, count: 1, inSize: input.width, outSize: out.width).index[0]
        let tx1 = Self.taps(from: o.maxX - 1, count: 1, inSize: input.width, outSize: out.width).index[0]
        let ty = Self.taps(from: o.y, count: 1, inSize: input.height, outSize: out.height).index[0]
        let ty1 = Self.taps(from: o.maxY - 1, count: 1, inSize: input.height, outSize: out.height).index[0]
        let x1 = min(input.width, tx1 + 2), y1 = min(input.height, ty1 + 2)
        return Rect(x: tx, y: ty, width: x1 - tx, height: y1 - ty)
    }

    public func apply(_ source: Region, output o: Rect, input: Shape) -> Region {
        let out = outputShape(for: input)
        let ch = input.channels
        if input.width == 2 * out.width && input.height == 2 * out.height {
            return Region(image: Self.halve(source, output: o, channels: ch), x: o.x, y: o.y)
        }
        return bilinear(source, output: o, input: input)
    }

    /// The general case: two taps per axis with 11-bit weights.
    package func bilinear(_ source: Region, output o: Rect, input: Shape) -> Region {
        let out = outputShape(for: input)
        let ch = input.channels
        let xt = Self.taps(from: o.x, count: o.width, inSize: input.width, outSize: out.width)
        let yt = Self.taps(from: o.y, count: o.height, inSize: input.height, outSize: out.height)
        let src = source.image
        let rowLen = o.width * ch
        // Per output pixel: the offset of its first tap in a source row, and its weight. The
        // second tap is `ch` bytes on; pixels from `paired` on have their first tap on the
        // region's last column (weight 2048), where there is no second tap to read.
        let offsets = (0..<o.width).map { (xt.index[$0] - source.x) * ch }, weights = xt.weight
        let paired = (0..<o.width).first { xt.index[$0] - source.x + 1 >= src.width } ?? o.width
        // RGB and RGBA pixels below `lanes` go four samples at a time: both taps' four
        // bytes (an RGB pixel's fourth is its neighbour's first) widened, weighted and
        // added in one vector, and stored whole (an RGB pixel's fourth sample is
        // overwritten by the next pixel). The second tap's four bytes must lie in the row.
        let lanes = ch < 3 ? 0 : (0..<paired).first { offsets[$0] + ch + 4 > src.rowBytes } ?? paired
        // Horizontal results for the two source rows of an output row, cached by
        // source row (one sample spare for the last four-sample store).
        var rowA = [Int32](repeating: 0, count: rowLen + 1), rowB = rowA
        var rowAIndex = -1, rowBIndex = -1
        let image = src.pixels.withUnsafeBufferPointer { sp in
            Image(width: o.width, height: o.height, channels: ch) { d in
                func horizontal(_ sy: Int, into row: inout [Int32]) {
                    let line = sp.baseAddress! + (sy - source.y) * src.rowBytes
                    offsets.withUnsafeBufferPointer { off in
                        weights.withUnsafeBufferPointer { w in
                            row.withUnsafeMutableBufferPointer { r in
                                @inline(__always) func taps(_ ch: Int) {
                                    for k in 0..<lanes {
                                        let p = UnsafeRawPointer(line + off[k]), w0 = w[k], w1 = 2048 &- w[k]
                                        let v = widen(p.loadUnaligned(as: SIMD4<UInt8>.self)) &* w0
                                            &+ widen(p.loadUnaligned(fromByteOffset: ch, as: SIMD4<UInt8>.self)) &* w1
                                        UnsafeMutableRawPointer(r.baseAddress! + k &* ch).storeBytes(of: v, as: SIMD4<Int32>.self)
                                    }
                                    for k in lanes..<paired {
                                        let p = line + off[k], w0 = w[k], w1 = 2048 &- w[k], q = k &* ch
                                        for c in 0..<ch { r[q &+ c] = Int32(p[c]) &* w0 &+ Int32(p[c &+ ch]) &* w1 }
                                    }
                                    for k in paired..<o.width {
                                        let p = line + off[k], q = k &* ch
                                        for c in 0..<ch { r[q &+ c] = Int32(p[c]) &* 2048 }
                                    }
                                }
                                withConstantChannels(ch, taps)
                            }
                        }
                    }
                }
                for y in 0..<o.height {
                    let sy0 = yt.index[y]
                    let b0 = yt.weight[y], b1 = 2048 - b0
                    let sy1 = b1 == 0 ? sy0 : sy0 + 1
                    if rowAIndex != sy0 {
                        if rowBIndex == sy0 { swap(&rowA, &rowB); swap(&rowAIndex, &rowBIndex) }
                        else { horizontal(sy0, into: &rowA); rowAIndex = sy0 }
                    }
                    if rowBIndex != sy1 { horizontal(sy1, into: &rowB); rowBIndex = sy1 }
                    let dr = d + y * rowLen
                    rowA.withUnsafeBufferPointer { ra in
                        rowB.withUnsafeBufferPointer { rb in
                            // At most 255 · 2048 · 2048 < 2^31: 32-bit lanes suffice.
                            for i in 0..<rowLen {
                                dr[i] = UInt8(truncatingIfNeeded: (ra[i] &* b0 &+ rb[i] &* b1 &+ (1 << 21)) &>> 22)
                            }
                        }
                    }
                }
            }
        }
        return Region(image: image, x: o.x, y: o.y)
    }
}

extension Resize {
    /// Exactly half size: every tap sits on a source pixel with weight 1024 of
    /// 2048, so the bilinear result is the 2×2 block's sum plus 2, over 4
    /// (as OpenCV's own shortcut for this case). Rows are summed down sixteen
    /// samples at a time, then pairs across.
    package static func halve(_ source: Region, output o: Rect, channels ch: Int) -> Image {
        let src = source.image, rowLen = o.width * ch, pairLen = 2 * rowLen
        let left = (2 * o.x - source.x) * ch, top = 2 * o.y - source.y
        let sums = UnsafeMutablePointer<UInt16>.allocate(capacity: pairLen + 16)
        let means = UnsafeMutablePointer<UInt8>.allocate(capacity: pairLen + 64)
        defer { sums.deallocate(); means.deallocate() }
        return src.pixels.withUnsafeBufferPointer { sp in
            Image(width: o.width, height: o.height, channels: ch) { d in
                for y in 0..<o.height {
                    let a = sp.baseAddress! + (top + 2 * y) * src.rowBytes + left, b = a + src.rowBytes
                    var i = 0
                    while i &+ 16 <= pairLen {
                        let va = load16(a + i), vb = load16(b + i)
                        let s = SIMD16<UInt16>(lowHalf: widen(va.lowHalf), highHalf: widen(va.highHalf))
                            &+ SIMD16<UInt16>(lowHalf: widen(vb.lowHalf), highHalf: widen(vb.highHalf))
                        UnsafeMutableRawPointer(sums + i).storeBytes(of: s, as: SIMD16<UInt16>.self)
                        i &+= 16
                    }
                    while i < pairLen { sums[i] = UInt16(a[i]) &+ UInt16(b[i]); i &+= 1 }
                    // Every sample's rounded mean with the sample `ch` to its right; an output
                    // sample is the mean at its left pixel's place, picked out below.
                    i = 0
                    while i &+ 16 <= pairLen &- ch {
                        let left: SIMD16<UInt16> = load16(sums + i), right: SIMD16<UInt16> = load16(sums + (i &+ ch))
                        let m = (left &+ right &+ 2) &>> 2
                        UnsafeMutableRawPointer(means + i).storeBytes(of: lowBytes(m), as: SIMD16<UInt8>.self)
                        i &+= 16
                    }
                    while i < pairLen &- ch { means[i] = UInt8(truncatingIfNeeded: (sums[i] &+ sums[i &+ ch] &+ 2) &>> 2); i &+= 1 }
                    let dr = d + y * rowLen
                    let done = pickMeans(means, dr, width: o.width, channels: ch)
                    for k in done..<o.width {
                        for c in 0..<ch { dr[k &* ch &+ c] = means[2 &* k &* ch &+ c] }
                    }
                }
            }
        }
    }
}

/// Four bytes as four 32-bit lanes, element by element (one zero-extending load).
@inline(__always)
func widen(_ v: SIMD4<UInt8>) -> SIMD4<Int32> { SIMD4(Int32(v[0]), Int32(v[1]), Int32(v[2]), Int32(v[3])) }

/// Output samples of a halved row from the means of sample pairs (a byte
/// each): sample `c` of pixel `k` is the mean at `2k·ch + c`. Each 16 bytes
/// written are a fixed pick from two 16-byte loads, which the compiler makes
/// a two-source byte shuffle (pshufb and a blend on AVX2). Returns the pixels
/// written; the rest are the caller's.
@inline(__always)
func pickMeans(_ means: UnsafeMutablePointer<UInt8>, _ dr: UnsafeMutablePointer<UInt8>, width: Int, channels ch: Int) -> Int {
    typealias V = SIMD16<UInt8>
    let m = UnsafeRawPointer(means), to = UnsafeMutableRawPointer(dr)
    @inline(__always) func two(_ offset: Int) -> (V, V) {
        (m.loadUnaligned(fromByteOffset: offset, as: V.self), m.loadUnaligned(fromByteOffset: offset &+ 16, as: V.self))
    }
    var k = 0
    switch ch {
    case 1:
        while k &+ 16 <= width {
            let (x, y) = two(2 &* k)
            to.storeBytes(of: pick(x, y, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), toByteOffset: k, as: V.self)
            k &+= 16
        }
    case 2:
        while k &+ 8 <= width {
            let (x, y) = two(4 &* k)
            to.storeBytes(of: pick(x, y, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29), toByteOffset: 2 &* k, as: V.self)
            k &+= 8
        }
    case 3:
        // 16 pixels: 48 bytes from means 0...92 of the block, read as 0..<32, 31..<63 and 62..<94.
        while k &+ 16 <= width {
            let base = 6 &* k
            let (x, y) = two(base)
            to.storeBytes(of: pick(x, y, 0, 1, 2, 6, 7, 8, 12, 13, 14, 18, 19, 20, 24, 25, 26, 30), toByteOffset: 3 &* k, as: V.self)
            let (x1, y1) = two(base &+ 31)
            to.storeBytes(of: pick(x1, y1, 0, 1, 5, 6, 7, 11, 12, 13, 17, 18, 19, 23, 24, 25, 29, 30), toByteOffset: 3 &* k &+ 16, as: V.self)
            let (x2, y2) = two(base &+ 62)
            to.storeBytes(of: pick(x2, y2, 0, 4, 5, 6, 10, 11, 12, 16, 17, 18, 22, 23, 24, 28, 29, 30), toByteOffset: 3 &* k &+ 32, as: V.self)
            k &+= 16
        }
    default:
        while k &+ 4 <= width {
            let (x, y) = two(8 &* k)
            to.storeBytes(of: pick(x, y, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27), toByteOffset: 4 &* k, as: V.self)
            k &+= 4
        }
    }
    return k
}

/// Bytes of `x` (indices 0..<16) and `y` (16..<32) at fixed places.
@inline(__always)
func pick(_ x: SIMD16<UInt8>, _ y: SIMD16<UInt8>, _ i0: Int, _ i1: Int, _ i2: Int, _ i3: Int, _ i4: Int, _ i5: Int, _ i6: Int, _ i7: Int,
          _ i8: Int, _ i9: Int, _ i10: Int, _ i11: Int, _ i12: Int, _ i13: Int, _ i14: Int, _ i15: Int) -> SIMD16<UInt8> {
    @inline(__always) func at(_ i: Int) -> UInt8 { i < 16 ? x[i] : y[i &- 16] }
    return SIMD16<UInt8>(at(i0), at(i1), at(i2), at(i3), at(i4), at(i5), at(i6), at(i7),
                         at(i8), at(i9), at(i10), at(i11), at(i12), at(i13), at(i14), at(i15))
}

/// Copies one pixel of `ch` samples; a switch beats a variable-length copy call.
@inline(__always)
func copyPixel(_ from: UnsafePointer<UInt8>, _ to: UnsafeMutablePointer<UInt8>, _ ch: Int) {
    switch ch {
    case 1: to[0] = from[0]
    case 2: to[0] = from[0]; to[1] = from[1]
    case 3: to[0] = from[0]; to[1] = from[1]; to[2] = from[2]
    default: to[0] = from[0]; to[1] = from[1]; to[2] = from[2]; to[3] = from[3]
    }
}

/// Output pixels `x0..<x1` of one row of a quarter turn: pixel `x` is source
/// pixel `first + x·step`. One load and one store per pixel, as in
/// ``mirrorRow(_:_:width:channels:)``; a 3-byte pixel at the end of the row,
/// or from the source's first byte, is copied byte by byte.
@inline(__always)
func transposeRun(_ src: UnsafePointer<UInt8>, _ dstRow: UnsafeMutablePointer<UInt8>, from x0: Int, to x1: Int, rowEnd: Int,
                  first: Int, step: Int, channels ch: Int) {
    let from = UnsafeRawPointer(src), to = UnsafeMutableRawPointer(dstRow)
    switch ch {
    case 1:
        for x in x0..<x1 { dstRow[x] = src[first &+ x &* step] }
    case 3:
        for x in x0..<x1 {
            let i = first &+ x &* step
            if x == rowEnd &- 1 || i == 0 {
                copyPixel(src + i &* 3, dstRow + x &* 3, 3)
            } else {
                to.storeBytes(of: from.loadUnaligned(fromByteOffset: i &* 3 &- 1, as: UInt32.self) >> 8, toByteOffset: x &* 3, as: UInt32.self)
            }
        }
    case 4:
        for x in x0..<x1 { to.storeBytes(of: from.loadUnaligned(fromByteOffset: (first &+ x &* step) &* 4, as: UInt32.self), toByteOffset: x &* 4, as: UInt32.self) }
    default:
        for x in x0..<x1 { copyPixel(src + (first &+ x &* step) &* ch, dstRow + x &* ch, ch) }
    }
}

/// Writes the pixels of a row in reverse order: one load and one store per
/// pixel (a 3-byte pixel moves as 4 bytes: read from one byte before it,
/// written with a spare byte the next pixel overwrites), 16 at once for gray.
@inline(__always)
func mirrorRow(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>, width w: Int, channels ch: Int) {
    let from = UnsafeRawPointer(src), to = UnsafeMutableRawPointer(dst)
    switch ch {
    case 1:
        var x = 0
        while x &+ 16 <= w {
            let v = from.loadUnaligned(fromByteOffset: w &- 16 &- x, as: SIMD16<UInt8>.self)
            to.storeBytes(of: SIMD16(v[15], v[14], v[13], v[12], v[11], v[10], v[9], v[8],
                                     v[7], v[6], v[5], v[4], v[3], v[2], v[1], v[0]), toByteOffset: x, as: SIMD16<UInt8>.self)
            x &+= 16
        }
        while x < w { dst[x] = src[w &- 1 &- x]; x &+= 1 }
    case 2:
        for x in 0..<w { to.storeBytes(of: from.loadUnaligned(fromByteOffset: (w &- 1 &- x) &* 2, as: UInt16.self), toByteOffset: x &* 2, as: UInt16.self) }
    case 3:
        // 16 pixels (48 bytes) at a time. Each 16 bytes written draw on two
        // 16-byte loads of the block, so that every one is a two-source byte
        // shuffle (pshufb and a blend) on any x86 with SSSE3, not a chain of
        // byte extracts.
        typealias V = SIMD16<UInt8>
        var x = 0
        while x &+ 16 <= w {
            let p = from + (w &- 16 &- x) &* 3
            let a = p.loadUnaligned(as: V.self), b = p.loadUnaligned(fromByteOffset: 16, as: V.self)
            let c = p.loadUnaligned(fromByteOffset: 32, as: V.self)
            let m = p.loadUnaligned(fromByteOffset: 15, as: V.self), n = p.loadUnaligned(fromByteOffset: 17, as: V.self)
            let q = to + x &* 3
            q.storeBytes(of: V(c[13], c[14], c[15], c[10], c[11], c[12], c[7], c[8], c[9], c[4], c[5], c[6], c[1], c[2], c[3], b[14]), as: V.self)
            q.storeBytes(of: V(n[14], n[15], m[12], m[13], m[14], m[9], m[10], m[11], m[6], m[7], m[8], m[3], m[4], m[5], m[0], m[1]), toByteOffset: 16, as: V.self)
            q.storeBytes(of: V(b[1], a[12], a[13], a[14], a[9], a[10], a[11], a[6], a[7], a[8], a[3], a[4], a[5], a[0], a[1], a[2]), toByteOffset: 32, as: V.self)
            x &+= 16
        }
        while x < w { copyPixel(src + (w &- 1 &- x) &* 3, dst + x &* 3, 3); x &+= 1 }
    default:
        for x in 0..<w { to.storeBytes(of: from.loadUnaligned(fromByteOffset: (w &- 1 &- x) &* 4, as: UInt32.self), toByteOffset: x &* 4, as: UInt32.self) }
    }
}

/// `crop:X:Y:W:H`: the W×H rectangle whose top-left corner is (X, Y), cut
/// to the image where it runs past an edge (as libvips and imgproxy do).
public struct Crop: TileOperation {
    public let x: Int, y: Int, width: Int, height: Int
    /// - Parameters:
    ///   - x: left edge of the kept rectangle.
    ///   - y: top edge.
    ///   - width: its width.
    ///   - height: its height.
    public init(x: Int, y: Int, width: Int, height: Int) {
        (self.x, self.y, self.width, self.height) = (x, y, width, height)
    }
    public var description: String { "crop:\(x):\(y):\(width):\(height)" }

    public func outputShape(for input: Shape) -> Shape {
        Shape(width: max(0, min(width, input.width - x)), height: max(0, min(height, input.height - y)), channels: input.channels)
    }

    public func inputRect(for output: Rect, input: Shape) -> Rect {
        Rect(x: output.x + x, y: output.y + y, width: output.width, height: output.height)
    }

    public func apply(_ source: Region, output: Rect, input: Shape) -> Region {
        Region(image: source.cropped(to: inputRect(for: output, input: input)).image, x: output.x, y: output.y)
    }
}
