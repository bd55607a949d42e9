import Failure
import ArgumentParser

@main
struct Imgproc: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imgproc",
        abstract: "Distributed image processing: run pipelines of image operations.",
        discussion: """
            Pipelines are operations separated by commas, each NAME or NAME:ARG:ARG,
            for example 'grayscale,blur:3,canny:100:200'. 'imgproc ops' lists them.
            """,
        subcommands: [ProcessCommand.self, OpsCommand.self, SubmitCommand.self, StatusCommand.self, FetchCommand.self,
                      EnqueueCommand.self, InspectCommand.self, ResultCommand.self, WorkersCommand.self]
    )
}

/// A failure to report on stderr with a non-zero exit status.
typealias CLIError = CodedError<CLIErrorCode>

enum CLIErrorCode: String, Sendable {
    case failed
}

extension CodedError where Code == CLIErrorCode {
    init(_ message: String) { self.init(.failed, message) }
}
