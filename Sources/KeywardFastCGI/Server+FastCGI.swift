internal import CFastCGI
import Foundation
import KeywardGateway
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
    private let lock = NSLock()
    private var requests: [UnsafeMutablePointer<FCGX_Request>] = []
    private var busy: [Bool]
    private var stopping = false
    private let done = DispatchGroup()

    /// `gateways` has one entry per worker thread; each is used by its thread only.
    public init(listenFD: Int32, gateways: [Gateway], log: @escaping @Sendable (String) -> Void) {
        self.listenFD = listenFD
        self.gateways = gateways
        self.log = log
        self.busy = Array(repeating: false, count: gateways.count)
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
        Listener.setIOTimeout(listenFD, seconds: 30)
        for _ in gateways.indices {
            let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
            FCGX_InitRequest(request, listenFD, 0)
            requests.append(request)
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
        lock.lock()
        stopping = true
        FCGX_ShutdownPending()
        shutdown(listenFD, Int32(SHUT_RDWR))
        for (index, request) in requests.enumerated() where !busy[index] && request.pointee.ipcFd >= 0 {
            shutdown(request.pointee.ipcFd, Int32(SHUT_RDWR))
        }
        lock.unlock()
    }

    private func isStopping() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    private func work(_ index: Int) {
        let request = requests[index]
        let gateway = gateways[index]
        while true {
            let rc = FCGX_Accept_r(request)
            if rc < 0 {
                if isStopping() { break }
                // Transient accept failure (EMFILE, ECONNABORTED): back off briefly and go on.
                usleep(10_000)
                continue
            }
            lock.lock()
            busy[index] = true
            lock.unlock()
            let params = FCGIParams(request: request)
            let response = gateway.handle(params, role: Role(fcgiRole: params.param("FCGI_ROLE")))
            let bytes = response.serialized()
            bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) {
                    _ = FCGX_PutStr($0.baseAddress, Int32($0.count), request.pointee.out)
                }
            }
            FCGX_Finish_r(request)
            lock.lock()
            busy[index] = false
            let stopNow = stopping
            lock.unlock()
            if stopNow { break }
        }
        FCGX_Finish_r(request)
    }
}

/// Request params and body of one FastCGI request; values are copied out of libfcgi's buffers.
struct FCGIParams: ParamSource {
    let request: UnsafeMutablePointer<FCGX_Request>

    func param(_ name: String) -> String? {
        guard let value = FCGX_GetParam(name, request.pointee.envp) else { return nil }
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
        let response = gateway.handle(params, role: .responder)
        FileHandle.standardOutput.write(Data(response.serialized()))
    }

    struct StdinParams: ParamSource {
        let values: [String: String]
        func param(_ name: String) -> String? { values[name] }
        func readBody(limit: Int) -> [UInt8]? {
            guard let length = values["CONTENT_LENGTH"].flatMap(Int.init), length > 0 else { return [] }
            guard length <= limit else { return nil }
            let data = FileHandle.standardInput.readData(ofLength: length)
            return data.count == length ? Array(data) : nil
        }
    }
}
