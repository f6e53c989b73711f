/// The names editors and tools give their scratch files: swap, backup, lock
/// and temporary files. In a folder, a file of such a name that is not a
/// stored secret lives in the mount's memory only and never reaches the
/// backend (docs/SEMANTICS.md, "Editors and scratch files").
enum ScratchNames {
    static func isScratch(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard bytes.count >= 2 else { return false }
        // vim: .NAME.swp, .swo, .swn, … and the test files .swx and .NAME.swpx.
        if bytes.first == UInt8(ascii: "."), Self.endsLikeASwapFile(bytes) { return true }
        // Backups: NAME~ (vim, emacs, nano -B, cp --backup).
        if bytes.last == UInt8(ascii: "~") { return true }
        // Emacs: .#NAME (lock) and #NAME# (auto-save).
        if name.hasPrefix(".#") { return true }
        if bytes.count >= 3, bytes.first == UInt8(ascii: "#"), bytes.last == UInt8(ascii: "#") { return true }
        // vim's write test: 4913, then 4913 + 123·k while that name is taken.
        if bytes.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), bytes.count <= 5,
            let number = Int(name), number >= 4913, (number - 4913) % 123 == 0
        {
            return true
        }
        // sed -i: sedXXXXXX.
        if bytes.count == 9, name.hasPrefix("sed"),
            bytes.dropFirst(3).allSatisfy({ $0 < 0x80 && (Character(UnicodeScalar($0)).isLetter || Character(UnicodeScalar($0)).isNumber) })
        {
            return true
        }
        // Temporary files: NAME.tmp, .NAME.tmp; Foundation's atomic writes
        // (`Data.write(options: .atomic)`, `FileManager.createFile`): .dat.nosync….
        if name.hasSuffix(".tmp") { return bytes.count > 4 }
        if name.hasPrefix(".dat.nosync") { return true }
        return false
    }

    /// `.sw` and a letter, or `.sw`, a letter and `x`, after at least one character.
    private static func endsLikeASwapFile(_ bytes: [UInt8]) -> Bool {
        let letters = UInt8(ascii: "a")...UInt8(ascii: "z")
        var tail = bytes[...]
        if tail.last == UInt8(ascii: "x"), tail.count >= 7, letters.contains(tail[tail.count - 2 + tail.startIndex]) {
            tail = tail.dropLast()
        }
        guard tail.count >= 6, let last = tail.last, letters.contains(last) else { return false }
        return Array(tail.dropLast().suffix(3)) == Array(".sw".utf8)
    }
}
