import Foundation
import ImageCodecs
import ImageCore

/// A rank's copy of a stage's input: the rows it decoded from the original
/// (stage 0), the previous stage's output made again where a tile needs it
/// (after clahe's histograms), or the whole image rank 0 broadcast after a
/// global step.
protocol StageInput: AnyObject {
    /// The pixels of `rect` of the stage's input.
    func region(_ rect: Rect) throws -> Region
    /// Frees what lies outside `rows` (no tile this rank still owns needs it),
    /// except the `margin` rows that lead up to where decoding stands.
    func keep(rows: Range<Int>, margin: Int)
    /// The original's decoders underneath, for the job's figures.
    var decoder: RowCache? { get }
}

extension RowCache: StageInput {
    func keep(rows: Range<Int>, margin: Int) { drop(outside: rows, margin: margin) }
    var decoder: RowCache? { self }
}

/// The output of a stage whose global step changes no pixel (clahe's
/// histograms, summed over the ranks), made again from that stage's input
/// for each tile of the next: no rank holds or receives the whole image; the
/// source is read twice, as `imgproc process` reads it.
final class RemadeInput: StageInput {
    let previous: StageInput
    let stage: Stage
    let tables: ClaheTables?
    let width: Int

    init(_ previous: StageInput, stage: Stage, tables: ClaheTables?) {
        self.previous = previous
        self.stage = stage
        self.tables = tables
        width = stage.output.width
    }

    func region(_ rect: Rect) throws -> Region {
        let need = stage.inputRect(for: rect)
        return stage.process(try previous.region(need), output: rect, tables: tables)
    }

    func keep(rows: Range<Int>, margin: Int) {
        guard !rows.isEmpty else { return previous.keep(rows: rows, margin: margin) }
        let need = stage.inputRect(for: Rect(x: 0, y: rows.lowerBound, width: width, height: rows.count))
        previous.keep(rows: need.y..<need.maxY, margin: margin)
    }

    var decoder: RowCache? { previous.decoder }
}

/// A whole image in memory.
final class WholeInput: StageInput {
    let image: Image
    init(_ image: Image) { self.image = image }
    func region(_ rect: Rect) throws -> Region { Region(image: image, x: 0, y: 0).cropped(to: rect) }
    func keep(rows: Range<Int>, margin: Int) {}
    var decoder: RowCache? { nil }
}
