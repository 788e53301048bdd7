import Foundation
import KeywardCore

/// The real clock: infrastructure, so it lives here and not in the pure core.
public struct SystemClock: Clock {
    public init() {}
    public var now: Int64 { Int64(Date().timeIntervalSince1970) }
}
