internal import CFastCGI

extension FCGIParams {
    /// True when `name` occurs more than once among the request's params. libfcgi keeps every
    /// pair it was sent as `NAME=value` in `envp`; `FCGX_GetParam` answers with the first.
    func isRepeated(_ name: StaticString) -> Bool {
        guard var entry = unsafe request.pointee.envp else { return false }
        let length = name.utf8CodeUnitCount
        var seen = 0
        while let pair = unsafe entry.pointee {
            let matches = unsafe pair.withMemoryRebound(to: UInt8.self, capacity: length + 1) { bytes in
                // Stops at the first difference, so never reads past a shorter pair's NUL.
                (0..<length).allSatisfy { unsafe bytes[$0] == name.utf8Start[$0] } && (unsafe bytes[length]) == UInt8(ascii: "=")
            }
            if matches {
                seen += 1
                if seen > 1 { return true }
            }
            unsafe entry += 1
        }
        return false
    }
}
