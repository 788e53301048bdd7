/// Checks the head of a FastCGI request (FastCGI 1.0 §3, §5.1, §5.2) before libfcgi parses it.
///
/// libfcgi's `ReadParams` trusts each name-value pair's declared lengths: a pair declaring a
/// 2 GiB name makes its allocation overflow and the library abort the whole process. Keyward
/// therefore peeks at `FCGI_BEGIN_REQUEST` and the complete `FCGI_PARAMS` stream first and hands
/// the connection to libfcgi only when every pair fits inside the stream that was actually sent.
///
/// The head must be exactly what nginx, Apache and lighttpd send: one `FCGI_BEGIN_REQUEST` for a
/// responder or authorizer with a non-zero id, then `FCGI_PARAMS` records of that id ending with
/// an empty one. Management records, other ids and other roles are refused rather than left to
/// libfcgi, whose error paths would accept the next connection itself, unguarded.
enum RecordGuard {
    enum Verdict: Equatable {
        /// The head is complete and well-formed.
        case valid
        /// More bytes are needed; `atLeast` is the size the peek buffer must reach.
        case incomplete(atLeast: Int)
        /// Close the connection.
        case invalid(String)
    }

    static let headerLength = 8
    static let beginRequest: UInt8 = 1
    static let params: UInt8 = 4
    static let responderRole = 1, authorizerRole = 2

    /// Judges the bytes received so far (indexed from 0); `limit` bounds the whole head.
    static func check<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, limit: Int) -> Verdict where Bytes.Index == Int {
        precondition(bytes.startIndex == 0)
        var offset = 0
        var requestId: Int? = nil
        var paramsLength = 0
        var paramRanges: [Range<Int>] = []
        while offset + headerLength <= bytes.count {
            guard bytes[offset] == 1 else { return .invalid("unsupported FastCGI version") }
            let type = bytes[offset + 1]
            let id = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            let contentLength = Int(bytes[offset + 4]) << 8 | Int(bytes[offset + 5])
            let end = offset + headerLength + contentLength + Int(bytes[offset + 6])
            guard end <= limit else { return .invalid("request head larger than \(limit) bytes") }
            guard end <= bytes.count else { return .incomplete(atLeast: end) }
            let content = (offset + headerLength)..<(offset + headerLength + contentLength)
            switch type {
            case beginRequest:
                guard requestId == nil, contentLength == 8, id != 0 else { return .invalid("bad FCGI_BEGIN_REQUEST") }
                let role = Int(bytes[content.lowerBound]) << 8 | Int(bytes[content.lowerBound + 1])
                guard role == responderRole || role == authorizerRole else { return .invalid("unsupported FastCGI role \(role)") }
                requestId = id
            case params:
                guard let requestId else { return .invalid("FCGI_PARAMS before FCGI_BEGIN_REQUEST") }
                guard id == requestId else { return .invalid("FCGI_PARAMS for another request") }
                if contentLength == 0 {
                    return pairsFit(bytes, paramRanges, total: paramsLength) ? .valid : .invalid("malformed FCGI_PARAMS")
                }
                paramRanges.append(content)
                paramsLength += contentLength
            default:
                return .invalid("unexpected record type \(type) before the end of FCGI_PARAMS")
            }
            offset = end
        }
        return .incomplete(atLeast: offset + headerLength)
    }

    static let stdin: UInt8 = 5

    /// True when a request whose head `check` found valid has arrived whole, so serving it will
    /// not wait on the peer: an authorizer's at the end of its params (it gets no body), a
    /// responder's at its empty `FCGI_STDIN` record (FastCGI 1.0 §5.3). A request that fills the
    /// whole `window` counts as whole too: a larger body is read by the worker, under the
    /// socket's timeouts. Records other than `FCGI_STDIN` after the params are libfcgi's to judge.
    static func isComplete<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, window: Int) -> Bool where Bytes.Index == Int {
        precondition(bytes.startIndex == 0)
        if bytes.count >= window { return true }
        var offset = 0
        var authorizer = false
        var paramsEnded = false
        while offset + headerLength <= bytes.count {
            let type = bytes[offset + 1]
            let contentLength = Int(bytes[offset + 4]) << 8 | Int(bytes[offset + 5])
            let end = offset + headerLength + contentLength + Int(bytes[offset + 6])
            guard end <= bytes.count else { return false }
            switch type {
            case beginRequest:
                authorizer = Int(bytes[offset + headerLength]) << 8 | Int(bytes[offset + headerLength + 1]) == authorizerRole
            case params:
                if contentLength == 0 {
                    paramsEnded = true
                    if authorizer { return true }
                }
            case stdin:
                if contentLength == 0 && paramsEnded { return true }
            default:
                return paramsEnded
            }
            offset = end
        }
        return false
    }

    /// True when the concatenated params content is a sequence of whole name-value pairs.
    private static func pairsFit<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, _ ranges: [Range<Int>], total: Int) -> Bool
    where Bytes.Index == Int {
        // A cursor over the content of the params records, skipping the record headers between them.
        var range = 0
        var index = ranges.first?.lowerBound ?? 0
        var consumed = 0
        func next() -> UInt8? {
            while range < ranges.count && index == ranges[range].upperBound {
                range += 1
                if range < ranges.count { index = ranges[range].lowerBound }
            }
            guard range < ranges.count else { return nil }
            defer {
                index += 1
                consumed += 1
            }
            return bytes[index]
        }
        func skip(_ n: Int) {
            var left = n
            while left > 0 && range < ranges.count {
                let step = min(left, ranges[range].upperBound - index)
                index += step
                consumed += step
                left -= step
                if index == ranges[range].upperBound {
                    range += 1
                    if range < ranges.count { index = ranges[range].lowerBound }
                }
            }
        }
        func length() -> Int? {
            guard let first = next() else { return nil }
            if first & 0x80 == 0 { return Int(first) }
            var value = Int(first & 0x7F)
            for _ in 0..<3 {
                guard let b = next() else { return nil }
                value = value << 8 | Int(b)
            }
            return value
        }
        while consumed < total {
            guard let name = length(), let value = length(), name <= total - consumed, value <= total - consumed - name
            else { return false }
            skip(name + value)
        }
        return consumed == total
    }
}
