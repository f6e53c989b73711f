import Foundation
import Glibc

/// Starts a detached copy of this program that mounts in the foreground,
/// and waits until it reports the mount ready or failed. A fresh process,
/// never fork(), because threads already exist.
enum Detach {
    static let readyTimeout: TimeInterval = 60

    static func mountInBackground(arguments: [String], mountpoint: String) throws(CommandFailure) {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        child.arguments = arguments + ["--foreground", "--ready-pipe"]
        let pipe = Pipe()
        child.standardOutput = pipe
        child.standardInput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        do {
            try child.run()
        } catch {
            throw CommandFailure(.failure, "cannot start the mount daemon: \(error)")
        }
        let line = readLine(from: pipe.fileHandleForReading, timeout: readyTimeout)
        guard let line else {
            if child.isRunning { child.terminate() }
            throw CommandFailure(.failure, "the mount daemon exited before \(mountpoint) was ready (see the system log)")
        }
        if line == "READY" { return }
        // "ERROR <code> <message>"
        let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
        if parts.count == 3, parts[0] == "ERROR", let code = Int32(parts[1]) {
            throw CommandFailure(ExitCode(code), parts[2])
        }
        throw CommandFailure(.failure, "the mount daemon said: \(line)")
    }

    /// The first line the child writes, or nil on end of file or timeout.
    private static func readLine(from handle: Foundation.FileHandle, timeout: TimeInterval) -> String? {
        let result = LineBox()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var bytes: [UInt8] = []
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                bytes += chunk
                if bytes.contains(UInt8(ascii: "\n")) { break }
            }
            let line = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).first
            result.set(line.map { String(decoding: $0, as: UTF8.self) })
            done.signal()
        }
        guard done.wait(timeout: .now() + timeout) == .success else { return nil }
        return result.get()
    }
}

/// The reader thread's result, handed over through the semaphore.
private final class LineBox: @unchecked Sendable {
    private var value: String?
    private let lock = NSLock()
    func set(_ line: String?) { lock.withLock { value = line?.isEmpty == true ? nil : line } }
    func get() -> String? { lock.withLock { value } }
}
