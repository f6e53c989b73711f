import FuseKit
import Foundation
import Logging
import SecretCrypto
import Synchronization

/// One open file of `/.crypto`. Requests are buffered until they are a whole
/// JSON object (answered at that write), or until a read, flush or close ends
/// them; reads return the latest answer.
struct CryptoOpenFile: Sendable {
    enum Phase: Sendable, Equatable {
        /// The next write starts a request.
        case idle
        /// The buffer holds the start of a request.
        case collecting
        /// A whole request was answered at a write; white space after it
        /// (echo's newline) belongs to it, anything else starts a new request.
        case answered
        /// The request was refused: later writes are the rest of it (a
        /// writer retrying a short write) and are refused too, keeping the
        /// reason, until a read or a flush.
        case refused
    }

    let file: CryptoFile
    let flags: OpenFlags
    /// What reads return: the key, an answer, or a refusal's reason.
    var output: [UInt8] = []
    /// The offset of the first read of `output`; nil until that read, so the
    /// first read after a write returns the answer from its first byte
    /// whatever the descriptor's offset (`exec 3<>`, then `cat <&3`).
    var readBase: UInt64?
    var phase = Phase.idle
    var request: [UInt8] = []
    var scanner = JSONObjectScanner()
    /// The uid that wrote the request: its answer is kept for that user only.
    var writer: UInt32 = 0
    /// Counts request changes, so an answer computed outside the lock is
    /// dropped when the request changed meanwhile.
    var generation: UInt64 = 0
    /// The latest request through this open was refused: close reports it.
    var refused = false
    /// The errno of that refusal: EINVAL (the request's fault) or ENOSPC
    /// (the mount's memory budget).
    var rejection = Errno.invalidArgument
}

/// What a write to a `/.crypto` file leads to.
enum CryptoWriteStep {
    case done
    /// The request was refused already: the rest of it is refused too, with this errno.
    case rejected(Errno)
    /// Refused now (EINVAL: the request's fault; ENOSPC: the mount's memory budget).
    case refuse(CryptoFile, CryptoRefusal, Errno)
    case answer(CryptoFile, [UInt8], generation: UInt64)
}

/// Answers kept for each user's next open of `encrypt` or `decrypt`, in
/// memory only, for `CryptoLimits.resultLifetime` seconds.
struct CryptoResults: Sendable {
    private struct Key: Hashable, Sendable {
        let uid: UInt32
        let file: CryptoFile
    }

    private struct Stored: Sendable {
        let output: [UInt8]
        let expires: Date
    }

    private var entries: [Key: Stored] = [:]

    var isEmpty: Bool { entries.isEmpty }

    /// Bytes the kept answers hold (for the memory budget).
    var bytes: Int { entries.values.reduce(0) { $0 + MemoryBudget.allocated($1.output) } }

    mutating func store(_ output: [UInt8], for uid: UInt32, _ file: CryptoFile, now: Date) {
        dropExpired(now: now)
        entries[Key(uid: uid, file: file)] = Stored(
            output: output, expires: now.addingTimeInterval(CryptoLimits.resultLifetime))
    }

    mutating func output(for uid: UInt32, _ file: CryptoFile, now: Date) -> [UInt8]? {
        dropExpired(now: now)
        return entries[Key(uid: uid, file: file)]?.output
    }

    mutating func dropExpired(now: Date) {
        guard !entries.isEmpty else { return }
        entries = entries.filter { $0.value.expires > now }
    }
}

extension SecretsFileSystem {
    func openCrypto(_ file: CryptoFile, flags: OpenFlags, context: RequestContext) throws(Errno) -> OpenReply {
        logger.debug("open \(file.logPath) \(flags.accessMode)")
        if flags.writes {
            try refuseIfReadOnly()
            // A key is only ever read; EPERM, as for every other change the tree refuses.
            if file == .key { throw .notPermitted }
        }
        var open = CryptoOpenFile(file: file, flags: flags)
        if file == .key {
            // A fresh key per open: every read of this descriptor sees the same one.
            open.output = Array(SymmetricKey.random().base64.utf8)
            open.readBase = 0
        }
        let handle = state.withLock { state in
            if file != .key, flags.reads {
                open.output = state.cryptoResults.output(for: context.uid, file, now: clock()) ?? []
            }
            let handle = state.nextHandle
            state.nextHandle += 1
            state.cryptoFiles[handle] = open
            return FuseHandle(rawValue: handle)
        }
        // Results differ per open and per user: the page cache must never answer.
        return OpenReply(handle: handle, directIO: true)
    }

    func isCryptoHandle(_ handle: FuseHandle) -> Bool {
        state.withLock { $0.cryptoFiles[handle.rawValue] != nil }
    }

    func readCrypto(_ handle: FuseHandle, offset: UInt64, size: Int) throws(Errno) -> [UInt8] {
        try endRequest(handle)
        return try state.withLock { state throws(Errno) -> [UInt8] in
            guard var open = state.cryptoFiles[handle.rawValue] else { throw .badFileDescriptor }
            guard open.flags.reads else { throw .badFileDescriptor }
            // A write after a read starts a new request.
            open.phase = .idle
            if open.readBase.map({ offset < $0 }) ?? true { open.readBase = offset }
            state.cryptoFiles[handle.rawValue] = open
            let start = offset - open.readBase!
            guard start < UInt64(open.output.count) else { return [] }
            let from = Int(start)
            return Array(open.output[from..<min(open.output.count, from + size)])
        }
    }

    func writeCrypto(_ handle: FuseHandle, data: [UInt8], context: RequestContext) throws(Errno) -> Int {
        try refuseIfReadOnly()
        let next = try state.withLock { state throws(Errno) -> CryptoWriteStep in
            guard let open = state.cryptoFiles[handle.rawValue], open.flags.writes, open.file != .key else {
                throw .badFileDescriptor
            }
            // Out of the table while the request grows: its buffer has one
            // reference and grows in place, instead of being copied whole at
            // every write; the table then holds what the budget counts besides it.
            var taken = state.cryptoFiles.removeValue(forKey: handle.rawValue)!
            let next = Self.take(data, into: &taken, from: context.uid, besides: state)
            state.cryptoFiles[handle.rawValue] = taken
            if case .refuse(_, let refusal, let errno) = next {
                finish(&state, handle, with: .failure(refusal), generation: taken.generation, phase: .refused)
                state.cryptoFiles[handle.rawValue]?.rejection = errno
            }
            return next
        }
        switch next {
        case .done:
            return data.count
        case .rejected(let errno):
            throw errno
        case .refuse(let file, let refusal, let errno):
            log(file, .failure(refusal), level: errno == .noSpace ? .warning : .notice)
            throw errno
        case .answer(let file, let request, let generation):
            // Parsing and AES run outside the lock; a request of up to 1 MiB must not stall other calls.
            let outcome = CryptoRequest.answer(request, for: file)
            state.withLock { state in
                finish(&state, handle, with: outcome, generation: generation, phase: .answered)
            }
            log(file, outcome)
            if case .failure = outcome { throw .invalidArgument }
            return data.count
        }
    }

    /// Adds one write to an open's request: what to do next. `others` is the
    /// state without this open, for the memory budget.
    private static func take(
        _ data: [UInt8], into open: inout CryptoOpenFile, from uid: UInt32, besides others: State
    ) -> CryptoWriteStep {
        if open.phase == .refused { return .rejected(open.rejection) }
        if open.phase == .answered, data.allSatisfy(isJSONWhitespace) { return .done }
        if open.phase != .collecting {
            open.phase = .collecting
            open.request = []
            open.scanner = JSONObjectScanner()
            open.writer = uid
            open.refused = false
            open.rejection = .invalidArgument
        }
        open.generation += 1
        if open.request.count + data.count > CryptoLimits.maximumRequestBytes {
            let limit = CryptoLimits.maximumRequestBytes
            return .refuse(open.file, CryptoRefusal(reason: "the request is larger than \(limit) bytes"), .invalidArgument)
        }
        // The request's room counts; its answer, once made, replaces it.
        guard MemoryBudget.reserve(open.request.count + data.count, in: &open.request, besides: others) else {
            return .refuse(open.file, CryptoRefusal(reason: MemoryBudget.refusal), .noSpace)
        }
        open.request += data
        switch open.scanner.feed(data) {
        case .empty, .incomplete: return .done
        case .invalid: return .refuse(open.file, CryptoRefusal(reason: "the request is not a JSON object"), .invalidArgument)
        case .complete: return .answer(open.file, open.request, generation: open.generation)
        }
    }
    /// flush (every close(2)) and fsync: end a request still arriving; EINVAL
    /// when the latest request through this open was refused.
    func flushCrypto(_ handle: FuseHandle) throws(Errno) {
        try endRequest(handle)
        let refusal = state.withLock { state -> Errno? in
            guard var open = state.cryptoFiles[handle.rawValue] else { return nil }
            // A flush ends a refused request: the next write starts a new one.
            if open.phase == .refused { open.phase = .idle }
            state.cryptoFiles[handle.rawValue] = open
            return open.refused ? open.rejection : nil
        }
        if let refusal { throw refusal }
    }

    func releaseCrypto(_ handle: FuseHandle) {
        // Without a flush (rare) the request is still answered, so its writer's next open can read why.
        try? endRequest(handle)
        _ = state.withLock { $0.cryptoFiles.removeValue(forKey: handle.rawValue) }
    }

    /// Drops answers whose time is up (also run by a timer after each answer).
    func dropExpiredCryptoResults() {
        let now = clock()
        state.withLock { $0.cryptoResults.dropExpired(now: now) }
    }

    /// Answers a request that has not become a whole JSON object by the time
    /// it is read, flushed or closed.
    private func endRequest(_ handle: FuseHandle) throws(Errno) {
        let pending = try state.withLock { state throws(Errno) -> (CryptoFile, [UInt8], UInt64)? in
            guard let open = state.cryptoFiles[handle.rawValue] else { throw .badFileDescriptor }
            guard open.phase == .collecting else { return nil }
            return (open.file, open.request, open.generation)
        }
        guard let (file, request, generation) = pending else { return }
        let outcome = CryptoRequest.answer(request, for: file)
        state.withLock { state in finish(&state, handle, with: outcome, generation: generation, phase: .idle) }
        log(file, outcome)
    }

    /// Makes `outcome` what this open reads next and what its writer's next
    /// open reads, unless the request changed while it was being answered.
    private func finish(
        _ state: inout State, _ handle: FuseHandle, with outcome: Result<[UInt8], CryptoRefusal>,
        generation: UInt64, phase: CryptoOpenFile.Phase
    ) {
        guard var open = state.cryptoFiles[handle.rawValue], open.generation == generation else { return }
        switch outcome {
        case .success(let output):
            open.output = output
            open.refused = false
        case .failure(let refusal):
            open.output = refusal.output
            open.refused = true
        }
        open.phase = open.refused ? .refused : phase
        open.readBase = nil
        open.request = []
        open.scanner = JSONObjectScanner()
        state.cryptoFiles[handle.rawValue] = open
        state.cryptoResults.store(open.output, for: open.writer, open.file, now: clock())
        scheduleCryptoExpiry()
    }

    /// One line per request: its outcome, never its content.
    private func log(_ file: CryptoFile, _ outcome: Result<[UInt8], CryptoRefusal>, level: LogLevel = .notice) {
        switch outcome {
        case .success: logger.debug("\(file.logPath): request answered")
        case .failure(let refusal): logger.log(level, "\(file.logPath): request refused: \(refusal.reason)")
        }
    }

    private func scheduleCryptoExpiry() {
        DispatchQueue.global().asyncAfter(deadline: .now() + CryptoLimits.resultLifetime + 1) { [weak self] in
            self?.dropExpiredCryptoResults()
        }
    }
}
