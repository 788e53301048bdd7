import KeywardStore

#if canImport(Glibc)
    import Glibc
#endif

/// Thread CPU time in nanoseconds: `openssl speed` counts operations per second of CPU time by
/// default, so the figures compared with it are on the same basis (steal and preemption left out).
func threadCPUNanos() -> UInt64 {
    var ts = timespec()
    do throws(SystemError) {
        try Syscall.check("clock_gettime") { unsafe clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) }
    } catch {
        fatalError("\(error)")  // a benchmark without a clock measures nothing
    }
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
