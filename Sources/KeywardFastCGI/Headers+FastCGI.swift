internal import CFastCGI

extension FCGIParams {
    /// `param` for a name made at run time.
    func param(named name: String) -> String? {
        guard let value = name.withCString({ FCGX_GetParam($0, request.pointee.envp) }) else { return nil }
        return String(validatingCString: value) ?? "\u{0}"
    }

    /// `isRepeated` for a name made at run time.
    func isRepeated(named name: String) -> Bool {
        guard var entry = request.pointee.envp else { return false }
        let wanted = Array(name.utf8) + [UInt8(ascii: "=")]
        var seen = 0
        while let pair = entry.pointee {
            let matches = pair.withMemoryRebound(to: UInt8.self, capacity: wanted.count) { bytes in
                // Stops at the first difference, so never reads past a shorter pair's NUL.
                wanted.indices.allSatisfy { bytes[$0] == wanted[$0] }
            }
            if matches {
                seen += 1
                if seen > 1 { return true }
            }
            entry += 1
        }
        return false
    }
}

extension CGIRunner.StdinParams {
    /// The environment variable `name`.
    func param(named name: String) -> String? { values[name] }
}
