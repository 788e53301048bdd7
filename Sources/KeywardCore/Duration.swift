/// A lifetime as written on the command line: `45s`, `30m`, `12h`, `30d`, or `never`.
public enum Lifetime: Sendable, Equatable {
    case seconds(Int64)
    case never

    /// Parses the DESIGN.md duration syntax; nil for anything else (including zero or negative).
    public init?(_ text: String) {
        if text == "never" {
            self = .never
            return
        }
        guard let unit = text.last, let n = Int64(text.dropLast()), n > 0, text.dropLast().allSatisfy(\.isNumber)
        else { return nil }
        let scale: Int64
        switch unit {
        case "s": scale = 1
        case "m": scale = 60
        case "h": scale = 3_600
        case "d": scale = 86_400
        case "w": scale = 7 * 86_400
        default: return nil
        }
        guard n <= Int64.max / scale / 2 else { return nil }
        self = .seconds(n * scale)
    }

    /// The expiry for something created at `now`, or nil for never.
    public func expiry(from now: Int64) -> Int64? {
        switch self {
        case .seconds(let s): now + s
        case .never: nil
        }
    }
}
