import Dispatch
import ImageCore

/// A plan run over strips of output rows: each strip's input rows decoded
/// when it needs them (``RowCache``), the strip processed, encoded at once
/// as a band of the result (``JPEGBands``, ``PNGBands``) and its rows
/// dropped. What is held is a strip, its halo and the compressed result,
/// not whole images; the bytes are those of decoding the whole image,
/// running the plan on it and encoding the result.
///
/// clahe needs every cell's histogram before its first output row, so a
/// plan with one clahe reads the source twice: a first pass over strips of
/// the stage before clahe sums their histograms (as ranks sum their tiles'),
/// and the second makes that stage's strips again, equalises and finishes them.
public enum StreamedRun {
    /// Whether `plan` can run streamed with a `format` result: JPEG or PNG;
    /// one stage with no global step, or two around one clahe; and strips
    /// whose input rows move down the image (a vertical flip's would move
    /// up, decoding again from the top for every strip).
    public static func streams(_ plan: Plan, as format: ImageFormat) -> Bool {
        guard format == .jpeg || format == .png, let last = plan.stages.last, last.finish == nil, last.histograms == nil
        else { return false }
        switch plan.stages.count {
        case 1:
            guard last.equalise == nil else { return false }
        case 2:
            let first = plan.stages[0]
            guard first.finish == nil, first.equalise == nil, let settings = first.histograms, last.equalise == settings,
                  movesDown(histogramStrips(of: first.output).map(first.inputRect(for:))) else { return false }
        default:
            return false
        }
        return movesDown(strips(of: last.output, format: format).map { sourceRect(plan, for: $0) })
    }

    /// Whether each rectangle starts and ends at or below the one before.
    private static func movesDown(_ rects: [Rect]) -> Bool {
        zip(rects, rects.dropFirst()).allSatisfy { $1.y >= $0.y && $1.maxY >= $0.maxY }
    }

    /// The source rows (the first stage's input) that output `rect` of the last stage needs.
    private static func sourceRect(_ plan: Plan, for rect: Rect) -> Rect {
        plan.stages.reversed().reduce(rect) { $1.inputRect(for: $0) }
    }

    /// Output strips: whole bands of the encoding, about 64 rows each.
    static func strips(of output: Shape, format: ImageFormat) -> [Rect] {
        let step = format == .png ? PNGBands.segmentRows(width: output.width, channels: output.channels) : JPEGBands.rowAlignment
        return rowStrips(of: output, rows: step * max(1, 64 / step))
    }

    /// Strips of the stage before clahe, for the histogram pass.
    private static func histogramStrips(of shape: Shape) -> [Rect] { rowStrips(of: shape, rows: 64) }

    private static func rowStrips(of shape: Shape, rows: Int) -> [Rect] {
        stride(from: 0, to: shape.height, by: rows).map { Rect(x: 0, y: $0, width: shape.width, height: min(rows, shape.height - $0)) }
    }

    /// The encoded result of `plan` over the image `input` decodes.
    /// - Parameters:
    ///   - quality: JPEG quality 1...100.
    ///   - pngLevel: PNG's deflate level 0...9.
    ///   - threads: above 1, each strip is encoded on another thread while the next is made
    ///     (a PNG strip's segments on this many).
    public static func run(_ input: RowCache, plan: Plan, as format: ImageFormat, quality: Int = 90,
                           pngLevel: Int = PNGBands.defaultLevel, threads: Int = 1) throws(CodecError) -> [UInt8] {
        guard streams(plan, as: format), input.shape == plan.input else {
            throw CodecError(.encodeFailed, "this plan cannot run streamed to \(format.name)")
        }
        let last = plan.stages.last!, output = last.output
        let tables = try plan.stages.count == 2 ? claheTables(input, before: plan.stages[0]) : nil
        let strips = strips(of: output, format: format)
        let bands = Bands(format: format, quality: quality, pngLevel: pngLevel, imageHeight: output.height, threads: threads)
        for (k, strip) in strips.enumerated() {
            var region: Region
            if plan.stages.count == 2 {
                // The first stage's rows this strip needs, made again from the source.
                let first = plan.stages[0], made = last.inputRect(for: strip)
                region = first.process(try input.region(first.inputRect(for: made)), output: made)
                region = last.process(region, output: strip, tables: tables)
            } else {
                region = last.process(try input.region(last.inputRect(for: strip)), output: strip)
            }
            bands.encode(region.image, y: strip.y)
            // Rows the next strip reads stay; those above them go.
            if k + 1 < strips.count {
                let next = sourceRect(plan, for: strips[k + 1])
                input.drop(outside: next.y..<next.maxY)
            }
        }
        input.dropAll()
        let (jpegs, pngs) = try bands.finished()
        if format == .png {
            return try PNGBands.join(pngs, width: output.width, height: output.height, channels: output.channels, level: pngLevel)
        }
        return try JPEGBands.join(jpegs, height: output.height)
    }

    /// clahe's tables from a first pass over the source: `stage` made strip
    /// by strip, each strip's cell histograms summed, its rows then dropped.
    private static func claheTables(_ input: RowCache, before stage: Stage) throws(CodecError) -> ClaheTables {
        let settings = stage.histograms!
        var sums = [UInt32](repeating: 0, count: settings.histogramCount)
        let strips = histogramStrips(of: stage.output)
        for (k, strip) in strips.enumerated() {
            let region = stage.process(try input.region(stage.inputRect(for: strip)), output: strip)
            let part = settings.histograms(of: region, imageShape: stage.output)
            for i in sums.indices { sums[i] &+= part[i] }
            if k + 1 < strips.count {
                let next = stage.inputRect(for: strips[k + 1])
                input.drop(outside: next.y..<next.maxY)
            }
        }
        input.dropAll()
        return ClaheTables(settings: settings, histograms: sums, imageShape: stage.output)
    }

    /// Strips encoded in order, here or on a background thread (a PNG strip's
    /// segments on `threads` threads); at most two made strips wait for it.
    private final class Bands: @unchecked Sendable {
        // @unchecked: the results are touched on `queue` only (or on the caller's thread when there is none).
        let format: ImageFormat, quality: Int, pngLevel: Int, imageHeight: Int, threads: Int
        private let queue: DispatchQueue?
        private let room = DispatchSemaphore(value: 2)
        private var jpegs: [(y: Int, bytes: [UInt8])] = []
        private var pngs: [PNGBands.Band] = []
        private var failure: CodecError?

        init(format: ImageFormat, quality: Int, pngLevel: Int, imageHeight: Int, threads: Int) {
            self.format = format
            self.quality = quality
            self.pngLevel = pngLevel
            self.imageHeight = imageHeight
            self.threads = threads
            queue = threads > 1 ? DispatchQueue(label: "imgproc.strip-encoder") : nil
        }

        func encode(_ strip: Image, y: Int) {
            guard let queue else { return add(strip, y: y) }
            room.wait()
            queue.async {
                self.add(strip, y: y)
                self.room.signal()
            }
        }

        private func add(_ strip: Image, y: Int) {
            guard failure == nil else { return }
            do {
                if format == .png {
                    pngs.append(try PNGBands.compress(strip, y: y, imageHeight: imageHeight, level: pngLevel, threads: threads))
                } else {
                    jpegs.append((y, try Codec.encode(strip, as: .jpeg, quality: quality)))
                }
            } catch {
                failure = error
            }
        }

        func finished() throws(CodecError) -> ([(y: Int, bytes: [UInt8])], [PNGBands.Band]) {
            queue?.sync {}
            if let failure { throw failure }
            return (jpegs, pngs)
        }
    }
}
