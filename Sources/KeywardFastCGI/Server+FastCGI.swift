internal import CFastCGI
import Foundation
import KeywardGateway
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The FastCGI accept loop: one `FCGX_Request` per worker thread, all serving one listening
/// socket, SIGTERM/SIGINT handled by a `sigwait` thread.
///
/// Keyward accepts connections and vets each request head itself (`RecordGuard`) before libfcgi
/// parses it; libfcgi is given no listening socket, so none of its error paths can accept an
/// unguarded connection. Workers wait in `poll` on the listener and a wake pipe, so stopping never
/// has to shut down a socket that systemd or spawn-fcgi handed over and still owns.
///
/// Thread entry points live here, not in `main.swift`: top-level code there is MainActor-isolated in
/// Swift 6 and traps when run on a worker thread (INTEGRATION.md §7).
public final class FastCGIServer: @unchecked Sendable {
    private let listenFD: Int32
    private let gateways: [Gateway]
    private let log: @Sendable (String) -> Void
    private var requests: [UnsafeMutablePointer<FCGX_Request>] = []
    private var wake: (read: Int32, write: Int32) = (-1, -1)
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchGroup()
    private let drops = DropLog()

    /// Largest request head (begin record and all params) Keyward accepts.
    static let headLimit = 128 * 1024
    /// How long a new connection may take to send its whole head, in milliseconds.
    static let headTimeout: Int32 = 2_000
    /// How long a kept-alive connection may sit idle between requests, in milliseconds.
    static let idleTimeout: Int32 = 60_000

    /// `gateways` has one entry per worker thread; each is used by its thread only.
    public init(listenFD: Int32, gateways: [Gateway], log: @escaping @Sendable (String) -> Void) {
        self.listenFD = listenFD
        self.gateways = gateways
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

    /// Serves until SIGTERM or SIGINT, lets in-flight requests finish (up to `grace` seconds), and
    /// returns true when every worker has finished.
    @discardableResult
    public func run(grace: TimeInterval = 10) -> Bool {
        var pipeFDs: [Int32] = [-1, -1]
        guard FCGX_Init() == 0, pipe(&pipeFDs) == 0 else {
            log("keyward[KW0401]: cannot set up FastCGI (FCGX_Init or pipe failed)")
            return false
        }
        wake = (pipeFDs[0], pipeFDs[1])
        _ = fcntl(listenFD, F_SETFL, fcntl(listenFD, F_GETFL) | O_NONBLOCK)
        Listener.tuneForAccept(listenFD, timeoutSeconds: 10, receiveBuffer: Int32(Self.headLimit * 2))
        requests = gateways.indices.map { _ in
            let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
            FCGX_InitRequest(request, -1, 0)  // no listening socket: only Keyward accepts
            return request
        }
        for index in gateways.indices {
            done.enter()
            let thread = Thread { [self] in
                work(index)
                done.leave()
            }
            thread.name = "keyward-worker-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
        waitForSignal()
        stopping.store(true, ordering: .sequentiallyConsistent)
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)  // never read: the pipe stays readable and wakes every poll
        if done.wait(timeout: .now() + grace) == .timedOut {
            log("keyward[KW0403]: workers still busy after \(Int(grace))s; exiting anyway")
            return false
        }
        return true
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

    private func work(_ index: Int) {
        let request = requests[index]
        let gateway = gateways[index]
        var head = [UInt8](repeating: 0, count: Self.headLimit)
        while !isStopping() {
            guard prepareConnection(request, buffer: &head) else { continue }
            guard FCGX_Accept_r(request) >= 0 else { continue }
            let params = FCGIParams(request: request)
            let bytes = gateway.respond(params, role: Role(fcgiRole: params.param("FCGI_ROLE")))
            bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) {
                    _ = FCGX_PutStr($0.baseAddress, Int32($0.count), request.pointee.out)
                }
            }
            FCGX_Finish_r(request)
        }
        request.pointee.keepConnection = 0
        FCGX_Finish_r(request)  // closes a kept-alive connection
    }

    /// Linux POLLRDHUP (peer shut down its writing side); Glibc's module map leaves it out.
    static let pollReadHangUp: Int16 = 0x2000

    /// Gives `request` a connection whose head has passed `RecordGuard`: the kept-alive one it
    /// has, or a newly accepted one. False when there is none to serve (the caller loops).
    private func prepareConnection(_ request: UnsafeMutablePointer<FCGX_Request>, buffer: inout [UInt8]) -> Bool {
        var fd = request.pointee.ipcFd
        let keptAlive = fd >= 0
        if !keptAlive {
            guard waitReadable(listenFD, timeout: -1) else { return false }
            fd = accept(listenFD, nil, nil)
            guard fd >= 0 else {
                // EAGAIN: another worker took it. EMFILE and the like: back off briefly.
                if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED { usleep(10_000) }
                return false
            }
            request.pointee.ipcFd = fd
        }
        let verdict = awaitHead(fd, buffer: &buffer, firstByteTimeout: keptAlive ? Self.idleTimeout : Self.headTimeout)
        guard verdict == .valid else {
            if case .invalid(let why) = verdict { drops.note(why, log: log) }
            close(fd)
            request.pointee.ipcFd = -1
            request.pointee.keepConnection = 0
            return false
        }
        // Make FCGX_Accept_r's own FCGX_Finish_r keep this fd instead of closing it.
        request.pointee.keepConnection = 1
        return true
    }

    /// Waits until `fd` is readable (true) or the server stops or `timeout` ms pass (false).
    private func waitReadable(_ fd: Int32, timeout: Int32) -> Bool {
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
        while true {
            let n = poll(&fds, 2, timeout)
            if n < 0 && errno == EINTR { continue }
            return n > 0 && fds[1].revents == 0 && fds[0].revents != 0
        }
    }

    /// Peeks until the request head is complete, proven invalid, the peer hangs up, or the time is up.
    private func awaitHead(_ fd: Int32, buffer: inout [UInt8], firstByteTimeout: Int32) -> RecordGuard.Verdict {
        func peek() -> Int {
            buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) }
        }
        // Web servers send the head in one write, so it is usually there already: try first, poll after.
        var n = peek()
        if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
            guard waitReadable(fd, timeout: firstByteTimeout) else {
                return isStopping() ? .incomplete(atLeast: 1) : .invalid("no request within the timeout")
            }
            n = peek()
        }
        var poller = pollfd(fd: fd, events: Self.pollReadHangUp, revents: 0)
        var pause: UInt32 = 100
        var waited: UInt32 = 0
        while true {
            if n <= 0 { return .incomplete(atLeast: 1) }  // closed or failed: nothing to serve
            let verdict = buffer.withUnsafeBytes {
                RecordGuard.check(UnsafeRawBufferPointer(rebasing: $0[0..<n]), limit: Self.headLimit)
            }
            guard case .incomplete = verdict else { return verdict }
            poller.revents = 0
            if poll(&poller, 1, 0) == 1 && poller.revents & (Self.pollReadHangUp | Int16(POLLHUP) | Int16(POLLERR)) != 0 {
                return .invalid("truncated request head")
            }
            guard waited < UInt32(Self.headTimeout) * 1_000, !isStopping() else { return .invalid("request head incomplete") }
            usleep(pause)
            waited += pause
            pause = min(pause * 2, 50_000)
            n = peek()
        }
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
