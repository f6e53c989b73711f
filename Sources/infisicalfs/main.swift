import Foundation
import InfisicalFSCLI

exit(InfisicalFSMain.run(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment))
