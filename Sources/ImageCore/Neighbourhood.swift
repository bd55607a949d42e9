/// The geometry of a neighbourhood operation with a `rx` by `ry` halo: the
/// input rectangle it needs and, for each padded column and row, the place
/// of the source region it reads, following the border rule on whole-image
/// coordinates.
struct Neighbourhood {
    let output: Rect
    let rx: Int
    let ry: Int
    let border: Border
    let input: Shape

    /// The input rectangle needed for `output`.
    var inputRect: Rect {
        let xs = border.span(output.x - rx, output.maxX + rx, size: input.width)
        let ys = border.span(output.y - ry, output.maxY + ry, size: input.height)
        return Rect(x: xs.lowerBound, y: ys.lowerBound, width: xs.count, height: ys.count)
    }

    /// For padded column `j` (output column `j - rx`), the source column
    /// relative to a region starting at `originX`.
    func columns(originX: Int) -> [Int] {
        border.offsets(start: output.x - rx, count: output.width + 2 * rx, size: input.width, origin: originX)
    }

    /// For padded row `j` (output row `j - ry`), the source row relative to `originY`.
    func rows(originY: Int) -> [Int] {
        border.offsets(start: output.y - ry, count: output.height + 2 * ry, size: input.height, origin: originY)
    }
}

/// A stretch of a padded row copied from consecutive source columns, in bytes.
struct ColumnRun {
    let to: Int
    let from: Int
    let count: Int

    /// The runs of a padded row whose column `j` is source column `columns[j]`:
    /// found once per region, so that each row is a few copies (the borders
    /// and one long middle) with no search.
    static func runs(_ columns: [Int], channels ch: Int) -> [ColumnRun] {
        var runs: [ColumnRun] = []
        var j = 0
        while j < columns.count {
            var k = j + 1
            while k < columns.count && columns[k] == columns[k - 1] + 1 { k += 1 }
            runs.append(ColumnRun(to: j * ch, from: columns[j] * ch, count: (k - j) * ch))
            j = k
        }
        return runs
    }
}

/// Copies one source row into `dst` with the border applied, run by run.
@inline(__always)
func fillPaddedRow(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>, runs: UnsafeBufferPointer<ColumnRun>) {
    for run in runs { (dst + run.to).update(from: src + run.from, count: run.count) }
}

/// A scratch buffer of 8-bit or 16-bit rows, freed when it goes away.
final class RowBuffer<T: FixedWidthInteger> {
    let stride: Int
    let rows: Int
    let base: UnsafeMutablePointer<T>

    /// `rows` rows of at least `length` elements, each padded for 16-wide vector access.
    init(rows: Int, length: Int) {
        self.rows = rows
        stride = (length + 15) / 16 * 16 + 16
        base = .allocate(capacity: max(1, rows) * stride)
        base.initialize(repeating: 0, count: max(1, rows) * stride)
    }

    @inline(__always) func row(_ i: Int) -> UnsafeMutablePointer<T> { base + i * stride }

    deinit { base.deallocate() }
}

@inline(__always)
func load16(_ p: UnsafePointer<UInt8>) -> SIMD16<UInt8> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt8>.self)
}

@inline(__always)
func load16(_ p: UnsafePointer<UInt16>) -> SIMD16<UInt16> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt16>.self)
}

@inline(__always)
func store16<T: SIMD>(_ v: T, _ p: UnsafeMutableRawPointer) {
    p.storeBytes(of: v, as: T.self)
}
