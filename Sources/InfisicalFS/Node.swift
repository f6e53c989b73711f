import FuseKit
import SecretsCore

/// What an inode stands for in the tree of SPEC.md.
enum Node: Hashable, Sendable {
    case root
    /// `/<project>`: always by the project's ID, whichever name reached it.
    case project(id: String)
    /// `/<project>/<env>` (the root path) or a folder below it.
    case folder(SecretLocation)
    case secret(SecretLocation, name: String)
    /// An editor's or tool's scratch file in a folder (`ScratchNames`): in
    /// this mount's memory only.
    case scratch(SecretLocation, name: String)
    /// A folder's `.env`, `.json` or `.yaml` view of its secrets.
    case view(SecretLocation, FolderView)
    /// `/.crypto`: on every backend, never asked of the backend.
    case crypto
    case cryptoFile(CryptoFile)
    /// `/.status`: the mount's health report, made by the core.
    case status

    /// The control folder's name at the root; not a slug, so no project can take it.
    static let cryptoName = ".crypto"
    /// The health report's name at the root; not a slug either.
    static let statusName = ".status"

    var isDirectory: Bool {
        switch self {
        case .secret, .cryptoFile, .status, .scratch, .view: false
        case .root, .project, .folder, .crypto: true
        }
    }

    /// `/.crypto`, its files and `/.status`: made by the file system, never
    /// asked of the backend, never renamed, removed or truncated.
    var isControl: Bool {
        switch self {
        case .crypto, .cryptoFile, .status: true
        case .root, .project, .folder, .secret, .scratch, .view: false
        }
    }

    /// The node's path for log lines: names only, never values.
    var logPath: String {
        switch self {
        case .root: "/"
        case .project(let id): "/\(id)"
        case .folder(let location): "/\(location)"
        case .secret(let location, let name), .scratch(let location, let name): "/\(location)/\(name)"
        case .view(let location, let view): "/\(location)/\(view.rawValue)"
        case .crypto: "/\(Node.cryptoName)"
        case .cryptoFile(let file): file.logPath
        case .status: "/\(Node.statusName)"
        }
    }

    // Names by their bytes: the kernel and Infisical tell NFC "café" from NFD
    // "cafe\u{301}", which Swift's String equality and hashing take for one.
    static func == (lhs: Node, rhs: Node) -> Bool {
        switch (lhs, rhs) {
        case (.root, .root), (.crypto, .crypto), (.status, .status): true
        case (.project(let a), .project(let b)): a.isIdentical(to: b)
        case (.folder(let a), .folder(let b)): a == b
        case (.secret(let a, let aName), .secret(let b, let bName)), (.scratch(let a, let aName), .scratch(let b, let bName)):
            a == b && aName.isIdentical(to: bName)
        case (.view(let a, let aView), .view(let b, let bView)): a == b && aView == bView
        case (.cryptoFile(let a), .cryptoFile(let b)): a == b
        default: false
        }
    }

    func hash(into hasher: inout Hasher) {
        switch self {
        case .root: hasher.combine(0)
        case .project(let id): hasher.combine(1); hasher.combine(ExactName(id))
        case .folder(let location): hasher.combine(2); hasher.combine(location)
        case .secret(let location, let name): hasher.combine(3); hasher.combine(location); hasher.combine(ExactName(name))
        case .scratch(let location, let name): hasher.combine(4); hasher.combine(location); hasher.combine(ExactName(name))
        case .view(let location, let view): hasher.combine(5); hasher.combine(location); hasher.combine(view)
        case .crypto: hasher.combine(6)
        case .cryptoFile(let file): hasher.combine(7); hasher.combine(file)
        case .status: hasher.combine(8)
        }
    }

    /// This node after the folder `old` became `new`, or nil when it is not inside `old`.
    func rebased(from old: SecretLocation, to new: SecretLocation) -> Node? {
        func rebase(_ location: SecretLocation) -> SecretLocation? {
            guard location.sharesEnvironment(with: old), location.path.isWithin(old.path) else { return nil }
            let rest = location.path.segments.dropFirst(old.path.segments.count)
            return SecretLocation(
                projectID: new.projectID, environment: new.environment,
                path: SecretPath(segments: new.path.segments + rest))
        }
        switch self {
        case .folder(let location): return rebase(location).map { .folder($0) }
        case .secret(let location, let name): return rebase(location).map { .secret($0, name: name) }
        case .scratch(let location, let name): return rebase(location).map { .scratch($0, name: name) }
        case .view(let location, let view): return rebase(location).map { .view($0, view) }
        case .root, .project, .crypto, .cryptoFile, .status: return nil
        }
    }
}

/// Inode numbers handed to the kernel, with the kernel's lookup counts.
/// Numbers are never reused within a mount.
struct InodeTable: Sendable {
    private struct Record: Sendable {
        var node: Node
        var lookups: UInt64
        /// Unlinked or replaced: the kernel may still hold it, but no name leads to it.
        var detached = false
    }

    private var records: [UInt64: Record] = [InodeNumber.root.rawValue: Record(node: .root, lookups: 1)]
    private var byNode: [Node: UInt64] = [.root: InodeNumber.root.rawValue]
    private var next: UInt64 = 2

    /// The inode for `node`, counting one more kernel lookup.
    mutating func reference(_ node: Node) -> InodeNumber {
        if let number = byNode[node] {
            records[number]!.lookups += 1
            return InodeNumber(rawValue: number)
        }
        let number = next
        next += 1
        records[number] = Record(node: node, lookups: 1)
        byNode[node] = number
        return InodeNumber(rawValue: number)
    }

    /// The node an inode stands for; nil when unknown or detached.
    func node(_ inode: InodeNumber) -> Node? {
        guard let record = records[inode.rawValue], !record.detached else { return nil }
        return record.node
    }

    /// The node an inode stood for, also once no name leads to it (an open
    /// file keeps its inode until it is released, as on any POSIX file system).
    func lastNode(_ inode: InodeNumber) -> (node: Node, detached: Bool)? {
        records[inode.rawValue].map { ($0.node, $0.detached) }
    }

    func inode(of node: Node) -> InodeNumber? { byNode[node].map(InodeNumber.init(rawValue:)) }

    mutating func forget(_ inode: InodeNumber, lookups: UInt64) {
        guard inode != .root, var record = records[inode.rawValue] else { return }
        record.lookups = record.lookups > lookups ? record.lookups - lookups : 0
        if record.lookups == 0 {
            records[inode.rawValue] = nil
            if byNode[record.node] == inode.rawValue { byNode[record.node] = nil }
        } else {
            records[inode.rawValue] = record
        }
    }

    /// No name leads to `node` any more (unlink, rmdir, or replaced by a rename).
    mutating func detach(_ node: Node) {
        guard let number = byNode.removeValue(forKey: node) else { return }
        records[number]?.detached = true
    }

    /// A rename: the inode of `old` (and of everything below it) now stands
    /// for the new name, as the kernel's dentry does.
    mutating func move(_ old: Node, to new: Node) {
        detach(new)
        var moves: [(UInt64, Node)] = []
        if case .folder(let from) = old, case .folder(let to) = new {
            for (node, number) in byNode {
                if let rebased = node.rebased(from: from, to: to) { moves.append((number, rebased)) }
            }
        } else if let number = byNode[old] {
            moves.append((number, new))
        }
        for (number, _) in moves { byNode[records[number]!.node] = nil }
        for (number, node) in moves {
            records[number]!.node = node
            byNode[node] = number
        }
    }
}
