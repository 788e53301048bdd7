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
public final class FastCGIServer: @unchecked Sendable {
    private let listenFD: Int32
    private let gateways: [Gateway]
    private let maxConnections: Int
    private let log: @Sendable (String) -> Void
    private var requests: [UnsafeMutablePointer<FCGX_Request>] = []
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
    public init(listenFD: Int32, gateways: [Gateway], maxConnections: Int = 4_096, limits: Limits,
                log: @escaping @Sendable (String) -> Void) {
        self.limits = limits
        self.listenFD = listenFD
        self.gateways = gateways
        self.maxConnections = max(1, maxConnections)
        self.log = log
    }

    /// Blocks SIGTERM, SIGINT and SIGPIPE for the calling thread and every thread it starts later.
    /// Call first thing in `main`, before any thread exists.
    public static func blockSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Raises the soft limit on open files to the hard limit and returns it: every waiting
    /// connection holds a file descriptor.
    public static func raiseFileLimit() -> Int {
        let files = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        guard getrlimit(files, &limit) == 0 else { return 1_024 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            if setrlimit(files, &limit) != 0 { _ = getrlimit(files, &limit) }
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
        _ = fcntl(listenFD, F_SETFL, fcntl(listenFD, F_GETFL) | O_NONBLOCK)
        Listener.tuneForAccept(listenFD, timeoutSeconds: 10, receiveBuffer: Int32(limits.requestHeadBytes * 2))
        requests = gateways.indices.map { _ in
            let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
            FCGX_InitRequest(request, -1, 0)  // no listening socket: only Keyward accepts
            return request
        }
        startThread("keyward-dispatcher") { [self] in dispatch() }
        for index in gateways.indices {
            startThread("keyward-worker-\(index)") { [self] in work(index) }
        }
        waitForSignal()
        stopping.store(true, ordering: .sequentiallyConsistent)
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
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
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        var signal: Int32 = 0
        while sigwait(&set, &signal) != 0 {}
        log("keyward[KW0402]: signal \(signal) received, shutting down")
    }

    private func isStopping() -> Bool { stopping.load(ordering: .relaxed) }

    private static func milliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000 + Int64(now.tv_nsec) / 1_000_000
    }

    // MARK: Workers

    private func work(_ index: Int) {
        let request = requests[index]
        let gateway = gateways[index]
        var buffer = [UInt8](repeating: 0, count: limits.requestHeadBytes)
        while !isStopping() {
            guard var fd = nextConnection(&buffer) else { continue }
            // Serve it, and again while its next request is already there.
            while let kept = serve(fd, request, gateway) {
                if isStopping() { close(kept); break }
                let arrival = Self.arrival(kept, &buffer)
                if arrival == .complete { fd = kept; continue }
                settle(kept, arrival, idle: true)
                break
            }
        }
    }

    /// A connection whose whole request is in: one the dispatcher readied, or a newly accepted
    /// one. Nil when there is none (the caller loops); what is not ready yet goes to the dispatcher.
    private func nextConnection(_ buffer: inout [UInt8]) -> Int32? {
        var fds = [pollfd(fd: ready.read, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
        guard poll(&fds, 3, -1) > 0, fds[2].revents == 0 else { return nil }
        if fds[0].revents != 0 {
            var fd: Int32 = -1
            if read(ready.read, &fd, 4) == 4 { return fd }  // EAGAIN: another worker took it
        }
        guard fds[1].revents != 0 else { return nil }
        let fd = accept(listenFD, nil, nil)
        guard fd >= 0 else {
            // EAGAIN: another worker took it. EMFILE and the like: back off briefly.
            if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED { usleep(10_000) }
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
        request.pointee.ipcFd = fd
        request.pointee.keepConnection = 1  // FCGX_Accept_r first finishes the previous request: keep this fd
        guard FCGX_Accept_r(request) >= 0 else { return nil }  // libfcgi closed the connection
        let params = FCGIParams(request: request)
        let role = Role(fcgiRole: params.param("FCGI_ROLE"))
        let bytes = gateway.respond(params, role: role)
        bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                _ = FCGX_PutStr($0.baseAddress, Int32($0.count), request.pointee.out)
            }
        }
        // A kept-alive connection's next request must start at a record boundary, but libfcgi
        // reads in 8 KiB pieces and may have stopped right before FCGI_STDIN's end: read it
        // (isComplete saw it arrive, so this does not wait). An authorizer gets no FCGI_STDIN.
        let keep = request.pointee.keepConnection != 0 && (role == .authorizer || params.skipInput(limit: limits.requestHeadBytes))
        request.pointee.keepConnection = 1  // Keyward closes the connection itself, without blocking
        FCGX_Finish_r(request)
        let open = request.pointee.ipcFd
        request.pointee.ipcFd = -1
        guard open >= 0 else { return nil }  // a write failed and libfcgi closed it
        if keep { return open }
        if !Self.hasPending(open) {
            close(open)
        } else {
            // Unread bytes would make close() send a reset, which can destroy the response on its
            // way: shut down our side and let the dispatcher drain the peer's.
            shutdown(open, Int32(SHUT_WR))
            park(open, .closing)
        }
        return nil
    }

    /// Passes a connection whose request is not (all) there to the dispatcher, or closes it.
    private func settle(_ fd: Int32, _ arrival: Arrival, idle: Bool) {
        switch arrival {
        case .complete: preconditionFailure("a complete request is served, not settled")
        case .nothing: park(fd, idle ? .idle : .new)
        case .partial: park(fd, .partial)
        case .closed: close(fd)
        case .invalid(let why):
            drops.note(why, log: log)
            close(fd)
        }
    }

    private func park(_ fd: Int32, _ kind: Parked.Kind) {
        var message = Parked(fd: fd, kind: kind)
        if write(parking.write, &message, MemoryLayout<Parked>.size) != MemoryLayout<Parked>.size {
            drops.note("the dispatcher is not keeping up", log: log)
            close(fd)
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
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) }
        if n < 0 { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? .nothing : .closed }
        if n == 0 { return .closed }
        return buffer.withUnsafeBytes { raw in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[0..<n])
            switch RecordGuard.check(bytes, limit: raw.count) {
            case .invalid(let why): return .invalid(why)
            case .incomplete: return .partial
            case .valid: return RecordGuard.isComplete(bytes, window: raw.count) ? .complete : .partial
            }
        }
    }

    /// True when `fd` has received bytes nobody has read (or the peer closed).
    static func hasPending(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) >= 0
    }

    // MARK: The dispatcher

    /// A connection a worker hands to the dispatcher, written whole into a pipe (atomic below PIPE_BUF).
    struct Parked {
        enum Kind: Int32 { case new, idle, partial, closing }
        var fd: Int32
        var rawKind: Int32
        init(fd: Int32, kind: Kind) { self.fd = fd; self.rawKind = kind.rawValue }
        init() { fd = -1; rawKind = 0 }
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
            guard poll(&fds, nfds_t(fds.count), Int32(timeout)) >= 0 || errno == EINTR else { continue }
            now = Self.milliseconds()
            if fds[1].revents != 0 { stopped = true }
            if fds[0].revents != 0 { receiveParked(&table, now: now) }
            for entry in fds.dropFirst(2) where entry.revents != 0 {
                guard let state = table.entries[entry.fd]?.state else { continue }
                switch state {
                case .closing:
                    let n = buffer.withUnsafeMutableBytes { recv(entry.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { finish(entry.fd, &table) }
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
                close(fd)
            }
        }
        for fd in table.entries.keys { close(fd) }
    }

    /// Takes in the connections workers parked.
    private func receiveParked(_ table: inout ConnectionTable, now: Int64) {
        var message = Parked()
        while read(parking.read, &message, MemoryLayout<Parked>.size) == MemoryLayout<Parked>.size {
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
                close(evicted)
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
            if write(ready.write, &message, 4) != 4 {
                drops.note("the workers are not keeping up", log: log)
                close(fd)
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
        close(fd)
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
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            if nonBlocking { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        }
        return Pipe(read: fds[0], write: fds[1])
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
        guard now.timeIntervalSince(last) >= 1 else { lock.unlock(); return }
        let n = count
        count = 0
        last = now
        lock.unlock()
        log("keyward[KW0404]: dropped \(n) FastCGI connection\(n == 1 ? "" : "s") since the last report; latest: \(why)")
    }
}

/// Request params and body of one FastCGI request; values are copied out of libfcgi's buffers.
struct FCGIParams: ParamSource {
    let request: UnsafeMutablePointer<FCGX_Request>

    /// A value that is not valid UTF-8 reads as a lone NUL, which every parser downstream refuses
    /// (a path is not absolute, a credential is malformed): never repaired into something valid.
    func param(_ name: StaticString) -> String? {
        let cName = UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
        guard let value = FCGX_GetParam(cName, request.pointee.envp) else { return nil }
        return String(validatingCString: value) ?? "\u{0}"
    }

    func readBody(limit: Int) -> [UInt8]? {
        var body: [UInt8] = []
        var chunk = [CChar](repeating: 0, count: 8192)
        while body.count <= limit {
            let n = chunk.withUnsafeMutableBufferPointer { FCGX_GetStr($0.baseAddress, Int32($0.count), request.pointee.in) }
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
            let n = chunk.withUnsafeMutableBufferPointer { FCGX_GetStr($0.baseAddress, Int32($0.count), request.pointee.in) }
            if n <= 0 { return FCGX_GetError(request.pointee.in) == 0 }
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

    /// Answers the one request.
    public static func run(gateway: Gateway) {
        let env = ProcessInfo.processInfo.environment
        let params = StdinParams(values: env)
        signal(SIGPIPE, SIG_IGN)
        // The server may be gone already; there is nobody left to tell.
        try? FileHandle.standardOutput.write(contentsOf: Data(gateway.respond(params, role: .responder)))
    }

    struct StdinParams: ParamSource {
        let values: [String: String]
        func param(_ name: StaticString) -> String? { values[name.description] }
        func readBody(limit: Int) -> [UInt8]? {
            guard let length = values["CONTENT_LENGTH"].flatMap(Int.init), length > 0 else { return [] }
            guard length <= limit else { return nil }
            let data = FileHandle.standardInput.readData(ofLength: length)
            return data.count == length ? Array(data) : nil
        }
    }
}
