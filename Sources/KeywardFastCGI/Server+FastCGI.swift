internal import CFastCGI
import Foundation
import KeywardGateway
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The FastCGI accept loop: one `FCGX_Request` per worker thread, all accepting on one listening
/// socket (libfcgi on Debian needs no accept lock), SIGTERM/SIGINT handled by a `sigwait` thread.
///
/// Thread entry points live here, not in `main.swift`: top-level code there is MainActor-isolated in
/// Swift 6 and traps when run on a worker thread (INTEGRATION.md §7).
public final class FastCGIServer: @unchecked Sendable {
    private let listenFD: Int32
    private let gateways: [Gateway]
    private let log: @Sendable (String) -> Void
    private var slots: [WorkerSlot] = []
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchGroup()

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

    /// Serves until SIGTERM or SIGINT, lets in-flight requests finish (up to `grace` seconds), and returns.
    public func run(grace: TimeInterval = 10) {
        guard FCGX_Init() == 0 else {
            log("keyward[KW0401]: FCGX_Init failed")
            return
        }
        Listener.tuneForAccept(listenFD, timeoutSeconds: 30, receiveBuffer: Int32(Self.headLimit * 2))
        slots = gateways.indices.map { _ in WorkerSlot(listenFD: listenFD) }
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
        stop()
        if done.wait(timeout: .now() + grace) == .timedOut {
            log("keyward[KW0403]: workers still busy after \(Int(grace))s; exiting anyway")
        }
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

    /// Stops accepting, wakes the threads in accept(), and closes idle kept-alive connections.
    private func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        FCGX_ShutdownPending()
        shutdown(listenFD, Int32(SHUT_RDWR))
        for slot in slots {
            slot.withLock { busy, request in
                if !busy && request.pointee.ipcFd >= 0 { shutdown(request.pointee.ipcFd, Int32(SHUT_RDWR)) }
            }
        }
    }

    private func isStopping() -> Bool { stopping.load(ordering: .relaxed) }

    private func work(_ index: Int) {
        let slot = slots[index]
        let request = slot.request
        let gateway = gateways[index]
        var head = [UInt8](repeating: 0, count: Self.headLimit)
        while !isStopping() {
            guard prepareConnection(slot, buffer: &head) else { continue }
            // libfcgi reads the connection prepared above: Keyward accepts and vets it, so
            // FCGX_Accept_r neither accepts nor ever sees a head that would crash it.
            guard FCGX_Accept_r(request) >= 0 else { continue }
            slot.withLock { busy, _ in busy = true }
            let params = FCGIParams(request: request)
            let bytes = gateway.respond(params, role: Role(fcgiRole: params.param("FCGI_ROLE")))
            bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) {
                    _ = FCGX_PutStr($0.baseAddress, Int32($0.count), request.pointee.out)
                }
            }
            FCGX_Finish_r(request)
            slot.withLock { busy, _ in busy = false }
        }
        FCGX_Finish_r(request)
    }

    /// Linux POLLRDHUP (peer shut down its writing side); Glibc's module map leaves it out.
    static let pollReadHangUp: Int16 = 0x2000

    /// Largest request head (begin record and all params) Keyward accepts.
    static let headLimit = 128 * 1024

    /// Gives `request` a connection whose head has passed `RecordGuard`: the kept-alive one it
    /// has, or a newly accepted one. False when there is none to serve (the caller loops).
    private func prepareConnection(_ slot: WorkerSlot, buffer: inout [UInt8]) -> Bool {
        let request = slot.request
        var fd = request.pointee.ipcFd
        let keptAlive = fd >= 0
        if !keptAlive {
            fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno != EINTR && errno != ECONNABORTED && !isStopping() { usleep(10_000) }  // EMFILE and the like
                return false
            }
            slot.withLock { _, request in request.pointee.ipcFd = fd }
        }
        let verdict = Self.awaitHead(fd, buffer: &buffer, firstByteTimeout: keptAlive ? -1 : 30_000)
        if verdict != .valid {
            if case .invalid(let why) = verdict { log("keyward[KW0404]: dropped a FastCGI connection: \(why)") }
            slot.withLock { _, request in
                close(fd)
                request.pointee.ipcFd = -1
                request.pointee.keepConnection = 0
            }
            return false
        }
        // Make FCGX_Accept_r's own FCGX_Finish_r keep this fd instead of closing it.
        request.pointee.keepConnection = 1
        return true
    }

    /// Peeks until the request head is complete, proven invalid, the peer hangs up, or 5 s pass.
    private static func awaitHead(_ fd: Int32, buffer: inout [UInt8], firstByteTimeout: Int32) -> RecordGuard.Verdict {
        var poller = pollfd(fd: fd, events: Int16(POLLIN) | Self.pollReadHangUp, revents: 0)
        var pause: UInt32 = 100
        var waited: UInt32 = 0
        var first = true
        while true {
            // Web servers send the head in one write, so it is usually there already: try first, poll after.
            var n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) }
            if first && n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                guard poll(&poller, 1, firstByteTimeout) == 1 else { return .invalid("no request within the timeout") }
                n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) }
            }
            first = false
            if n <= 0 { return .incomplete(atLeast: 1) }  // closed or failed: nothing to serve
            let verdict = buffer.withUnsafeBytes { RecordGuard.check(UnsafeRawBufferPointer(rebasing: $0[0..<n]), limit: headLimit) }
            guard case .incomplete = verdict else { return verdict }
            poller.revents = 0
            if poll(&poller, 1, 0) == 1 && poller.revents & (Self.pollReadHangUp | Int16(POLLHUP) | Int16(POLLERR)) != 0 {
                return .invalid("truncated request head")
            }
            guard waited < 5_000_000 else { return .invalid("request head incomplete after 5 s") }
            usleep(pause)
            waited += pause
            pause = min(pause * 2, 50_000)
        }
    }
}

/// One worker's libfcgi request and whether it is serving one. Its lock is taken by the worker
/// and, only at shutdown, by the stopping thread: uncontended on the request path.
final class WorkerSlot: @unchecked Sendable {
    let request: UnsafeMutablePointer<FCGX_Request>
    private var busy = false
    private let lock = NSLock()

    init(listenFD: Int32) {
        request = .allocate(capacity: 1)
        FCGX_InitRequest(request, listenFD, 0)
    }

    func withLock(_ body: (inout Bool, UnsafeMutablePointer<FCGX_Request>) -> Void) {
        lock.lock()
        body(&busy, request)
        lock.unlock()
    }
}

/// Request params and body of one FastCGI request; values are copied out of libfcgi's buffers.
struct FCGIParams: ParamSource {
    let request: UnsafeMutablePointer<FCGX_Request>

    func param(_ name: StaticString) -> String? {
        let cName = UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
        guard let value = FCGX_GetParam(cName, request.pointee.envp) else { return nil }
        return String(cString: value)
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
    /// True when a web server runs this process as a CGI program.
    public static var isCGI: Bool { ProcessInfo.processInfo.environment["GATEWAY_INTERFACE"] != nil }

    /// Answers the one request.
    public static func run(gateway: Gateway) {
        let env = ProcessInfo.processInfo.environment
        let params = StdinParams(values: env)
        FileHandle.standardOutput.write(Data(gateway.respond(params, role: .responder)))
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
