internal import COpenSSL

/// Helpers for handing Swift values to libcrypto calls that keep pointers past the call itself.
///
/// An `OSSL_PARAM` holds bare pointers to its name and value, and `EVP_PKEY_CTX_new_from_name`
/// keeps the key type it is given; a pointer from Swift's implicit `String` to `const char *`
/// conversion dies when the call that made it returns. So names are `StaticString`s (static,
/// NUL-terminated storage) and parameter values are copied into memory that lives for the whole
/// operation and is cleansed before it is freed, since some of it is key material or a password.
enum OpenSSLParameters {
    /// One value of an `OSSL_PARAM` array.
    enum Value {
        /// A UTF-8 string (`OSSL_PARAM_UTF8_STRING`).
        case utf8(StaticString)
        /// An octet string (`OSSL_PARAM_OCTET_STRING`).
        case octets([UInt8])
        /// An unsigned integer given big-endian, as JWK members carry it (`OSSL_PARAM_UNSIGNED_INTEGER`).
        case bigEndianInteger([UInt8])
        /// A 64-bit unsigned integer; libcrypto converts it to the width it wants.
        case uint64(UInt64)
    }

    /// Calls `body` with an `OSSL_PARAM` array built from `entries`, all of it valid during the call.
    static func with<R>(_ entries: [(StaticString, Value)], _ body: (UnsafeMutablePointer<OSSL_PARAM>) -> R) -> R {
        var allocations: [UnsafeMutableRawBufferPointer] = unsafe []
        defer {
            // An index loop: swift-format 6.3 mangles `for unsafe a in`.
            for index in unsafe allocations.indices {
                let a = unsafe allocations[index]
                unsafe OPENSSL_cleanse(a.baseAddress, a.count)
                unsafe a.deallocate()
            }
        }
        func copy(_ bytes: [UInt8]) -> UnsafeMutableRawBufferPointer {
            // Never zero bytes: libcrypto treats a NULL octet string as absent.
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
            unsafe buffer.initializeMemory(as: UInt8.self, repeating: 0)
            unsafe buffer.copyBytes(from: bytes)
            unsafe allocations.append(buffer)
            return unsafe buffer
        }
        var params: [OSSL_PARAM] = unsafe []
        for (name, value) in entries {
            let key = unsafe cString(name)
            switch value {
            case .utf8(let text):
                unsafe params.append(OSSL_PARAM_construct_utf8_string(key, UnsafeMutablePointer(mutating: cString(text)), text.utf8CodeUnitCount))
            case .octets(let bytes):
                unsafe params.append(OSSL_PARAM_construct_octet_string(key, copy(bytes).baseAddress, bytes.count))
            case .bigEndianInteger(let bytes):
                #if _endian(little)
                    let native = unsafe copy(bytes.reversed())
                #else
                    let native = copy(bytes)
                #endif
                unsafe params.append(OSSL_PARAM_construct_BN(key, native.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count))
            case .uint64(let number):
                let buffer = unsafe copy([UInt8](repeating: 0, count: 8))
                unsafe buffer.storeBytes(of: number, as: UInt64.self)
                unsafe params.append(OSSL_PARAM_construct_uint64(key, buffer.baseAddress?.assumingMemoryBound(to: UInt64.self)))
            }
        }
        unsafe params.append(OSSL_PARAM_construct_end())
        return unsafe params.withUnsafeMutableBufferPointer { unsafe body($0.baseAddress!) }
    }

    /// The NUL-terminated static storage of a string literal.
    static func cString(_ text: StaticString) -> UnsafePointer<CChar> {
        precondition(text.hasPointerRepresentation, "a C name must be an ASCII string literal")
        return unsafe UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
    }
}

extension Array where Element == UInt8 {
    /// Calls `body` with a pointer that is never NULL, even for an empty array: several libcrypto
    /// functions refuse a NULL input even when its length is zero.
    func withNonNullBytes<R>(_ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
        unsafe withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress { return unsafe body(base, buffer.count) }
            var zero: UInt8 = 0
            return unsafe withUnsafePointer(to: &zero) { unsafe body($0, 0) }
        }
    }
}

extension UnsafeRawBufferPointer {
    /// Calls `body` with a byte pointer that is never NULL, even for an empty buffer.
    func withNonNullBytes<R>(_ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
        if let base = baseAddress { return unsafe body(base.assumingMemoryBound(to: UInt8.self), count) }
        var zero: UInt8 = 0
        return unsafe withUnsafePointer(to: &zero) { unsafe body($0, 0) }
    }
}
