import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `--server URL` and `--token TOKEN` for the commands that talk to imgproc-server.
struct ServerOptions: ParsableArguments {
    @Option(help: "The imgproc server (default: $IMGPROC_SERVER or http://127.0.0.1:8080).")
    var server: String?

    @Option(help: "Bearer token, when the server wants one (default: $IMGPROC_AUTH_TOKEN).")
    var token: String?

    func client() throws -> ServerClient {
        let env = ProcessInfo.processInfo.environment
        let text = server ?? env["IMGPROC_SERVER"] ?? "http://127.0.0.1:8080"
        guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw ValidationError("--server must be an http(s) URL, not '\(text)'")
        }
        return ServerClient(base: url, token: token ?? env["IMGPROC_AUTH_TOKEN"])
    }
}

/// A small blocking HTTP client for the CLI.
struct ServerClient {
    let base: URL
    let token: String?

    struct Reply {
        let status: Int
        let body: Data
        let headers: [String: String]
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
        /// The server's error message, or the status.
        var problem: String {
            if let j = json, let message = j["message"] as? String { return message }
            return "HTTP \(status)"
        }
    }

    func request(_ path: String, method: String = "GET", body: Data? = nil, contentType: String? = nil,
                 timeout: Double = 300) throws -> Reply {
        var request = URLRequest(url: base.appendingPathComponent(path), timeoutInterval: timeout)
        request.httpMethod = method
        request.httpBody = body
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        if let token, !token.isEmpty { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<Reply, Error> = .failure(CLIError("no reply"))
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                result = .failure(CLIError("cannot reach the server at \(base.absoluteString): \(error.localizedDescription)"))
            } else if let http = response as? HTTPURLResponse {
                var headers: [String: String] = [:]
                for (k, v) in http.allHeaderFields { headers[String(describing: k).lowercased()] = String(describing: v) }
                result = .success(Reply(status: http.statusCode, body: data ?? Data(), headers: headers))
            }
            done.signal()
        }.resume()
        done.wait()
        return try result.get()
    }

    /// A multipart/form-data body with text fields and files.
    static func multipart(fields: [(String, String)], files: [(name: String, data: Data)]) -> (Data, String) {
        let boundary = "imgproc-\(UUID().uuidString)"
        var body = Data()
        func add(_ s: String) { body.append(Data(s.utf8)) }
        for (k, v) in fields {
            add("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(k)\"\r\n\r\n\(v)\r\n")
        }
        for file in files {
            let safe = file.name.replacingOccurrences(of: "\"", with: "")
            add("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(safe)\"\r\n")
            add("Content-Type: application/octet-stream\r\n\r\n")
            body.append(file.data)
            add("\r\n")
        }
        add("--\(boundary)--\r\n")
        return (body, "multipart/form-data; boundary=\(boundary)")
    }
}
