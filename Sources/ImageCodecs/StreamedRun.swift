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
/// and the second makes that stage's strips again, equalises and finishes
/// them. canny's hysteresis follows edges anywhere, so its map is held
/// whole (made strip by strip; the source is not held), and what follows
/// canny is made from it in strips.
public enum StreamedRun {
    /// Whether `plan` can run streamed with a `format` result: JPEG or PNG;
    /// one stage, or two around one clahe or after canny; and strips whose
    /// source rows move down the image (a vertical flip's would move up,
    /// decoding again from the top for every strip).
    public static func streams(_ plan: Plan, as format: ImageFormat) -> Bool {
        guard format == .jpeg || format == .png, plan.stages.count <= 2, let last = plan.stages.last,
              last.histograms == nil, plan.stages[0].equalise == nil else { return false }
        let first = plan.stages[0]
        if plan.stages.count == 2 {
            guard last.finish == nil else { return false }
            if let settings = first.histograms {
                guard first.finish == nil, last.equalise == settings,
                      movesDown(passStrips(of: first.output).map(first.inputRect(for:))) else { return false }
            } else {
                guard first.finish != nil, last.equalise == nil else { return false }
            }
        }
        if first.finish != nil { return movesDown(passStrips(of: first.output).map(first.inputRect(for:))) }
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

    /// Strips of a first stage made for clahe's histograms or canny's map.
    private static func passStrips(of shape: Shape) -> [Rect] { rowStrips(of: shape, rows: 64) }

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
        let first = plan.stages[0], last = plan.stages.last!, output = last.output
        let strips = strips(of: output, format: format)
        let bands = Bands(format: format, quality: quality, pngLevel: pngLevel, imageHeight: output.height, threads: threads)
        if first.finish != nil {
            // canny: its map made whole, finished, then cut (and carried on) in strips.
            let map = Region(image: first.finishing(try made(input, first)), x: 0, y: 0)
            for strip in strips {
                let region = plan.stages.count == 2 ? last.process(map.cropped(to: last.inputRect(for: strip)), output: strip)
                                                    : map.cropped(to: strip)
                bands.encode(region.image, y: strip.y)
            }
        } else {
            let tables = try first.histograms == nil ? nil : claheTables(input, before: first)
            try eachStrip(input, strips, source: { sourceRect(plan, for: $0) }) { strip, source in
                var region = source
                if tables != nil {
                    // The first stage's rows this strip needs, made again from the source.
                    let rows = last.inputRect(for: strip)
                    region = first.process(region, output: rows)
                }
                bands.encode(last.process(region, output: strip, tables: tables).image, y: strip.y)
            }
        }
        let (jpegs, pngs) = try bands.finished()
        if format == .png {
            return try PNGBands.join(pngs, width: output.width, height: output.height, channels: output.channels)
        }
        return try JPEGBands.join(jpegs, height: output.height)
    }

    /// The whole output of `stage`, made strip by strip from the source (rows dropped as it goes).
    private static func made(_ input: RowCache, _ stage: Stage) throws(CodecError) -> Image {
        var pixels: [UInt8] = []
        pixels.reserveCapacity(stage.output.pixelCount * stage.output.channels)
        try pass(input, stage) { pixels += $0.image.pixels }
        return Image(width: stage.output.width, height: stage.output.height, channels: stage.output.channels, pixels: pixels)
    }

    /// `stage` made in strips from the source, top to bottom, each handed to `body`.
    private static func pass(_ input: RowCache, _ stage: Stage, _ body: (Region) -> Void) throws(CodecError) {
        try eachStrip(input, passStrips(of: stage.output), source: stage.inputRect(for:)) { strip, source in
            body(stage.process(source, output: strip))
        }
    }

    /// Each of `strips`, top to bottom, handed to `body` with the source rows
    /// it needs (`source`); rows the next strip does not read are dropped.
    private static func eachStrip(_ input: RowCache, _ strips: [Rect], source: (Rect) -> Rect,
                                  _ body: (Rect, Region) -> Void) throws(CodecError) {
        for (k, strip) in strips.enumerated() {
            body(strip, try input.region(source(strip)))
            if k + 1 < strips.count {
                input.drop(outside: source(strips[k + 1]).rows)
            }
        }
        input.dropAll()
    }

    /// clahe's tables from a first pass over the source: `stage` made strip
    /// by strip, each strip's cell histograms summed, its rows then dropped.
    private static func claheTables(_ input: RowCache, before stage: Stage) throws(CodecError) -> ClaheTables {
        let settings = stage.histograms!
        var sums = [UInt32](repeating: 0, count: settings.histogramCount)
        try pass(input, stage) { region in settings.add(region, imageShape: stage.output, to: &sums) }
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
