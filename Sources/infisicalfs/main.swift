import Foundation
import FuseKit
import InfisicalFSCLI

FuseSession.blockTerminationSignals()
exit(InfisicalFSMain.run(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment))
