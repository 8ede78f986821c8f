import Foundation

SignalWaiter.blockTerminationSignals()
do {
    try Commands.run(Array(CommandLine.arguments.dropFirst()))
} catch let error as CLIError {
    FileHandle.standardError.write(Data("tokenvault: \(error.description)\n".utf8))
    exit(error.isUsage ? 2 : 1)
} catch {
    FileHandle.standardError.write(Data("tokenvault: \(error)\n".utf8))
    exit(1)
}
