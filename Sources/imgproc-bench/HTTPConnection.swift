import Foundation

/// A minimal HTTP/1.1 client over one keep-alive connection: the load
/// generator shares the machine's 2 cores with the system it measures, so it
/// must cost next to nothing. Bodies with Content-Length or chunked (event
/// streams end with the job).
final class HTTPConnection {
    private let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int, host: String = "127.0.0.1") throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else { close(fd); throw BenchError(.http, "cannot connect to port \(port)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    func request(_ method: String, _ path: String, body: [UInt8] = [], contentType: String? = nil) throws -> (status: Int, body: [UInt8]) {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(body.count)\r\n"
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        head += "\r\n"
        try send(Array(head.utf8) + body)
        let headerEnd = try readUntil([13, 10, 13, 10])
        let lines = String(decoding: buffer[0..<headerEnd], as: UTF8.self).split(separator: "\r\n")
        buffer.removeFirst(headerEnd + 4)
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        var length: Int?
        var chunked = false
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard parts.count == 2 else { continue }
            if parts[0] == "content-length" { length = Int(parts[1]) }
            if parts[0] == "transfer-encoding" && parts[1].contains("chunked") { chunked = true }
        }
        var out: [UInt8] = []
        if chunked {
            while true {
                let lineEnd = try readUntil([13, 10])
                let size = Int(String(decoding: buffer[0..<lineEnd], as: UTF8.self).split(separator: ";")[0], radix: 16) ?? 0
                buffer.removeFirst(lineEnd + 2)
                try fill(size + 2)
                out += buffer[0..<size]
                buffer.removeFirst(size + 2)
                if size == 0 { break }
            }
        } else if let length {
            try fill(length)
            out = Array(buffer[0..<length])
            buffer.removeFirst(length)
        }
        return (status, out)
    }

    /// Sends raw bytes (a request this client does not wait on).
    func send(_ text: String) throws { try send(Array(text.utf8)) }

    private func send(_ bytes: [UInt8]) throws {
        var sent = 0
        try bytes.withUnsafeBytes { raw in
            while sent < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                guard n > 0 else { throw BenchError(.http, "send failed") }
                sent += n
            }
        }
    }

    private func receive() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &chunk, chunk.count, 0)
        guard n > 0 else { throw BenchError(.http, "connection closed") }
        buffer += chunk[0..<n]
    }

    private func fill(_ count: Int) throws { while buffer.count < count { try receive() } }

    private func readUntil(_ marker: [UInt8]) throws -> Int {
        var from = 0
        while true {
            if buffer.count >= marker.count {
                for i in from...(buffer.count - marker.count) where buffer[i] == marker[0] && Array(buffer[i..<(i + marker.count)]) == marker {
                    return i
                }
                from = max(0, buffer.count - marker.count + 1)
            }
            try receive()
        }
    }
}
