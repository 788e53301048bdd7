import Foundation

/// The real clock.
public struct SystemClock: Clock {
    public init() {}
    public var now: Int64 { Int64(Date().timeIntervalSince1970) }
}
