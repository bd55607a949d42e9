import ImageCodecs
import ImageCore
import Testing
import TestSupport

/// `imgproc process`'s streamed path: strips decoded as needed and encoded
/// as made give the bytes of the whole-image path, holding a strip's rows
/// (clahe reading the source twice, canny holding its map).
@Suite("Streamed runs")
struct StreamedRunTests {
    static let pipelines = ["invert", "blur:3", "sharpen:1:1", "resize:0.25", "median:2,sobel", "rotate:90", "flip:h,boxblur:2",
                            "resize:333x100", "fit:120x120", "grayscale,gamma:0.8",
                            // clahe: a histogram pass over the source, then a second that equalises.
                            "clahe:2:4", "blur:1,clahe:3:3,sharpen:1:1", "resize:0.5,clahe:2:5,invert",
                            // canny: its map held whole, made and carried on in strips.
                            "canny", "blur:1,canny:50:150,boxblur:1"]

    /// The whole-image path: decode, run, encode.
    static func whole(_ bytes: [UInt8], _ plan: Plan, _ format: ImageFormat, shrink: Int) throws -> [UInt8] {
        let image = try Codec.decode(bytes, shrink: shrink).image
        return try Codec.encode(Runner.reference(image, plan: plan), as: format, quality: 85)
    }

    @Test(arguments: [ImageFormat.jpeg, .png])
    func stripsGiveTheWholeImagesBytes(_ format: ImageFormat) throws {
        // Tall enough for many strips and PNG segments; a JPEG source and a gray PNG one.
        let sources = [try Codec.encode(testImage(width: 700, height: 1300, channels: 3, seed: 41), as: .jpeg, quality: 88),
                       try Codec.encode(testImage(width: 1100, height: 900, channels: 1, seed: 42), as: .png)]
        for bytes in sources {
            for ops in Self.pipelines {
                let pipeline = try Pipeline(parsing: ops)
                let info = try Codec.probe(bytes)
                let shrink = ShrinkOnLoad.factor(pipeline, source: info)
                let loaded = try Codec.probe(bytes, shrink: shrink)
                let plan = try Plan(pipeline, input: Shape(width: loaded.width, height: loaded.height, channels: loaded.channels))
                #expect(StreamedRun.streams(plan, as: format), "\(ops)")
                let rows = try RowCache(SourceBytes(bytes), shrink: shrink)
                let streamed = try StreamedRun.run(rows, plan: plan, as: format, quality: 85)
                #expect(streamed == (try Self.whole(bytes, plan, format, shrink: shrink)), "\(ops) on \(info), \(format.name)")
                let passes = plan.stages[0].histograms == nil ? 1 : 2
                #expect(rows.decodersOpened == passes, "\(ops): rows are decoded top to bottom, once a pass")
                // Strips encoded on another thread while the next is made: the same bytes.
                let overlapped = try StreamedRun.run(try RowCache(SourceBytes(bytes), shrink: shrink), plan: plan, as: format,
                                                     quality: 85, threads: 2)
                #expect(overlapped == streamed, "\(ops), encoded on a second thread")
            }
        }
    }

    @Test func aStripsRowsAreHeldNotTheImages() throws {
        let bytes = try Codec.encode(testImage(width: 600, height: 2000, channels: 3, seed: 43), as: .jpeg)
        for (ops, most) in [("invert", 64 + 16), ("blur:3", 64 + 2 * 10 + 16), ("resize:0.25", 4 * 64 + 16),
                            ("clahe:2:8", 64 + 16), ("blur:3,clahe:2:8", 64 + 2 * 10 + 16), ("canny", 64 + 2 * 10 + 16)] {
            let plan = try Plan(try Pipeline(parsing: ops), input: Shape(width: 600, height: 2000, channels: 3))
            let rows = try RowCache(SourceBytes(bytes))
            _ = try StreamedRun.run(rows, plan: plan, as: .jpeg)
            #expect(rows.peakRowsHeld <= most, "\(ops) held \(rows.peakRowsHeld) of 2000 rows at once")
            #expect(rows.rowsHeld == 0)
        }
    }

    @Test func wholeImageStepsAndOtherFormatsAreNotStreamed() throws {
        let shape = Shape(width: 300, height: 400, channels: 3)
        for ops in ["clahe,clahe", "clahe,canny", "canny,clahe", "canny,canny", "flip:v", "flip:v,clahe", "flip:v,canny"] {
            #expect(!StreamedRun.streams(try Plan(try Pipeline(parsing: ops), input: shape), as: .jpeg), "\(ops)")
        }
        let invert = try Plan(try Pipeline(parsing: "invert"), input: shape)
        #expect(!StreamedRun.streams(invert, as: .webp) && !StreamedRun.streams(invert, as: .avif))
        let rows = try RowCache(SourceBytes(try Codec.encode(Image(width: 300, height: 400, channels: 3), as: .png)))
        #expect(throws: CodecError.self) { try StreamedRun.run(rows, plan: invert, as: .webp) }
    }
}
