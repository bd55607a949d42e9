import ArgumentParser
import ImageCore

struct OpsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops",
        abstract: "List the operations a pipeline can use, with their parameters."
    )

    func run() {
        for info in OperationInfo.all {
            print("\(info.usage)\n    \(info.summary)")
            for p in info.parameters {
                let d = p.defaultValue.map { " (default \($0))" } ?? " (required)"
                print("    \(p.name): \(p.help)\(d)")
            }
        }
    }
}
