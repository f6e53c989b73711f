/// RFC 3986 percent-encoding for names put into URLs. Only the unreserved
/// characters (ALPHA DIGIT - . _ ~) stay as they are; everything else becomes
/// %XX of its UTF-8 bytes, so a name with `/ ? # & = +` or spaces reaches the
/// server as one intact segment or value.
public enum PercentEncoding {
    /// One path segment (a `/` inside is encoded, never a separator).
    public static func pathSegment(_ s: String) -> String { encode(s) }

    /// One query key or value (`&`, `=`, `+` and space included are encoded).
    public static func queryValue(_ s: String) -> String { encode(s) }

    /// `a=1&b=2`, keys and values encoded, in the given order.
    public static func query(_ items: [(String, String)]) -> String {
        items.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&")
    }

    private static func encode(_ s: String) -> String {
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for byte in s.utf8 {
            if isUnreserved(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isUnreserved(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default: false
        }
    }
}
