import Foundation
import KeywardCore
import KeywardCrypto

/// The parameters of a request body: `application/x-www-form-urlencoded` (HTML 5 §4.10.21.7,
/// RFC 6749 §3.2) or a JSON object of strings (what CentraSite-style clients send).
struct BodyParameters {
    /// Why a body was refused; each maps to `invalid_request`.
    enum Refusal: Error, Equatable {
        case tooLarge, unsupportedType, malformed, repeated(String)
    }

    private(set) var values: [String: String] = [:]
    /// Every value of the parameters that may be repeated, in order.
    private(set) var lists: [String: [String]] = [:]

    subscript(_ name: String) -> String? {
        guard let v = values[name], !v.isEmpty else { return nil }
        return v
    }

    /// Every non-empty value of a repeatable parameter (the one value of any other).
    func all(_ name: String) -> [String] {
        (lists[name] ?? values[name].map { [$0] } ?? []).filter { !$0.isEmpty }
    }

    /// Reads and parses the body by its `CONTENT_TYPE`. Parameters named in `repeatable` may be
    /// given more than once (RFC 8693 §2.1 `audience`, RFC 8707 §2 `resource`), as a JSON array
    /// of strings in a JSON body; any other parameter given twice is refused.
    static func read(_ params: some ParamSource, limits: Limits, repeatable: Set<String> = []) throws(Refusal) -> BodyParameters {
        let type =
            (params.param("CONTENT_TYPE") ?? "").split(separator: ";").first.map {
                $0.trimmingCharacters(in: .whitespaces).lowercased()
            } ?? ""
        guard let body = params.readBody(limit: limits.maxBodyBytes) else { throw .tooLarge }
        switch type {
        case "application/x-www-form-urlencoded":
            return try form(body, repeatable: repeatable)
        case "application/json":
            return try json(body, repeatable: repeatable)
        case "":
            guard body.isEmpty else { throw .unsupportedType }
            return BodyParameters()
        default:
            throw .unsupportedType
        }
    }

    /// Parses a form; a parameter given twice is refused (RFC 6749 §3.2) unless `repeatable`.
    static func form(_ body: [UInt8], repeatable: Set<String> = []) throws(Refusal) -> BodyParameters {
        var out = BodyParameters()
        for pair in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : []) else { throw .malformed }
            if repeatable.contains(name) {
                out.lists[name, default: []].append(value)
                continue
            }
            guard out.values[name] == nil else { throw .repeated(name) }
            out.values[name] = value
        }
        return out
    }

    /// Parses a JSON object whose members are strings (numbers are taken as their text), or
    /// arrays of strings for `repeatable` members.
    static func json(_ body: [UInt8], repeatable: Set<String> = []) throws(Refusal) -> BodyParameters {
        guard String(validating: body, as: UTF8.self) != nil, let object = JSONText.parseObject(body) else { throw .malformed }
        var out = BodyParameters()
        for (name, value) in object {
            switch value {
            case let s as String where repeatable.contains(name): out.lists[name] = [s]
            case let s as String: out.values[name] = s
            case let n as Int: out.values[name] = String(n)
            case let list as [Any] where repeatable.contains(name):
                var strings: [String] = []
                for item in list {
                    guard let s = item as? String else { throw .malformed }
                    strings.append(s)
                }
                out.lists[name] = strings
            default: throw .malformed
            }
        }
        return out
    }

    private static func decode(_ bytes: some Collection<UInt8>) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let decoded = PercentDecoding.decode(text[...], plusAsSpace: true),
            let string = String(validating: decoded, as: UTF8.self),
            !string.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" })
        else { return nil }
        return string
    }
}

/// Client credentials from `Authorization: Basic` (RFC 7617), each part form-decoded as RFC 6749
/// §2.3.1 requires; nil when the header is not Basic; `.some(nil)` when it is Basic but broken.
func basicCredentials(_ header: String?) -> (id: String, secret: String)?? {
    guard let header, header.count > 6, header.prefix(6).lowercased() == "basic " else { return nil }
    guard let raw = Base64.decode(header.dropFirst(6).trimmingCharacters(in: .whitespaces)),
        let text = String(validating: raw, as: UTF8.self), let colon = text.firstIndex(of: ":"),
        let id = PercentDecoding.decode(text[..<colon], plusAsSpace: true).flatMap({ String(validating: $0, as: UTF8.self) }),
        let secret = PercentDecoding.decode(text[text.index(after: colon)...], plusAsSpace: true)
            .flatMap({ String(validating: $0, as: UTF8.self) })
    else { return .some(nil) }
    return .some((id, secret))
}
