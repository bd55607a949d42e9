import Dispatch
import ImageCore

/// A plan run over strips of output rows: each strip's input rows decoded
/// when it needs them (``RowCache``), the strip processed, encoded at once
/// as a band of the result (``JPEGBands``, ``PNGBands``) and its rows
/// dropped. What is held is a strip, its halo and the compressed result,
/// not whole images; the bytes are those of decoding the whole image,
/// running the plan on it and encoding the result.
public enum StreamedRun {
    /// Whether `plan` can run streamed with a `format` result: one stage with
    /// no global step, JPEG or PNG, and strips whose input rows move down the
    /// image (a vertical flip's would move up, decoding again from the top
    /// for every strip).
    public static func streams(_ plan: Plan, as format: ImageFormat) -> Bool {
        guard plan.stages.count == 1, let stage = plan.stages.first, stage.finish == nil, stage.histograms == nil,
              stage.equalise == nil, format == .jpeg || format == .png else { return false }
        var previous = Rect(x: 0, y: 0, width: 0, height: 0)
        for strip in strips(of: stage.output, format: format) {
            let need = stage.inputRect(for: strip)
            guard need.y >= previous.y, need.maxY >= previous.maxY else { return false }
            previous = need
        }
        return true
    }

    /// Output strips: whole bands of the encoding, about 64 rows each.
    static func strips(of output: Shape, format: ImageFormat) -> [Rect] {
        let step = format == .png ? PNGBands.segmentRows(width: output.width, channels: output.channels) : JPEGBands.rowAlignment
        let rows = step * max(1, 64 / step)
        return stride(from: 0, to: output.height, by: rows).map {
            Rect(x: 0, y: $0, width: output.width, height: min(rows, output.height - $0))
        }
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
        let stage = plan.stages[0], output = stage.output
        let strips = strips(of: output, format: format)
        let bands = Bands(format: format, quality: quality, pngLevel: pngLevel, imageHeight: output.height, threads: threads)
        for (k, strip) in strips.enumerated() {
            bands.encode(stage.process(try input.region(stage.inputRect(for: strip)), output: strip).image, y: strip.y)
            // Rows the next strip reads stay; those above them go.
            if k + 1 < strips.count {
                let next = stage.inputRect(for: strips[k + 1])
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
