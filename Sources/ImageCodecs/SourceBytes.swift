/// An encoded image held at a fixed address, so that decoders (which keep a
/// pointer into it) can outlive any one call. Immutable once made.
public final class SourceBytes: @unchecked Sendable {
    // @unchecked: the buffer is written once in init and only read afterwards.
    let buffer: UnsafeMutableRawBufferPointer

    public init(_ bytes: [UInt8]) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        self.buffer = buffer
        count = bytes.count
    }

    /// Takes over memory from `UnsafeMutableRawBufferPointer.allocate` (as
    /// an MPI broadcast receives into), freed with this; no copy.
    public init(adopting memory: UnsafeMutableRawBufferPointer) {
        buffer = memory
        count = memory.count
    }

    deinit { buffer.deallocate() }

    public let count: Int
    var raw: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[0..<count]) }
}
