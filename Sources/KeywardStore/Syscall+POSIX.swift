#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A system call that failed: its name (and what it was called on) and `errno`.
package struct SystemError: Error, CustomStringConvertible, Sendable {
    /// The call, e.g. `open /var/lib/keyward/keyward.db`.
    package let call: String
    /// The `errno` it failed with.
    package let code: Int32

    package init(call: String, code: Int32) {
        self.call = call
        self.code = code
    }

    /// `call: strerror(code)`.
    package var description: String { "\(call): \(Self.reason(code))" }

    /// The system's text for `code`.
    package static func reason(_ code: Int32) -> String {
        // strerror returns a pointer to a NUL-terminated string that stays valid until the next
        // strerror call on this thread; it is copied out at once.
        unsafe String(cString: strerror(code))
    }
}

/// The one way Keyward's store (and the admin API and the benchmark above it) makes system calls:
/// every result is checked, and a failure becomes a `SystemError` carrying `errno`.
package enum Syscall {
    /// Runs `call`, a system call that returns -1 and sets `errno` on failure, and returns its
    /// result. An interrupted call (EINTR) is run again unless `retry` is false (`close` must not
    /// be: on Linux the descriptor is gone even then).
    @discardableResult
    package static func check<Result: BinaryInteger>(
        _ what: @autoclosure () -> String, retry: Bool = true, _ call: () -> Result
    ) throws(SystemError) -> Result {
        while true {
            let result = call()
            if result != -1 { return result }
            let code = errno
            if code == EINTR && retry { continue }
            throw SystemError(call: what(), code: code)
        }
    }

    /// Runs `call`, a function that returns 0 or an error number (the pthread convention,
    /// `sigwait`), again while it returns EINTR; throws `SystemError` on any other error.
    package static func checkReturned(_ what: @autoclosure () -> String, _ call: () -> Int32) throws(SystemError) {
        while true {
            let code = call()
            if code == 0 { return }
            if code == EINTR { continue }
            throw SystemError(call: what(), code: code)
        }
    }

    /// Ignores `signal` in the whole process (`SIGPIPE`: a write to a closed pipe or socket then
    /// fails with EPIPE instead of killing the process).
    package static func ignore(signal: Int32) throws(SystemError) {
        var action = sigaction()
        #if canImport(Glibc)
            unsafe action.__sigaction_handler.sa_handler = SIG_IGN
        #else
            action.__sigaction_u.__sa_handler = SIG_IGN
        #endif
        try check("sigaction \(signal)") { unsafe sigemptyset(&action.sa_mask) }
        try check("sigaction \(signal)") { unsafe sigaction(signal, &action, nil) }
    }

    /// Closes `fd` where nothing can be done about a failure (cleanup after an error, a reader
    /// that is done): Linux releases the descriptor even when `close` reports an error, and the
    /// data written through it, if any, was made durable with `fsync` before. EBADF would be a
    /// bug (a double close), so it traps in debug builds.
    package static func closeAfterUse(_ fd: Int32) {
        do throws(SystemError) { try check("close", retry: false) { close(fd) } } catch {
            assert(error.code != EBADF, "close(\(fd)): \(error)")
        }
    }
}
