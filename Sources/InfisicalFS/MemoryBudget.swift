import FuseKit

/// The memory one mount may hold in buffers that programs fill through it:
/// the content of files open for writing (unsaved writes), `/.crypto`
/// requests and answers, and scratch files. One budget for the whole mount,
/// so that many descriptors each holding a little cannot add up to an
/// unbounded daemon (docs/SEMANTICS.md, "Memory").
///
/// What is held is summed from the buffers themselves each time a write
/// would grow one, never kept as a separate count: a buffer's bytes return
/// to the budget exactly when it is dropped (release, a commit's end, an
/// answer read), and no path can leak budget by forgetting to give it back.
enum MemoryBudget {
    /// Bytes all buffers of a mount may hold together.
    static let limit = 64 << 20

    /// Bytes held now in the buffers the budget covers: what is allocated
    /// for them (capacity), not only what is used, since that is what the
    /// daemon's memory holds.
    static func held(_ state: SecretsFileSystem.State) -> Int {
        var bytes = 0
        for file in state.openFiles.values where file.flags.writes { bytes += allocated(file.content) }
        for open in state.cryptoFiles.values { bytes += allocated(open.request) + allocated(open.output) }
        bytes += state.cryptoResults.bytes
        for file in state.scratchFiles.values { bytes += allocated(file.content) }
        return bytes
    }

    /// A buffer's capacity in whole pages: the allocator hands out a little
    /// more than was asked for (a large buffer is mapped in pages, less its
    /// header), and that rounding is not the program's to pay for.
    static func allocated(_ buffer: [UInt8]) -> Int { buffer.capacity & ~4095 }

    /// Makes room in `buffer` for `size` bytes, if the budget allows it
    /// while `others` (the state without that buffer) hold what they hold;
    /// false, changing nothing, when it does not. A buffer grows by doubling
    /// (cheap appends) while that fits, else to exactly `size`; one that
    /// need not grow always may be written: the budget only refuses growth.
    static func reserve(_ size: Int, in buffer: inout [UInt8], besides others: SecretsFileSystem.State) -> Bool {
        guard size > buffer.capacity else { return true }
        let room = limit - held(others)
        let doubled = max(size, 2 * buffer.capacity)
        if doubled <= room {
            buffer.reserveCapacity(doubled)
        } else if size <= room {
            buffer.reserveCapacity(size)
        } else {
            return false
        }
        return true
    }

    /// The reason a refused write is logged with.
    static var refusal: String { "the mount's \(limit >> 20) MiB for unsaved writes, /.crypto requests and scratch files is in use" }
}
