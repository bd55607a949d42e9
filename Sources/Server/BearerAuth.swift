import Hummingbird

/// Refuses requests without `Authorization: Bearer TOKEN` (401), when a token is set.
struct BearerAuth<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let given = request.headers[.authorization] ?? ""
        // Compared in constant time so the token cannot be guessed byte by byte.
        let expected = Array("Bearer \(token)".utf8), actual = Array(given.utf8)
        var difference = UInt8(expected.count == actual.count ? 0 : 1)
        for i in 0..<min(expected.count, actual.count) { difference |= expected[i] ^ actual[i] }
        guard difference == 0 else {
            throw APIError(.unauthorized, "unauthorized", "this API needs 'Authorization: Bearer TOKEN'")
        }
        return try await next(request, context)
    }
}
