#if canImport(Glibc)
import Glibc
#endif

/// Asks the kernel for 2 MiB pages over a fresh large buffer before it is
/// first written. A 24 MP image is then a few dozen page faults rather than
/// eighteen thousand: about half the time of a simple operation such as
/// `invert` went to faulting its output in. Advice only: where transparent
/// huge pages are off, nothing changes.
@usableFromInline
func adviseHugePages(_ base: UnsafeMutablePointer<UInt8>, count: Int) {
    let page = 2 << 20
    guard count >= 4 * page else { return }
    let start = (Int(bitPattern: base) + page - 1) & ~(page - 1)
    let end = (Int(bitPattern: base) + count) & ~(page - 1)
    guard end > start else { return }
    _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_HUGEPAGE)
}

/// An 8-bit image with interleaved channels.
///
/// Channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. Rows are packed: the
/// sample of channel `c` at `(x, y)` is `pixels[(y * width + x) * channels + c]`.
public struct Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public var pixels: [UInt8]

    /// An image over existing pixels.
    /// - Precondition: `pixels.count == width * height * channels`.
    /// - Parameters:
    ///   - width: pixels across.
    ///   - height: pixels down.
    ///   - channels: samples per pixel (1...4).
    ///   - pixels: `width * height * channels` samples, row by row.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && (1...4).contains(channels), "bad image shape")
        precondition(pixels.count == width * height * channels, "pixel count does not match the shape")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// An image with every sample set to `value`.
    /// - Parameters:
    ///   - width: pixels across.
    ///   - height: pixels down.
    ///   - channels: samples per pixel (1...4).
    ///   - value: every sample's value.
    public init(width: Int, height: Int, channels: Int, value: UInt8 = 0) {
        self.init(width: width, height: height, channels: channels,
                  pixels: [UInt8](repeating: value, count: width * height * channels))
    }

    /// An image whose samples are written by `body`, without zero-filling first.
    /// `body` must write every one of the `width * height * channels` samples.
    /// - Parameters:
    ///   - width: pixels across.
    ///   - height: pixels down.
    ///   - channels: samples per pixel (1...4).
    ///   - body: writes the samples, row by row, into uninitialised memory.
    @inlinable
    public init(width: Int, height: Int, channels: Int,
                writing body: (UnsafeMutablePointer<UInt8>) -> Void) {
        let count = width * height * channels
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                adviseHugePages(buffer.baseAddress!, count: count)
                body(buffer.baseAddress!)
            }
            initialized = count
        }
        self.init(width: width, height: height, channels: channels, pixels: pixels)
    }

    public var shape: Shape { Shape(width: width, height: height, channels: channels) }
    public var rowBytes: Int { width * channels }

    /// The sample of channel `c` at `(x, y)`; for tests and small tools, not inner loops.
    public subscript(x: Int, y: Int, c: Int) -> UInt8 {
        get { pixels[(y * width + x) * channels + c] }
        set { pixels[(y * width + x) * channels + c] = newValue }
    }

    /// A copy of the pixels inside `rect`.
    public func cropped(to rect: Rect) -> Image {
        precondition(Rect(x: 0, y: 0, width: width, height: height).contains(rect), "crop outside the image")
        let rowBytes = self.rowBytes
        let outRow = rect.width * channels
        return pixels.withUnsafeBufferPointer { src in
            Image(width: rect.width, height: rect.height, channels: channels) { dst in
                for y in 0..<rect.height {
                    let from = src.baseAddress! + (rect.y + y) * rowBytes + rect.x * channels
                    (dst + y * outRow).update(from: from, count: outRow)
                }
            }
        }
    }

    /// Copies `tile` into this image with its top-left corner at `(x, y)`.
    public mutating func paste(_ tile: Image, atX x: Int, y: Int) {
        paste(tile, from: Rect(x: 0, y: 0, width: tile.width, height: tile.height), atX: x, y: y)
    }

    /// Copies the pixels of `rect` of `source` into this image with their top-left corner at `(x, y)`.
    public mutating func paste(_ source: Image, from rect: Rect, atX x: Int, y: Int) {
        precondition(source.channels == channels, "channel count differs")
        precondition(Rect(x: 0, y: 0, width: source.width, height: source.height).contains(rect), "copy from outside the source")
        precondition(Rect(x: 0, y: 0, width: width, height: height)
            .contains(Rect(x: x, y: y, width: rect.width, height: rect.height)), "paste outside the image")
        let rowBytes = self.rowBytes
        let sourceRow = source.rowBytes
        let count = rect.width * channels
        source.pixels.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                for row in 0..<rect.height {
                    (dst.baseAddress! + (y + row) * rowBytes + x * channels)
                        .update(from: src.baseAddress! + (rect.y + row) * sourceRow + rect.x * channels, count: count)
                }
            }
        }
    }
}

/// Width, height and channel count of an image, without its pixels.
public struct Shape: Sendable, Hashable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public var channels: Int

    /// - Parameters:
    ///   - width: pixels across.
    ///   - height: pixels down.
    ///   - channels: samples per pixel (1...4).
    public init(width: Int, height: Int, channels: Int) {
        self.width = width
        self.height = height
        self.channels = channels
    }

    public var pixelCount: Int { width * height }
    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }
    /// Channels that carry colour, alpha excluded (1 for gray and gray+alpha, 3 for RGB and RGBA).
    public var colorChannels: Int { channels >= 3 ? 3 : 1 }
    public var hasAlpha: Bool { channels == 2 || channels == 4 }
    public var description: String { "\(width)x\(height)x\(channels)" }
}
