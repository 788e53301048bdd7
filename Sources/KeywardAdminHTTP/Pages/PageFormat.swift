import Foundation
import KeywardCore
import KeywardStore

/// How pages show times, addresses and secrets.
enum PageFormat {
    /// ISO 8601 in UTC, to the minute: `2026-12-05 18:52Z`.
    static func iso(_ t: Int64) -> String {
        let (date, h, m, _) = civil(t)
        return date + " " + two(h) + ":" + two(m) + "Z"
    }

    /// The machine-readable form for `<time datetime>`: `2026-12-05T18:52:07Z` (RFC 3339).
    static func machine(_ t: Int64) -> String {
        let (date, h, m, s) = civil(t)
        return date + "T" + two(h) + ":" + two(m) + ":" + two(s) + "Z"
    }

    /// The UTC calendar date (`yyyy-mm-dd`) and time of day of Unix time `t`, by the days-to-civil
    /// algorithm of the proleptic Gregorian calendar (a formatter per call costs more than the row).
    static func civil(_ t: Int64) -> (date: String, hour: Int64, minute: Int64, second: Int64) {
        let days = t >= 0 ? t / 86_400 : (t - 86_399) / 86_400
        let secs = t - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let y = String(year)
        return (
            String(repeating: "0", count: max(0, 4 - y.count)) + y + "-" + two(month) + "-" + two(day), secs / 3_600, secs % 3_600 / 60,
            secs % 60
        )
    }

    private static func two(_ n: Int64) -> String { n < 10 ? "0" + String(n) : String(n) }

    /// `in 29 days`, `3 hours ago`, `just now`.
    static func relative(_ t: Int64, now: Int64) -> String {
        let delta = t - now
        let magnitude = abs(delta)
        if magnitude < 60 { return "just now" }
        // To the nearest unit (a 7-day key a few seconds old expires "in 7 days", not 6), and the
        // next unit once the count would reach it (59.5 minutes is "1 hour").
        let units: [(seconds: Int64, name: String, below: Int64)] = [
            (60, "minute", 60), (3_600, "hour", 24), (86_400, "day", 60), (30 * 86_400, "month", 24), (365 * 86_400, "year", .max),
        ]
        for unit in units {
            let n = (magnitude + unit.seconds / 2) / unit.seconds
            guard n < unit.below else { continue }
            let amount = "\(n) \(unit.name)\(n == 1 ? "" : "s")"
            return delta > 0 ? "in " + amount : amount + " ago"
        }
        preconditionFailure("years have no upper bound")
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
    static func masked(_ id: String) -> String { OpaqueSecret.masked(id: id) }

    /// A masked id in a table cell: `<code class="masked">`, on one line where there is room;
    /// a narrow screen breaks it only between the id and the dots (the dots are their own box).
    static func maskedCell(_ html: inout HTML, _ id: String) {
        let masked = masked(id)
        html.element("code", [.init("class", "masked")]) { html in
            html.text(id)
            html.element("span", text: String(masked.dropFirst(id.count)))
        }
    }
}
