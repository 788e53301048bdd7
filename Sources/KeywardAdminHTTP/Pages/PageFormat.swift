import Foundation
import KeywardCore

/// How pages show times, addresses and secrets.
enum PageFormat {
    /// ISO 8601 in UTC, to the minute: `2026-12-05 18:52Z`.
    static func iso(_ t: Int64) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm'Z'"
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(t)))
    }

    /// The machine-readable form for `<time datetime>`.
    static func machine(_ t: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(t)))
    }

    /// `in 29 days`, `3 hours ago`, `just now`.
    static func relative(_ t: Int64, now: Int64) -> String {
        let delta = t - now
        let magnitude = abs(delta)
        if magnitude < 60 { return "just now" }
        let (n, unit): (Int64, String) =
            switch magnitude {
            case ..<3_600: (magnitude / 60, "minute")
            case ..<86_400: (magnitude / 3_600, "hour")
            case ..<(60 * 86_400): (magnitude / 86_400, "day")
            case ..<(730 * 86_400): (magnitude / (30 * 86_400), "month")
            default: (magnitude / (365 * 86_400), "year")
            }
        let amount = "\(n) \(unit)\(n == 1 ? "" : "s")"
        return delta > 0 ? "in " + amount : amount + " ago"
    }

    /// A time as `<time>`: ISO 8601 and the relative time.
    static func time(_ html: inout HTML, _ t: Int64?, now: Int64, never: String = "never") {
        guard let t else {
            html.text(never)
            return
        }
        html.element("time", [.init("datetime", machine(t))], text: iso(t))
        html.element("span", [.init("class", "muted")], text: " (" + relative(t, now: now) + ")")
    }

    /// An address as RFC 5952 text (IPv6 compressed); anything unparsable as it is.
    static func address(_ text: String) -> String {
        IPAddress(text)?.compressed ?? text
    }

    /// A credential's masked secret: its public id and dots (the rest is never stored).
    static func masked(_ id: String) -> String { id + "_••••••••" }
}
