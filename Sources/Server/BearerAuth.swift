import Hummingbird

/// Refuses requests without `Authorization: Bearer TOKEN` (401), when a token
/// is set. The scheme is matched in any case, as RFC 9110 asks.
struct BearerAuth<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let given = request.headers[.authorization] ?? ""
        let parts = given.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        let presented = parts.count == 2 && parts[0].lowercased() == "bearer" ? Array(parts[1].utf8) : []
        // Compared in constant time so the token cannot be guessed byte by byte.
        let expected = Array(token.utf8)
        var difference = UInt8(expected.count == presented.count ? 0 : 1)
        for i in 0..<min(expected.count, presented.count) { difference |= expected[i] ^ presented[i] }
        guard difference == 0 else {
            throw APIError(.unauthorized, .unauthorized, "this API needs 'Authorization: Bearer TOKEN'")
        }
        return try await next(request, context)
    }
}
