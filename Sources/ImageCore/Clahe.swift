import Foundation

/// Settings of `clahe:CLIP:GRID`: contrast-limited adaptive histogram
/// equalisation on a GRID × GRID grid of cells with clip limit CLIP, as
/// `cv2.createCLAHE(clipLimit=CLIP, tileGridSize=(GRID, GRID))`.
///
/// Gray images are equalised directly. Colour images are equalised on the
/// L channel of 8-bit Lab and converted back with a and b unchanged, as the
/// seed system did with OpenCV; alpha is kept.
///
/// clahe is not tile-local: each cell's histogram covers a whole cell of
/// the image. It runs as two parts: ``histograms(of:imageShape:)`` gives a
/// tile's contribution to every cell's histogram (summed over tiles — in
/// distributed runs with MPI_Allreduce), ``ClaheTables`` turns the sums into
/// lookup tables, and ``ClaheApply`` is the tile-local interpolation.
public struct ClaheSettings: Sendable, Hashable, CustomStringConvertible {
    public let clip: Double
    public let grid: Int

    /// - Parameters:
    ///   - clip: the contrast limit (OpenCV's clipLimit).
    ///   - grid: cells per side (OpenCV's tileGridSize).
    public init(clip: Double, grid: Int) {
        self.clip = clip
        self.grid = grid
    }

    public var description: String { "clahe:\(formatNumber(clip)):\(grid)" }

    /// Bins per histogram.
    public static let bins = 256

    /// Number of counters in a histogram set: grid² cells × 256 bins.
    public var histogramCount: Int { grid * grid * Self.bins }

    /// Cells cover the image padded (reflect-101) up to a multiple of the grid, as OpenCV does.
    func cellSize(_ shape: Shape) -> (width: Int, height: Int, paddedWidth: Int, paddedHeight: Int) {
        let pw = shape.width % grid == 0 ? shape.width : shape.width + grid - shape.width % grid
        let ph = shape.height % grid == 0 ? shape.height : shape.height + grid - shape.height % grid
        return (pw / grid, ph / grid, pw, ph)
    }

    /// Adds ``histograms(of:imageShape:)`` of `tile` to `sums`.
    public func add(_ tile: Region, imageShape shape: Shape, to sums: inout [UInt32]) {
        let part = histograms(of: tile, imageShape: shape)
        for i in part.indices { sums[i] &+= part[i] }
    }

    /// This tile's contribution to the cell histograms of the whole image:
    /// its own pixels, plus the padding pixels that mirror them.
    /// - Parameters:
    ///   - tile: a part of the image, in whole-image coordinates.
    ///   - shape: the whole image's shape (where the cells fall).
    public func histograms(of tile: Region, imageShape shape: Shape) -> [UInt32] {
        var hist = [UInt32](repeating: 0, count: histogramCount)
        let (cw, chh, pw, ph) = cellSize(shape)
        let r = tile.rect
        let lightness = Lab.lightnessPlane(tile.image)
        // For each tile column: the cells it counts in (its own, and those of padding columns mirroring it).
        func cells(_ lo: Int, _ hi: Int, size: Int, padded: Int, cell: Int) -> [[Int]] {
            var result = (lo..<hi).map { [$0 / cell] }
            for p in size..<padded {
                let s = Border.reflect101.index(p, size: size)
                if s >= lo && s < hi { result[s - lo].append(p / cell) }
            }
            return result
        }
        let colCells = cells(r.x, r.maxX, size: shape.width, padded: pw, cell: cw)
        let rowCells = cells(r.y, r.maxY, size: shape.height, padded: ph, cell: chh)
        // Each pixel counts in its own cell; the few that padding mirrors count again in the padding's cells.
        let ownColumn = colCells.map { $0[0] }, mirroredColumns = colCells.indices.filter { colCells[$0].count > 1 }
        hist.withUnsafeMutableBufferPointer { h in
            lightness.withUnsafeBufferPointer { l in
                ownColumn.withUnsafeBufferPointer { own in
                    for y in 0..<r.height {
                        let line = l.baseAddress! + y * r.width
                        for cy in rowCells[y] {
                            let cells = h.baseAddress! + cy * grid * Self.bins
                            for x in 0..<r.width { cells[own[x] &* Self.bins &+ Int(line[x])] &+= 1 }
                            for x in mirroredColumns {
                                for cx in colCells[x].dropFirst() { cells[cx * Self.bins + Int(line[x])] += 1 }
                            }
                        }
                    }
                }
            }
        }
        return hist
    }
}

/// clahe's global step: cell lookup tables built from the summed histograms
/// of the whole image (clipped, the excess spread evenly, cumulated), as OpenCV.
public struct ClaheTables: Sendable {
    public let settings: ClaheSettings
    let cellWidth: Int
    let cellHeight: Int
    /// grid² tables of 256 entries, row-major by cell.
    let tables: [UInt8]

    /// - Parameters:
    ///   - settings: clip limit and grid.
    ///   - histograms: every cell's histogram, summed over the whole image.
    ///   - imageShape: the whole image's shape.
    public init(settings: ClaheSettings, histograms: [UInt32], imageShape: Shape) {
        precondition(histograms.count == settings.histogramCount)
        self.settings = settings
        let (cw, chh, _, _) = settings.cellSize(imageShape)
        cellWidth = cw
        cellHeight = chh
        let bins = ClaheSettings.bins
        let area = cw * chh
        let clipLimit = settings.clip > 0 ? max(Int(settings.clip * Double(area) / Double(bins)), 1) : Int.max
        let scale = Float(bins - 1) / Float(area)
        var tables = [UInt8](repeating: 0, count: histograms.count)
        for cell in 0..<(settings.grid * settings.grid) {
            var h = (0..<bins).map { Int(histograms[cell * bins + $0]) }
            if clipLimit != Int.max {
                var clipped = 0
                for i in 0..<bins where h[i] > clipLimit {
                    clipped += h[i] - clipLimit
                    h[i] = clipLimit
                }
                let batch = clipped / bins
                var residual = clipped - batch * bins
                for i in 0..<bins { h[i] += batch }
                if residual != 0 {
                    let step = max(bins / residual, 1)
                    var i = 0
                    while i < bins && residual > 0 {
                        h[i] += 1
                        i += step
                        residual -= 1
                    }
                }
            }
            var sum = 0
            for i in 0..<bins {
                sum += h[i]
                let v = (Float(sum) * scale).rounded(.toNearestOrEven)
                tables[cell * bins + i] = v >= 255 ? 255 : UInt8(v)
            }
        }
        self.tables = tables
    }
}

/// clahe's tile-local part: each pixel's lightness mapped through the four
/// nearest cell tables, interpolated bilinearly in single precision as OpenCV.
public struct ClaheApply: TileOperation {
    public let tables: ClaheTables
    public init(tables: ClaheTables) { self.tables = tables }
    public var description: String { tables.settings.description }
    public func outputShape(for input: Shape) -> Shape { input }
    public func inputRect(for output: Rect, input: Shape) -> Rect { output }

    public func apply(_ source: Region, output: Rect, input: Shape) -> Region {
        let src = source.cropped(to: output).image
        let grid = tables.settings.grid
        let ch = input.channels, w = output.width
        let invW = 1 / Float(tables.cellWidth), invH = 1 / Float(tables.cellHeight)
        // Per column: the two cell columns and their weights.
        let c1 = UnsafeMutablePointer<Int>.allocate(capacity: w), c2 = UnsafeMutablePointer<Int>.allocate(capacity: w)
        let xa = UnsafeMutablePointer<Float>.allocate(capacity: w), xa1 = UnsafeMutablePointer<Float>.allocate(capacity: w)
        // One row's lightness, a and b, and its equalised lightness.
        let planes = RowBuffer<UInt8>(rows: 4, length: w)
        let run = LabRun()
        defer { c1.deallocate(); c2.deallocate(); xa.deallocate(); xa1.deallocate() }
        for x in 0..<w {
            let txf = Float(output.x + x) * invW - 0.5
            let t1 = Int(txf.rounded(.down))
            xa[x] = txf - Float(t1)
            xa1[x] = 1 - xa[x]
            c1[x] = max(t1, 0) * ClaheSettings.bins
            c2[x] = min(t1 + 1, grid - 1) * ClaheSettings.bins
        }
        let out = LabTables.with { labTables in
            tables.tables.withUnsafeBufferPointer { lut in
                src.pixels.withUnsafeBufferPointer { sp in
                    Image(width: w, height: output.height, channels: ch) { d in
                        let lightness = planes.row(0), aPlane = planes.row(1), bPlane = planes.row(2), equalised = planes.row(3)
                        for y in 0..<output.height {
                            let s = sp.baseAddress! + y * w * ch, o = d + y * w * ch
                            let tyf = Float(output.y + y) * invH - 0.5
                            let ty1 = Int(tyf.rounded(.down))
                            let ya = tyf - Float(ty1), ya1 = 1 - ya
                            let p1 = lut.baseAddress! + max(ty1, 0) * grid * ClaheSettings.bins
                            let p2 = lut.baseAddress! + min(ty1 + 1, grid - 1) * grid * ClaheSettings.bins
                            // The row in runs, each in passes: lightness (and a, b) of every
                            // pixel, then the equalised lightness, then back to RGB.
                            for from in stride(from: 0, to: w, by: LabRun.length) {
                                let n = min(LabRun.length, w - from)
                                let l = lightness + from, e = equalised + from
                                if ch >= 3 {
                                    Lab.fromRGB(s + from * ch, channels: ch, count: n, l: l, a: aPlane + from, b: bPlane + from,
                                                run: run, tables: labTables)
                                } else {
                                    for x in 0..<n { l[x] = s[(from &+ x) &* ch] }
                                }
                                // The four cell tables' values first, then their weighted sum.
                                let q0 = run.float(0), q1 = run.float(1), q2 = run.float(2), q3 = run.float(3)
                                for x in 0..<n {
                                    let v = Int(l[x]), cx = from &+ x
                                    q0[x] = Float(p1[c1[cx] &+ v]); q1[x] = Float(p1[c2[cx] &+ v])
                                    q2[x] = Float(p2[c1[cx] &+ v]); q3[x] = Float(p2[c2[cx] &+ v])
                                }
                                for x in 0..<n {
                                    let wa1 = xa1[from &+ x], wa = xa[from &+ x]
                                    let res = (q0[x] * wa1 + q1[x] * wa) * ya1 + (q2[x] * wa1 + q3[x] * wa) * ya
                                    e[x] = Lab.byte(res)
                                }
                                let op = o + from * ch
                                switch ch {
                                case 1:
                                    op.update(from: e, count: n)
                                case 2:
                                    for x in 0..<n { op[2 &* x] = e[x]; op[2 &* x &+ 1] = s[2 &* (from &+ x) &+ 1] }
                                default:
                                    Lab.toRGB(l: e, a: aPlane + from, b: bPlane + from, count: n, into: op, channels: ch,
                                              run: run, tables: labTables)
                                    if ch == 4 { for x in 0..<n { op[x &* 4 &+ 3] = s[(from &+ x) &* 4 &+ 3] } }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Region(image: out, x: output.x, y: output.y)
    }
}
