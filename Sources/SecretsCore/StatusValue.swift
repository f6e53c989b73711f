public import Foundation

/// A piece of the `/.status` report: what a health check can read. Figures,
/// states, names and times only; never a value, token or credential.
public enum StatusValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case number(Double)
    case boolean(Bool)
    /// Shown as an ISO 8601 UTC time.
    case time(Date)
    case null
    case object([(String, StatusValue)])

    public static func == (lhs: StatusValue, rhs: StatusValue) -> Bool {
        lhs.json() == rhs.json()
    }

    /// `value` as `.time`, or `.null` when nil.
    public static func time(_ value: Date?) -> StatusValue { value.map(StatusValue.time) ?? .null }

    /// The fields of an object, empty for anything else.
    public var fields: [(String, StatusValue)] {
        if case .object(let fields) = self { return fields }
        return []
    }

    /// Compact or indented JSON; keys keep their order.
    public func json(indent: Int? = nil) -> String {
        var out = ""
        write(to: &out, indent: indent, depth: 0)
        return out
    }

    private func write(to out: inout String, indent: Int?, depth: Int) {
        switch self {
        case .string(let text): Self.quote(text, into: &out)
        case .integer(let value): out += String(value)
        case .number(let value): out += value.isFinite ? String(value) : "null"
        case .boolean(let value): out += value ? "true" : "false"
        case .time(let date): Self.quote(Self.timeFormat(date), into: &out)
        case .null: out += "null"
        case .object(let fields):
            guard !fields.isEmpty else {
                out += "{}"
                return
            }
            out += "{"
            for (index, (key, value)) in fields.enumerated() {
                if index > 0 { out += "," }
                if let indent { out += "\n" + String(repeating: " ", count: indent * (depth + 1)) }
                Self.quote(key, into: &out)
                out += indent == nil ? ":" : ": "
                value.write(to: &out, indent: indent, depth: depth + 1)
            }
            if let indent { out += "\n" + String(repeating: " ", count: indent * depth) }
            out += "}"
        }
    }

    private static func quote(_ text: String, into out: inout String) { out += jsonQuoted(text) }

    /// `text` as a JSON string literal; `alsoEscaping` names more characters
    /// to write as `\uXXXX` (YAML's double-quoted scalars need some).
    public static func jsonQuoted(_ text: String, alsoEscaping: (Unicode.Scalar) -> Bool = { _ in false }) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || alsoEscaping(scalar):
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func timeFormat(_ date: Date) -> String {
        var style = Date.ISO8601FormatStyle(includingFractionalSeconds: false)
        style.timeZone = TimeZone(identifier: "UTC")!
        return date.formatted(style)
    }
}

extension Int {
    /// Whole seconds, saturating: no clock or figure may trap the daemon
    /// (`Int(_:)` of a Double out of range does); not finite is 0.
    public init(saturatingSeconds seconds: Double) {
        guard seconds.isFinite else {
            self = 0
            return
        }
        // Double(Int.max) rounds up to 2^63, itself out of Int's range.
        self = seconds >= Double(Int.max) ? .max : seconds <= Double(Int.min) ? .min : Int(seconds)
    }
}
