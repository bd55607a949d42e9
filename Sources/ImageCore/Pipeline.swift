import Failure
import Foundation

/// One step of a pipeline: tile-local, or one with a global step.
public enum PipelineStep: Sendable, CustomStringConvertible {
    case local(any TileOperation)
    /// Tile-local classification, then hysteresis over the whole map.
    case canny(CannyClassify)
    /// Whole-image histograms, then tile-local interpolation.
    case clahe(ClaheSettings)

    public var description: String {
        switch self {
        case let .local(op): return op.description
        case let .canny(c): return "canny:\(c.low):\(c.high)"
        case let .clahe(s): return s.description
        }
    }
}

/// A bad pipeline; the message names the operation at fault.
public typealias PipelineError = CodedError<PipelineErrorCode>

public enum PipelineErrorCode: String, Sendable {
    /// No operations, empty ones, or too many.
    case malformed
    case unknownOperation = "unknown_operation"
    /// Arguments missing, too many, or out of range.
    case badArguments = "bad_arguments"
    /// An operation would leave an empty image, or one over the pixel limit.
    case badSize = "bad_size"
}

extension CodedError where Code == PipelineErrorCode {
    /// - Parameters:
    ///   - code: what is wrong.
    ///   - token: the operation at fault, as written.
    ///   - why: what is wrong with it.
    static func operation(_ code: PipelineErrorCode, _ token: String, _ why: String) -> PipelineError {
        PipelineError(code, "bad operation '\(token)': \(why)")
    }
}

/// A pipeline of operations parsed from text such as `grayscale,blur:3,canny:100:200`.
///
/// Operations are separated by commas; each is `name` or `name:arg:arg`, and
/// arguments left out take their defaults (see ``OperationInfo/all``). The
/// same text is used by the CLI, the HTTP API and the workers.
public struct Pipeline: Sendable, CustomStringConvertible {
    public let steps: [PipelineStep]

    public init(steps: [PipelineStep]) { self.steps = steps }

    /// Parses pipeline text.
    /// - Throws: ``PipelineError`` naming the first bad token.
    public init(parsing text: String) throws(PipelineError) {
        let tokens = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        if tokens.count == 1 && tokens[0].isEmpty {
            throw PipelineError(.malformed, "the pipeline is empty; give operations such as 'grayscale,blur:2'")
        }
        if tokens.count > 64 {
            throw PipelineError(.malformed, "the pipeline has \(tokens.count) operations; at most 64 are allowed")
        }
        var steps: [PipelineStep] = []
        for token in tokens {
            guard !token.isEmpty else {
                throw PipelineError(.malformed, "empty operation in '\(text)' (two commas in a row, or a comma at an end)")
            }
            let parts = token.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            let name = parts[0].lowercased()
            guard let info = OperationInfo.named(name) else {
                let known = OperationInfo.all.map(\.name).joined(separator: ", ")
                throw PipelineError.operation(.unknownOperation, token, "unknown operation '\(parts[0])'; known: \(known)")
            }
            var args = Array(parts.dropFirst())
            if args.count > info.parameters.count {
                throw PipelineError.operation(.badArguments, token, "\(name) takes at most \(info.parameters.count) argument(s): \(info.usage)")
            }
            for (i, p) in info.parameters.enumerated() {
                if i < args.count && !args[i].isEmpty { continue }
                guard let d = p.defaultValue else {
                    throw PipelineError.operation(.badArguments, token, "\(name) needs \(p.name) (\(p.help)): \(info.usage)")
                }
                if i < args.count { args[i] = d } else { args.append(d) }
            }
            do {
                steps.append(try info.make(args))
            } catch {
                throw PipelineError.operation(.badArguments, token, error.message)
            }
        }
        self.steps = steps
    }

    /// Canonical text: defaults written out, e.g. `blur:1,canny:100:200`.
    public var description: String { steps.map(\.description).joined(separator: ",") }
}
