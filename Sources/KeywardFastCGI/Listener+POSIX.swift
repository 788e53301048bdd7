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
    public static func open(_ address: ListenAddress, unix options: UnixOptions = UnixOptions(),
                            backlog: Int32 = 1024) throws -> Int32 {
        switch address {
        case .unix(let path): try openUnix(path: path, options: options, backlog: backlog)
        case .tcp(let host, let port): try openTCP(host: host, port: port, backlog: backlog)
        }
    }

    /// True when `fd` is a listening socket (spawn-fcgi and systemd hand one over as fd 0 or 3).
    public static func isListeningSocket(_ fd: Int32) -> Bool {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &length) == 0 && value != 0
    }

    private static func failure(_ what: String) -> ListenError {
        ListenError(description: "\(what): \(String(cString: strerror(errno)))")
    }

    private static func withUnixAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    private static func openUnix(path: String, options: UnixOptions, backlog: Int32) throws -> Int32 {
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw ListenError(description: "\(path) exists and is not a socket")
            }
            let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard probe >= 0 else { throw failure("socket") }
            let live = withUnixAddress(path) { connect(probe, $0, $1) } == 0
            close(probe)
            if live { throw ListenError(description: "another server is listening on \(path)") }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failure("socket") }
        let previous = umask(0o177)
        let bound = withUnixAddress(path) { bind(fd, $0, $1) }
        umask(previous)
        guard bound == 0 else { let e = failure("bind \(path)"); close(fd); throw e }
        var gid: gid_t = gid_t.max
        if let group = options.group {
            guard let entry = getgrnam(group) else { close(fd); unlink(path); throw ListenError(description: "no such group: \(group)") }
            gid = entry.pointee.gr_gid
        }
        guard chmod(path, options.mode) == 0, gid == gid_t.max || chown(path, uid_t.max, gid) == 0 else {
            let e = failure("set mode/group of \(path)"); close(fd); unlink(path); throw e
        }
        guard listen(fd, backlog) == 0 else { let e = failure("listen"); close(fd); unlink(path); throw e }
        return fd
    }

    private static func openTCP(host: String, port: UInt16, backlog: Int32) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw ListenError(description: "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(result) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failure("socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let e = failure("bind \(host):\(port)"); close(fd); throw e
        }
        guard listen(fd, backlog) == 0 else { let e = failure("listen"); close(fd); throw e }
        return fd
    }

    /// Options accepted sockets inherit: I/O timeouts bound how long a silent peer can hold a
    /// worker, and the receive buffer holds a whole request head for `RecordGuard` to peek at.
    public static func tuneForAccept(_ fd: Int32, timeoutSeconds seconds: Int, receiveBuffer: Int32) {
        var size = receiveBuffer
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
