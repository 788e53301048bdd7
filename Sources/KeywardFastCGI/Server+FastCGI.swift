internal import CFastCGI
import Foundation
import KeywardCore
import KeywardGateway
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The FastCGI server: worker threads that serve requests, and one dispatcher thread that holds
/// every connection no worker is serving. SIGTERM/SIGINT are handled by a `sigwait` thread.
///
/// A worker accepts a connection and serves it at once when its whole request is already there
/// (the usual case: web servers send a request in one write). Anything else goes to the
/// dispatcher: a connection whose request has not arrived, a kept-alive one (`FCGI_KEEP_CONN`)
/// between requests, a closing one draining its peer. The dispatcher polls them, hands a
/// connection back to the workers only once its whole request is in (a stalled peer never holds
/// a worker), gives up on one that misses its deadline, and when `maxConnections` are waiting
/// drops the oldest. Every request head is vetted by `RecordGuard` before libfcgi parses it;
/// libfcgi is given no listening socket, so none of its error paths can accept an unguarded
/// connection. Stopping never shuts down a socket that systemd or spawn-fcgi handed over.
///
/// Thread entry points live here, not in `main.swift`: top-level code there is MainActor-isolated in
/// Swift 6 and traps when run on a worker thread (INTEGRATION.md §7).
@safe public final class FastCGIServer: @unchecked Sendable {
    private let listenFD: Int32
    private let gateways: [Gateway]
    private let maxConnections: Int
    private let log: @Sendable (String) -> Void
    private var requests: [UnsafeMutablePointer<FCGX_Request>] = unsafe []
    /// Written once at shutdown, never read: stays readable and wakes every poll.
    private var wake = Pipe()
    /// Dispatcher to workers: one `Int32` fd per message, a connection whose request is in.
    private var ready = Pipe()
    /// Workers to dispatcher: a `Parked` message per connection to watch.
    private var parking = Pipe()
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchGroup()
    private let drops = DropLog()

    /// The connection bounds: `requestHeadBytes` is the largest request head (begin record and
    /// all params) Keyward accepts, and the window in which a whole request (with its body) is
    /// awaited before a worker takes it; `requestMilliseconds` how long a connection may take
    /// to send it; `keepAliveMilliseconds` how long a kept-alive connection may sit idle;
    /// `lingerMilliseconds` how long a closing one is drained.
    let limits: Limits

    /// `gateways` has one entry per worker thread; each is used by its thread only. At most
    /// `maxConnections` connections wait for a request at once (beyond those being served).
    public init(
        listenFD: Int32, gateways: [Gateway], maxConnections: Int = 4_096, limits: Limits,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.limits = limits
        self.listenFD = listenFD
        self.gateways = gateways
        self.maxConnections = max(1, maxConnections)
        self.log = log
    }

    /// Blocks SIGTERM and SIGINT for the calling thread and every thread it starts later, and
    /// ignores SIGPIPE. Call first thing in `main`, before any thread exists.
    public static func blockSignals() throws {
        var set = try Self.shutdownSignals()
        try Syscall.checkReturned("pthread_sigmask") { unsafe pthread_sigmask(SIG_BLOCK, &set, nil) }
        try Syscall.ignore(signal: SIGPIPE)
    }

    /// SIGTERM and SIGINT.
    private static func shutdownSignals() throws(SystemError) -> sigset_t {
        var set = sigset_t()
        try Syscall.check("sigemptyset") { unsafe sigemptyset(&set) }
        try Syscall.check("sigaddset SIGTERM") { unsafe sigaddset(&set, SIGTERM) }
        try Syscall.check("sigaddset SIGINT") { unsafe sigaddset(&set, SIGINT) }
        return set
    }

    /// Raises the soft limit on open files to the hard limit and returns it: every waiting
    /// connection holds a file descriptor.
    public static func raiseFileLimit() -> Int {
        let files = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        // Without the limits, assume the usual default soft limit.
        guard (try? Syscall.check("getrlimit") { unsafe getrlimit(files, &limit) }) != nil else { return 1_024 }
        if limit.rlim_cur < limit.rlim_max {
            let soft = limit.rlim_cur
            limit.rlim_cur = limit.rlim_max
            // Refused (a container may cap it): the soft limit stays what it was.
            if (try? Syscall.check("setrlimit") { unsafe setrlimit(files, &limit) }) == nil { limit.rlim_cur = soft }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// Serves until SIGTERM or SIGINT, lets in-flight requests finish (up to `grace` seconds), and
    /// returns true when every worker has finished.
    @discardableResult
    public func run(grace: TimeInterval = 10) -> Bool {
        guard FCGX_Init() == 0, let w = Pipe.make(nonBlocking: false), let r = Pipe.make(nonBlocking: true),
            let p = Pipe.make(nonBlocking: true)
        else {
            log("keyward[KW0401]: cannot set up FastCGI (FCGX_Init or pipe failed)")
            return false
        }
        (wake, ready, parking) = (w, r, p)
        do {
            try Pipe.setNonBlocking(listenFD)
            try Listener.tuneForAccept(listenFD, timeoutSeconds: 10, receiveBuffer: Int32(limits.requestHeadBytes * 2))
        } catch {
            log("keyward[KW0401]: cannot set up the listening socket: \(error)")
            return false
        }
        unsafe requests = unsafe gateways.indices.map { _ in
            // One request per worker, for the whole life of the process (never freed).
            let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
            _ = unsafe FCGX_InitRequest(request, -1, 0)  // no listening socket: only Keyward accepts; always 0
            return unsafe request
        }
        startThread("keyward-dispatcher") { [self] in dispatch() }
        for index in gateways.indices {
            startThread("keyward-worker-\(index)") { [self] in work(index) }
        }
        waitForSignal()
        stopping.store(true, ordering: .sequentiallyConsistent)
        var byte: UInt8 = 1
        do {
            try Syscall.check("write") { unsafe write(wake.write, &byte, 1) }
        } catch {
            // The pipe is empty and blocking, so this cannot happen; workers would wait in poll.
            log("keyward[KW0403]: cannot wake the workers: \(error); exiting anyway")
            return false
        }
        if done.wait(timeout: .now() + grace) == .timedOut {
            log("keyward[KW0403]: workers still busy after \(Int(grace))s; exiting anyway")
            return false
        }
        return true
    }

    private func startThread(_ name: String, _ body: @escaping @Sendable () -> Void) {
        done.enter()
        let thread = Thread { [done] in
            body()
            done.leave()
        }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func waitForSignal() {
        var signal: Int32 = 0
        do {
            var set = try Self.shutdownSignals()
            try Syscall.checkReturned("sigwait") { unsafe sigwait(&set, &signal) }
        } catch {
            log("keyward[KW0402]: cannot wait for signals (\(error)), shutting down")
            return
        }
        log("keyward[KW0402]: signal \(signal) received, shutting down")
    }

    private func isStopping() -> Bool { stopping.load(ordering: .relaxed) }

    private static func milliseconds() -> Int64 {
        var now = timespec()
        do {
            try Syscall.check("clock_gettime") { unsafe clock_gettime(CLOCK_MONOTONIC, &now) }
        } catch {
            fatalError("\(error)")  // CLOCK_MONOTONIC always exists: no deadline could be kept without it
        }
        return Int64(now.tv_sec) * 1_000 + Int64(now.tv_nsec) / 1_000_000
    }

    // MARK: Workers

    private func work(_ index: Int) {
        let request = unsafe requests[index]
        let gateway = gateways[index]
        var buffer = [UInt8](repeating: 0, count: limits.requestHeadBytes)
        while !isStopping() {
            guard var fd = nextConnection(&buffer) else { continue }
            // Serve it, and again while its next request is already there.
            while let kept = unsafe serve(fd, request, gateway) {
                if isStopping() {
                    Syscall.closeAfterUse(kept)
                    break
                }
                let arrival = Self.arrival(kept, &buffer)
                if arrival == .complete {
                    fd = kept
                    continue
                }
                settle(kept, arrival, idle: true)
                break
            }
        }
    }

    /// A connection whose whole request is in: one the dispatcher readied, or a newly accepted
    /// one. Nil when there is none (the caller loops); what is not ready yet goes to the dispatcher.
    private func nextConnection(_ buffer: inout [UInt8]) -> Int32? {
        var fds = [
            pollfd(fd: ready.read, events: Int16(POLLIN), revents: 0),
            pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0),
        ]
        do {
            let n = try Syscall.check("poll") { unsafe poll(&fds, 3, -1) }
            guard n > 0, fds[2].revents == 0 else { return nil }
        } catch {
            drops.note("poll failed: \(error)", log: log)  // EINVAL, ENOMEM: back off briefly
            Thread.sleep(forTimeInterval: 0.01)
            return nil
        }
        if fds[0].revents != 0 {
            var fd: Int32 = -1
            // EAGAIN: another worker took it. Messages are whole 4-byte fds (atomic pipe writes).
            if (try? Syscall.check("read") { unsafe read(ready.read, &fd, 4) }) == 4 { return fd }
        }
        guard fds[1].revents != 0 else { return nil }
        let fd: Int32
        do throws(SystemError) {
            fd = try Syscall.check("accept") { accept(listenFD, nil, nil) }
        } catch {
            // EAGAIN: another worker took it. EMFILE and the like: back off briefly.
            if error.code != EAGAIN && error.code != EWOULDBLOCK && error.code != ECONNABORTED { Thread.sleep(forTimeInterval: 0.01) }
            return nil
        }
        let arrival = Self.arrival(fd, &buffer)
        if arrival == .complete { return fd }
        settle(fd, arrival, idle: false)
        return nil
    }

    /// Serves the one request waiting on `fd`; returns the fd when the web server keeps the
    /// connection for another request (`FCGI_KEEP_CONN`), else sees it closed.
    private func serve(_ fd: Int32, _ request: UnsafeMutablePointer<FCGX_Request>, _ gateway: Gateway) -> Int32? {
        unsafe request.pointee.ipcFd = fd
        unsafe request.pointee.keepConnection = 1  // FCGX_Accept_r first finishes the previous request: keep this fd
        guard unsafe FCGX_Accept_r(request) >= 0 else { return nil }  // libfcgi closed the connection
        let params = unsafe FCGIParams(request: request)
        let role = Role(fcgiRole: params.param("FCGI_ROLE"))
        let bytes = gateway.respond(params, role: role)
        // FCGX_PutStr copies the count bytes into libfcgi's buffer. A failed write (the peer is
        // gone) marks the stream in error; FCGX_Finish_r then closes the connection (ipcFd -1).
        unsafe bytes.withUnsafeBufferPointer { buffer in
            unsafe buffer.withMemoryRebound(to: CChar.self) {
                _ = unsafe FCGX_PutStr($0.baseAddress, Int32($0.count), request.pointee.out)
            }
        }
        // A kept-alive connection's next request must start at a record boundary, but libfcgi
        // reads in 8 KiB pieces and may have stopped right before FCGI_STDIN's end: read it
        // (isComplete saw it arrive, so this does not wait). An authorizer gets no FCGI_STDIN.
        let keep = unsafe request.pointee.keepConnection != 0 && (role == .authorizer || params.skipInput(limit: limits.requestHeadBytes))
        unsafe request.pointee.keepConnection = 1  // Keyward closes the connection itself, without blocking
        unsafe FCGX_Finish_r(request)
        let open = unsafe request.pointee.ipcFd
        unsafe request.pointee.ipcFd = -1
        guard open >= 0 else { return nil }  // a write failed and libfcgi closed it
        if keep { return open }
        if !Self.hasPending(open) {
            Syscall.closeAfterUse(open)
        } else if (try? Syscall.check("shutdown") { shutdown(open, Int32(SHUT_WR)) }) != nil {
            // Unread bytes would make close() send a reset, which can destroy the response on its
            // way: shut down our side and let the dispatcher drain the peer's.
            park(open, .closing)
        } else {
            Syscall.closeAfterUse(open)  // ENOTCONN: the peer is gone already, nothing to drain
        }
        return nil
    }

    /// Passes a connection whose request is not (all) there to the dispatcher, or closes it.
    private func settle(_ fd: Int32, _ arrival: Arrival, idle: Bool) {
        switch arrival {
        case .complete: preconditionFailure("a complete request is served, not settled")
        case .nothing: park(fd, idle ? .idle : .new)
        case .partial: park(fd, .partial)
        case .closed: Syscall.closeAfterUse(fd)
        case .invalid(let why):
            drops.note(why, log: log)
            Syscall.closeAfterUse(fd)
        }
    }

    private func park(_ fd: Int32, _ kind: Parked.Kind) {
        var message = Parked(fd: fd, kind: kind)
        // A message below PIPE_BUF is written whole or not at all (EAGAIN: the pipe is full).
        if (try? Syscall.check("write") { unsafe write(parking.write, &message, MemoryLayout<Parked>.size) }) != MemoryLayout<Parked>.size {
            drops.note("the dispatcher is not keeping up", log: log)
            Syscall.closeAfterUse(fd)
        }
    }

    // MARK: What has arrived on a connection

    enum Arrival: Equatable {
        /// The whole request: serve it.
        case complete
        /// Nothing yet.
        case nothing
        /// Part of a request.
        case partial
        /// The peer closed (or the connection failed) before a request.
        case closed
        /// Not a request Keyward serves: drop the connection.
        case invalid(String)
    }

    /// Peeks at what `fd` has received, without waiting and without consuming it (libfcgi reads
    /// it). `buffer` is as large as the largest request head.
    static func arrival(_ fd: Int32, _ buffer: inout [UInt8]) -> Arrival {
        let n: Int
        do throws(SystemError) {
            // recv writes at most buffer.count bytes into the buffer.
            n = try Syscall.check("recv") {
                unsafe buffer.withUnsafeMutableBytes { unsafe recv(fd, $0.baseAddress, $0.count, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) }
            }
        } catch {
            return error.code == EAGAIN || error.code == EWOULDBLOCK ? .nothing : .closed
        }
        if n == 0 { return .closed }
        let bytes = buffer[..<n]
        switch RecordGuard.check(bytes, limit: buffer.count) {
        case .invalid(let why): return .invalid(why)
        case .incomplete: return .partial
        case .valid: return RecordGuard.isComplete(bytes, window: buffer.count) ? .complete : .partial
        }
    }

    /// True when `fd` has received bytes nobody has read (or the peer closed).
    static func hasPending(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        // EAGAIN: nothing unread.
        return (try? Syscall.check("recv") { unsafe recv(fd, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) }) != nil
    }

    // MARK: The dispatcher

    /// A connection a worker hands to the dispatcher, written whole into a pipe (atomic below PIPE_BUF).
    struct Parked {
        enum Kind: Int32 { case new, idle, partial, closing }
        var fd: Int32
        var rawKind: Int32
        init(fd: Int32, kind: Kind) {
            self.fd = fd
            self.rawKind = kind.rawValue
        }
        init() {
            fd = -1
            rawKind = 0
        }
        var kind: Kind { Kind(rawValue: rawKind) ?? .closing }
    }

    private func dispatch() {
        var table = ConnectionTable(capacity: maxConnections)
        var buffer = [UInt8](repeating: 0, count: limits.requestHeadBytes)
        var fds: [pollfd] = []
        var stopped = false
        while !stopped && !isStopping() {
            var now = Self.milliseconds()
            let (watched, due) = table.watch(now: now)
            for fd in due { look(fd, &table, &buffer, now: now) }
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: parking.read, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0))
            for (fd, interest) in watched where table.entries[fd] != nil {
                fds.append(pollfd(fd: fd, events: interest == .readable ? Int16(POLLIN) : Self.pollReadHangUp, revents: 0))
            }
            let timeout = table.timeout(now: now, cap: 1_000)
            do {
                // Retried on EINTR with the same timeout: it is at most a second.
                try Syscall.check("poll") { unsafe poll(&fds, nfds_t(fds.count), Int32(timeout)) }
            } catch {
                drops.note("poll failed: \(error)", log: log)  // EINVAL, ENOMEM: back off briefly
                Thread.sleep(forTimeInterval: 0.01)
                continue
            }
            now = Self.milliseconds()
            if fds[1].revents != 0 { stopped = true }
            if fds[0].revents != 0 { receiveParked(&table, now: now) }
            for entry in fds.dropFirst(2) where entry.revents != 0 {
                guard let state = table.entries[entry.fd]?.state else { continue }
                switch state {
                case .closing:
                    do throws(SystemError) {
                        // recv writes at most buffer.count bytes into the buffer.
                        let n = try Syscall.check("recv") {
                            unsafe buffer.withUnsafeMutableBytes { unsafe recv(entry.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                        }
                        if n == 0 { finish(entry.fd, &table) }
                    } catch {
                        if error.code != EAGAIN && error.code != EWOULDBLOCK { finish(entry.fd, &table) }
                    }
                case .awaiting:
                    look(entry.fd, &table, &buffer, now: now)
                case .partial:
                    // The peer hung up with its request unfinished, unless the rest came with the hang-up.
                    look(entry.fd, &table, &buffer, now: now)
                    if case .partial? = table.entries[entry.fd]?.state {
                        drops.note("truncated request head", log: log)
                        finish(entry.fd, &table)
                    }
                }
            }
            for (fd, state) in table.expire(now: Self.milliseconds()) {
                switch state {
                case .awaiting(idle: false): drops.note("no request within the timeout", log: log)
                case .partial: drops.note("request incomplete within the timeout", log: log)
                case .awaiting(idle: true), .closing: break
                }
                Syscall.closeAfterUse(fd)
            }
        }
        for fd in table.entries.keys { Syscall.closeAfterUse(fd) }
    }

    /// Takes in the connections workers parked.
    private func receiveParked(_ table: inout ConnectionTable, now: Int64) {
        var message = Parked()
        // Messages are written whole (below PIPE_BUF); EAGAIN ends the loop: none left.
        while (try? Syscall.check("read") { unsafe read(parking.read, &message, MemoryLayout<Parked>.size) }) == MemoryLayout<Parked>.size {
            let state: ConnectionTable.State
            let deadline: Int64
            switch message.kind {
            case .new: (state, deadline) = (.awaiting(idle: false), now + limits.requestMilliseconds)
            case .idle: (state, deadline) = (.awaiting(idle: true), now + limits.keepAliveMilliseconds)
            case .partial: (state, deadline) = (.partial(retryAt: now + 1, backoff: 1), now + limits.requestMilliseconds)
            case .closing: (state, deadline) = (.closing, now + limits.lingerMilliseconds)
            }
            if let evicted = table.add(message.fd, state, deadline: deadline, now: now) {
                drops.note("\(maxConnections) connections waiting; closed the oldest", log: log)
                Syscall.closeAfterUse(evicted)
            }
        }
    }

    /// Looks at what a waiting connection has received and moves it on: to a worker, back to
    /// waiting, or out.
    private func look(_ fd: Int32, _ table: inout ConnectionTable, _ buffer: inout [UInt8], now: Int64) {
        switch Self.arrival(fd, &buffer) {
        case .complete:
            table.remove(fd)
            var message = fd
            // 4 bytes, below PIPE_BUF: written whole or not at all (EAGAIN: the pipe is full).
            if (try? Syscall.check("write") { unsafe write(ready.write, &message, 4) }) != 4 {
                drops.note("the workers are not keeping up", log: log)
                Syscall.closeAfterUse(fd)
            }
        case .nothing:
            break
        case .partial:
            table.partial(fd, now: now, headTimeout: limits.requestMilliseconds)
        case .closed:
            finish(fd, &table)
        case .invalid(let why):
            drops.note(why, log: log)
            finish(fd, &table)
        }
    }

    private func finish(_ fd: Int32, _ table: inout ConnectionTable) {
        table.remove(fd)
        Syscall.closeAfterUse(fd)
    }

    /// Linux POLLRDHUP (peer shut down its writing side); Glibc's module map leaves it out.
    static let pollReadHangUp: Int16 = 0x2000
}

/// Both ends of a pipe.
struct Pipe {
    var read: Int32 = -1
    var write: Int32 = -1

    static func make(nonBlocking: Bool) -> Pipe? {
        var fds: [Int32] = [-1, -1]
        // pipe writes exactly two descriptors into the two-element array.
        guard (try? Syscall.check("pipe") { unsafe pipe(&fds) }) != nil else { return nil }
        do {
            for fd in fds {
                try Syscall.check("fcntl F_SETFD") { fcntl(fd, F_SETFD, FD_CLOEXEC) }
                if nonBlocking { try setNonBlocking(fd) }
            }
        } catch {
            for fd in fds { Syscall.closeAfterUse(fd) }
            return nil
        }
        return Pipe(read: fds[0], write: fds[1])
    }

    /// Sets O_NONBLOCK on `fd`, keeping its other status flags.
    static func setNonBlocking(_ fd: Int32) throws(SystemError) {
        let flags = try Syscall.check("fcntl F_GETFL") { fcntl(fd, F_GETFL) }
        try Syscall.check("fcntl F_SETFL") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }
}

/// Logs dropped connections at most once a second, so a flood of garbage cannot flood the log.
final class DropLog: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var last = Date.distantPast

    func note(_ why: String, log: @Sendable (String) -> Void) {
        lock.lock()
        count += 1
        let now = Date()
        guard now.timeIntervalSince(last) >= 1 else {
            lock.unlock()
            return
        }
        let n = count
        count = 0
        last = now
        lock.unlock()
        log("keyward[KW0404]: dropped \(n) FastCGI connection\(n == 1 ? "" : "s") since the last report; latest: \(why)")
    }
}

/// Request params and body of one FastCGI request; values are copied out of libfcgi's buffers.
@safe struct FCGIParams: ParamSource {
    let request: UnsafeMutablePointer<FCGX_Request>

    /// A value that is not valid UTF-8 reads as a lone NUL, which every parser downstream refuses
    /// (a path is not absolute, a credential is malformed): never repaired into something valid.
    func param(_ name: StaticString) -> String? {
        // A string literal's static, NUL-terminated storage; the value is copied out of envp.
        let cName = unsafe UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
        guard let value = unsafe FCGX_GetParam(cName, request.pointee.envp) else { return nil }
        return unsafe String(validatingCString: value) ?? "\u{0}"
    }

    func readBody(limit: Int) -> [UInt8]? {
        var body: [UInt8] = []
        var chunk = [CChar](repeating: 0, count: 8192)
        while body.count <= limit {
            let n = unsafe chunk.withUnsafeMutableBufferPointer { unsafe FCGX_GetStr($0.baseAddress, Int32($0.count), request.pointee.in) }
            if n <= 0 { break }
            body += chunk[0..<Int(n)].map { UInt8(bitPattern: $0) }
        }
        return body.count <= limit ? body : nil
    }

    /// Reads and discards the rest of FCGI_STDIN, at most `limit` bytes; true when it ended cleanly.
    func skipInput(limit: Int) -> Bool {
        var chunk = [CChar](repeating: 0, count: 8192)
        var skipped = 0
        while skipped <= limit {
            let n = unsafe chunk.withUnsafeMutableBufferPointer { unsafe FCGX_GetStr($0.baseAddress, Int32($0.count), request.pointee.in) }
            if n <= 0 { return unsafe FCGX_GetError(request.pointee.in) == 0 }
            skipped += Int(n)
        }
        return false
    }
}

/// Plain CGI (RFC 3875): one request from the environment and stdin, the reply on stdout.
public enum CGIRunner {
    /// True when a web server runs this process as a CGI program (RFC 3875 §4.1.4, §4.1.12).
    public static var isCGI: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["GATEWAY_INTERFACE"] != nil && env["REQUEST_METHOD"] != nil
    }

    /// Where the web server mounted this program, for links, redirects and the cookie's `Path`
    /// when no `--mount` is configured: `SCRIPT_NAME` (RFC 3875 §4.1.13), which is the URL path
    /// of `ScriptAlias /keyward /usr/local/bin/keyward` while `PATH_INFO` (`/admin/login`) is what
    /// Keyward routes by. nil when there is none, or it is more than a plain path (it ends up in
    /// a `Set-Cookie` attribute and in every link).
    public static var mount: String? { mount(scriptName: ProcessInfo.processInfo.environment["SCRIPT_NAME"]) }

    static func mount(scriptName: String?) -> String? {
        guard let name = scriptName, name.hasPrefix("/"), name.utf8.count <= 256,
            name.utf8.allSatisfy({ byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || "/-._~".utf8.contains(byte)
            }),
            !name.split(separator: "/").contains(where: { $0 == "." || $0 == ".." })
        else { return nil }
        return name
    }

    /// Answers the one request.
    public static func run(gateway: Gateway) {
        let env = ProcessInfo.processInfo.environment
        let params = StdinParams(values: env)
        // sigaction fails only for an invalid signal number or a bad pointer, neither possible here.
        do { try Syscall.ignore(signal: SIGPIPE) } catch { fatalError("cannot ignore SIGPIPE: \(error)") }
        let reply = gateway.respond(params, role: .responder)
        // A request refused before its body was read (another Origin, too large) leaves the body
        // unread: exiting then would make mod_cgid's socket reset and cut the reply short. Read
        // the rest first, up to a bound (the server's own body limit is lower).
        params.skipUnread(limit: drainLimit)
        // The server may be gone already; there is nobody left to tell.
        try? FileHandle.standardOutput.write(contentsOf: Data(reply))
    }

    /// Most bytes of an unread body read and dropped before answering.
    static let drainLimit = 4 << 20

    struct StdinParams: ParamSource {
        let values: [String: String]
        /// Bytes of the body read so far.
        let consumed = Counter()
        final class Counter: @unchecked Sendable { var count = 0 }

        func param(_ name: StaticString) -> String? { values[name.description] }
        func param(named name: String) -> String? { values[name] }
        func readBody(limit: Int) -> [UInt8]? {
            guard let length = values["CONTENT_LENGTH"].flatMap(Int.init), length > 0 else { return [] }
            guard length <= limit, consumed.count == 0 else { return nil }
            let data = FileHandle.standardInput.readData(ofLength: length)
            consumed.count += data.count
            return data.count == length ? Array(data) : nil
        }

        /// Reads and drops what is left of `CONTENT_LENGTH`, at most `limit` bytes.
        func skipUnread(limit: Int) {
            guard let length = values["CONTENT_LENGTH"].flatMap(Int.init), length > consumed.count else { return }
            var left = min(length - consumed.count, limit)
            while left > 0 {
                let chunk = FileHandle.standardInput.readData(ofLength: min(left, 64 * 1024))
                if chunk.isEmpty { return }
                left -= chunk.count
                consumed.count += chunk.count
            }
        }
    }
}
