import Glibc

/// Where a baseline JPEG can be decoded from below its top, so that a rank
/// that needs rows far down need not entropy-decode every row above them.
///
/// A restart marker resets the entropy decoder (DC predictions start from
/// zero), so the data after one decodes without the data before it. When
/// every restart interval is a whole number of MCU rows — as in imgproc's
/// own JPEGs, one per MCU row, and in many cameras' — the data from the
/// start of interval `8k` on, after the file's own headers with a smaller
/// height, is a JPEG of the image's lower rows (its markers then count from
/// RST0 again, as the decoder expects). Rows one MCU row below such a start
/// equal the same rows of a full decode: the MCU row above them holds the
/// chroma context that upsampling reads.
struct JPEGRestarts: Sendable {
    /// A place decoding can start: an interval's first byte and its first row (unscaled).
    struct Start: Sendable, Equatable {
        let offset: Int
        let row: Int
    }

    /// Bytes before the scan's data, the height field among them.
    let headerEnd: Int
    let heightOffset: Int
    let height: Int
    /// Rows of one MCU row, unscaled.
    let mcuHeight: Int
    /// Every eighth interval's start but the first, top to bottom.
    let starts: [Start]

    /// nil when the file has no usable restart markers: progressive or
    /// arithmetic-coded, more than one scan, no restart interval or one that
    /// is not whole MCU rows, or markers out of sequence.
    init?(_ bytes: UnsafeRawBufferPointer) {
        let b = bytes.bindMemory(to: UInt8.self)
        guard b.count > 4, b[0] == 0xFF, b[1] == 0xD8 else { return nil }
        var i = 2
        var frame: (heightOffset: Int, height: Int, width: Int, components: Int, maxH: Int, maxV: Int)?
        var interval = 0
        var dataStart = 0
        segments: while i + 4 <= b.count {
            guard b[i] == 0xFF else { return nil }
            let marker = b[i + 1]
            if marker == 0xFF { i += 1; continue }   // fill byte
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 2, i + 2 + length <= b.count else { return nil }
            let body = i + 4
            switch marker {
            case 0xC0, 0xC1:
                guard length >= 8 else { return nil }
                let count = Int(b[body + 5])
                guard count >= 1, length >= 8 + 3 * count else { return nil }
                var maxH = 1, maxV = 1
                for k in 0..<count {
                    let factors = b[body + 6 + 3 * k + 1]
                    maxH = max(maxH, Int(factors >> 4))
                    maxV = max(maxV, Int(factors & 15))
                }
                frame = (body + 1, Int(b[body + 1]) << 8 | Int(b[body + 2]), Int(b[body + 3]) << 8 | Int(b[body + 4]),
                         count, maxH, maxV)
            case 0xC2, 0xC3, 0xC5...0xC7, 0xC9...0xCB, 0xCD...0xCF:
                return nil   // progressive, lossless or arithmetic
            case 0xDD:
                guard length == 4 else { return nil }
                interval = Int(b[body]) << 8 | Int(b[body + 1])
            case 0xDA:
                // One scan of every component.
                guard let frame, Int(b[body]) == frame.components else { return nil }
                dataStart = i + 2 + length
                break segments
            default:
                break
            }
            i += 2 + length
        }
        guard let frame, dataStart > 0, interval > 0, frame.height > 0, frame.width > 0 else { return nil }
        // An MCU is one 8x8 block of a lone component, or the sampling factors' blocks of all.
        let mcuWidth = frame.components == 1 ? 8 : 8 * frame.maxH
        let mcuHeight = frame.components == 1 ? 8 : 8 * frame.maxV
        let mcusPerRow = (frame.width + mcuWidth - 1) / mcuWidth
        guard interval % mcusPerRow == 0 else { return nil }
        let rowsPerInterval = interval / mcusPerRow

        // The markers in the entropy-coded data: RST0...RST7 in turn, then EOI.
        var starts: [Start] = []
        var seen = 0
        var at = dataStart
        let base = bytes.baseAddress!
        while true {
            guard at < b.count, let found = memchr(base + at, 0xFF, b.count - at) else { return nil }
            var k = base.distance(to: UnsafeRawPointer(found))
            while k + 1 < b.count && b[k + 1] == 0xFF { k += 1 }
            guard k + 1 < b.count else { return nil }
            let next = b[k + 1]
            if next == 0x00 { at = k + 2; continue }   // a stuffed 0xFF
            if next == 0xD9 { break }
            guard next == 0xD0 + UInt8(seen % 8) else { return nil }
            seen += 1
            // Interval `seen` starts after this marker.
            if seen % 8 == 0 {
                let row = seen * rowsPerInterval * mcuHeight
                guard row < frame.height else { return nil }
                starts.append(Start(offset: k + 2, row: row))
            }
            at = k + 2
        }
        guard !starts.isEmpty else { return nil }
        headerEnd = dataStart
        heightOffset = frame.heightOffset
        height = frame.height
        self.mcuHeight = mcuHeight
        self.starts = starts
    }

    /// The lowest start from which scaled row `row` (and the rows after it)
    /// decode as in a full decode; nil when that is the top.
    /// - Parameter shrink: the DCT-domain shrink (1, 2, 4 or 8).
    func start(before row: Int, shrink: Int) -> Start? {
        // One MCU row of margin above the row asked for.
        starts.last { $0.row / shrink + mcuHeight / shrink <= row }
    }

    /// The file's headers, as a JPEG of the rows from `start` down.
    func head(_ bytes: UnsafeRawBufferPointer, from start: Start) -> [UInt8] {
        var head = Array(bytes[0..<headerEnd])
        let rows = height - start.row
        head[heightOffset] = UInt8(rows >> 8)
        head[heightOffset + 1] = UInt8(rows & 0xFF)
        return head
    }
}
