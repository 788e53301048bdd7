import Foundation
import KeywardCore

/// The real clock: infrastructure, so it lives here and not in the pure core.
public struct SystemClock: Clock {
    /// The wall clock.
    public init() {}
    /// Unix seconds, truncated; jumps when the system clock is set.
    public var now: Int64 { Int64(Date().timeIntervalSince1970) }
}
