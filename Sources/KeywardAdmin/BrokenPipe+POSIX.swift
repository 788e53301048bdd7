import KeywardStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// SIGPIPE handling for writers to a child's standard input.
enum BrokenPipe {
    /// Ignores SIGPIPE in this process, once: writing to a sendmail that exited without reading its
    /// input must fail with EPIPE (a refused mail), not kill the command line or the server. The
    /// FastCGI server ignores it too.
    static let ignored: Void = {
        // sigaction fails only for an invalid signal number or a bad pointer, neither possible here.
        do { try Syscall.ignore(signal: SIGPIPE) } catch { fatalError("cannot ignore SIGPIPE: \(error)") }
    }()
}
