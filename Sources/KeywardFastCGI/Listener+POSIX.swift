#if canImport(Glibc)
    import Glibc
#endif

/// Where to listen: a unix socket path or a TCP host and port.
public enum ListenAddress: Equatable, Sendable, CustomStringConvertible {
    case unix(path: String)
    case tcp(host: String, port: UInt16)

    /// Parses `unix:PATH`, `HOST:PORT` or `[V6]:PORT`. A bare `:PORT` is refused: libfcgi would
    /// bind every interface for it, and Keyward never does that implicitly.
    public init?(_ text: String) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard path.hasPrefix("/") || path.hasPrefix("."), path.utf8.count < 108 else { return nil }
            self = .unix(path: path)
            return
        }
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let portText = text[text.index(after: colon)...]
        guard !portText.isEmpty, portText.allSatisfy(\.isASCIIDigit), let port = UInt16(portText), port > 0 else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            return nil  // an IPv6 host must be bracketed: `::1:80` is ambiguous
        }
        guard !host.isEmpty else { return nil }
        self = .tcp(host: host, port: port)
    }

    /// The text `init?(_:)` accepts: `unix:PATH`, `HOST:PORT`, or `[V6]:PORT` for an IPv6 host.
    public var description: String {
        switch self {
        case .unix(let path): "unix:\(path)"
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}

/// A failure to set up the listening socket, with the reason from the system.
public struct ListenError: Error, CustomStringConvertible {
    /// What failed, with the `strerror` / `gai_strerror` text.
    public let description: String
}

/// Creates listening sockets with Keyward's own checks instead of `FCGX_OpenSocket`, which binds
/// every interface for `:port`, calls `exit()` on a bind error and silently unlinks a live socket.
public enum Listener {
    /// Socket file ownership and mode for unix sockets.
    public struct UnixOptions: Sendable {
        /// Permission bits for the socket file (default 0660: owner and group may connect).
        public var mode: mode_t
        /// Group to own the socket file (e.g. the web server's); nil keeps the process's group.
        public var group: String?
        /// Defaults: mode 0660, group unchanged.
        public init(mode: mode_t = 0o660, group: String? = nil) {
            self.mode = mode
            self.group = group
        }
    }

    /// A listening socket for `address`; refuses to take over a unix socket a live server answers on.
    public static func open(
        _ address: ListenAddress, unix options: UnixOptions = UnixOptions(),
        backlog: Int32 = 1024
    ) throws(ListenError) -> Int32 {
        switch address {
        case .unix(let path): try openUnix(path: path, options: options, backlog: backlog)
        case .tcp(let host, let port): try openTCP(host: host, port: port, backlog: backlog)
        }
    }

    /// True when `fd` is a listening socket (spawn-fcgi and systemd hand one over as fd 0 or 3).
    public static func isListeningSocket(_ fd: Int32) -> Bool {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        // ENOTSOCK, EBADF: not a socket, so not a listening one.
        guard (try? Syscall.check("getsockopt") { unsafe getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &length) }) != nil
        else { return false }
        return value != 0
    }

    /// Runs `body` with `error` as a `ListenError`.
    private static func listening<T>(_ body: () throws(SystemError) -> T) throws(ListenError) -> T {
        do throws(SystemError) { return try body() } catch { throw ListenError(description: error.description) }
    }

    private static func withUnixAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        // ListenAddress keeps the path below 108 bytes (sun_path), so it and its NUL fit.
        unsafe withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            unsafe raw.copyBytes(from: path.utf8)
            unsafe raw[path.utf8.count] = 0
        }
        return unsafe withUnsafePointer(to: &addr) {
            unsafe $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { unsafe body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    private static func streamSocket(_ family: Int32) throws(SystemError) -> Int32 {
        try Syscall.check("socket") { socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
    }

    private static func openUnix(path: String, options: UnixOptions, backlog: Int32) throws(ListenError) -> Int32 {
        var info = stat()
        let exists = try listening { () throws(SystemError) -> Bool in
            do throws(SystemError) {
                try Syscall.check("lstat \(path)") { unsafe lstat(path, &info) }
                return true
            } catch  where error.code == ENOENT {
                return false
            }
        }
        if exists {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw ListenError(description: "\(path) exists and is not a socket")
            }
            let probe = try listening { () throws(SystemError) in try streamSocket(AF_UNIX) }
            // A refused connection (ECONNREFUSED) is a stale socket; connect is not retried on EINTR.
            let live = (try? Syscall.check("connect", retry: false) { unsafe withUnixAddress(path) { unsafe connect(probe, $0, $1) } }) != nil
            Syscall.closeAfterUse(probe)  // a probe: nothing was sent
            if live { throw ListenError(description: "another server is listening on \(path)") }
            _ = try listening { () throws(SystemError) in try Syscall.check("unlink stale socket \(path)") { unsafe unlink(path) } }
        }
        let fd = try listening { () throws(SystemError) in try streamSocket(AF_UNIX) }
        do throws(SystemError) {
            // umask cannot fail; it returns the previous mask, restored at once.
            let previous = umask(0o177)
            defer { umask(previous) }
            try Syscall.check("bind \(path)") { unsafe withUnixAddress(path) { unsafe bind(fd, $0, $1) } }
        } catch {
            Syscall.closeAfterUse(fd)
            throw ListenError(description: error.description)
        }
        do throws(ListenError) {
            var gid: gid_t = gid_t.max
            if let group = options.group {
                // getgrnam's entry lives in static storage until the next call; only the gid is kept.
                guard let entry = unsafe getgrnam(group) else { throw ListenError(description: "no such group: \(group)") }
                gid = unsafe entry.pointee.gr_gid
            }
            try listening { () throws(SystemError) in
                try Syscall.check("set mode of \(path)") { unsafe chmod(path, options.mode) }
                if gid != gid_t.max { try Syscall.check("set group of \(path)") { unsafe chown(path, uid_t.max, gid) } }
                try Syscall.check("listen") { listen(fd, backlog) }
            }
        } catch {
            Syscall.closeAfterUse(fd)
            _ = try? Syscall.check("unlink \(path)") { unsafe unlink(path) }  // best effort: the socket is unusable
            throw error
        }
        return fd
    }

    private static func openTCP(host: String, port: UInt16, backlog: Int32) throws(ListenError) -> Int32 {
        var hints = unsafe addrinfo()
        unsafe hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        unsafe hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        // getaddrinfo reports its own error codes, not errno.
        let rc = unsafe getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let first = unsafe result else {
            throw ListenError(description: "cannot resolve \(host): \(unsafe String(cString: gai_strerror(rc)))")
        }
        defer { unsafe freeaddrinfo(result) }
        let fd = try listening { () throws(SystemError) in try streamSocket(unsafe first.pointee.ai_family) }
        do throws(SystemError) {
            var one: Int32 = 1
            try Syscall.check("setsockopt SO_REUSEADDR") {
                unsafe setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            // first stays valid until freeaddrinfo, after bind.
            try Syscall.check("bind \(host):\(port)") { unsafe bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) }
            try Syscall.check("listen") { listen(fd, backlog) }
        } catch {
            Syscall.closeAfterUse(fd)
            throw ListenError(description: error.description)
        }
        return fd
    }

    /// Options accepted sockets inherit: I/O timeouts bound how long a silent peer can hold a
    /// worker, and the receive buffer holds a whole request head for `RecordGuard` to peek at.
    public static func tuneForAccept(_ fd: Int32, timeoutSeconds seconds: Int, receiveBuffer: Int32) throws {
        var size = receiveBuffer
        try Syscall.check("setsockopt SO_RCVBUF") { unsafe setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        try Syscall.check("setsockopt SO_RCVTIMEO") { unsafe setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) }
        try Syscall.check("setsockopt SO_SNDTIMEO") { unsafe setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
