import Foundation

/// Writes `bytes` to `url` through a temporary file and a rename, so readers
/// never see half a file, without copying the bytes first (`Data(bytes)`
/// would double an upload's memory).
func writeAtomically(_ bytes: [UInt8], to url: URL) throws {
    let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString)")
    let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary.path]) }
    var written = 0
    let failed = bytes.withUnsafeBytes { raw -> Bool in
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return true }
            written += n
        }
        return false
    }
    close(fd)
    guard !failed, rename(temporary.path, url.path) == 0 else {
        unlink(temporary.path)
        throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
    }
}
