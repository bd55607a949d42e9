import Foundation
import ImageCodecs
import ImageCore

/// A rank's copy of a stage's input: the rows it decoded from the original
/// (stage 0), or the whole image rank 0 broadcast after a global step.
protocol StageInput: AnyObject {
    /// The pixels of `rect` of the stage's input.
    func region(_ rect: Rect) throws -> Region
    /// Frees what lies outside `rows` (no tile this rank still owns needs it),
    /// except the `margin` rows that lead up to where decoding stands.
    func keep(rows: Range<Int>, margin: Int)
}

extension RowCache: StageInput {
    func keep(rows: Range<Int>, margin: Int) { drop(outside: rows, margin: margin) }
}

/// A whole image in memory.
final class WholeInput: StageInput {
    let image: Image
    init(_ image: Image) { self.image = image }
    func region(_ rect: Rect) throws -> Region { Region(image: image, x: 0, y: 0).cropped(to: rect) }
    func keep(rows: Range<Int>, margin: Int) {}
}
