internal import CFastCGI

extension FCGIParams {
    /// True when `name` occurs more than once among the request's params. libfcgi keeps every
    /// pair it was sent as `NAME=value` in `envp`; `FCGX_GetParam` answers with the first.
    func isRepeated(_ name: StaticString) -> Bool {
        let bytes = unsafe Array(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        return occursTwice(bytes + [UInt8(ascii: "=")])
    }

    /// `isRepeated` for a name made at run time.
    func isRepeated(named name: String) -> Bool {
        occursTwice(Array(name.utf8) + [UInt8(ascii: "=")])
    }

    /// `param` for a name made at run time (`HTTP_SIGNATURE_INPUT`).
    func param(named name: String) -> String? {
        // withCString's buffer lives for the call; the value is copied out of envp.
        guard let value = unsafe name.withCString({ unsafe FCGX_GetParam($0, request.pointee.envp) }) else { return nil }
        return unsafe String(validatingCString: value) ?? "\u{0}"
    }

    /// True when two of the `NAME=value` pairs start with `prefix` (a name and its `=`).
    private func occursTwice(_ prefix: [UInt8]) -> Bool {
        guard var entry = unsafe request.pointee.envp else { return false }
        var seen = 0
        while let pair = unsafe entry.pointee {
            let matches = unsafe pair.withMemoryRebound(to: UInt8.self, capacity: prefix.count) { bytes in
                // Stops at the first difference, so never reads past a shorter pair's NUL.
                prefix.indices.allSatisfy { unsafe bytes[$0] == prefix[$0] }
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
