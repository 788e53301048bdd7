import KeywardCrypto

/// The CLI's `--json`: an `Encodable` value turned into a `JSON` value, so the one JSON writer
/// prints it (keys in snake case via `SnakeKey`, and sorted, as the output has always been).
///
/// An optional member without a value is written as an explicit `null` (synthesized
/// conformances ask with `encodeIfPresent`), as the admin API does.
enum JSONOutput {
    /// `value` as a JSON value, keys in snake case and sorted.
    static func value<T: Encodable>(_ value: T) throws -> JSON {
        let root = Slot()
        try encodeTree(value, into: root, codingPath: [])
        return root.json.sortedKeys
    }

    /// Indented text for people (`--json`).
    static func pretty<T: Encodable>(_ value: T) throws -> String { try Self.value(value).pretty }

    /// One compact line (`audit export`).
    static func line<T: Encodable>(_ value: T) throws -> String { try Self.value(value).text }
}

/// One value being encoded: a leaf, an array or an object, filled in by the containers.
private final class Slot {
    var leaf: JSON?
    var items: [Slot]?
    var names: [String]?
    var members: [String: Slot] = [:]

    var json: JSON {
        if let leaf { return leaf }
        if let items { return .array(items.map(\.json)) }
        if let names { return .object(names.map { ($0, members[$0]!.json) }) }
        return .object([])
    }

    func member(_ name: String) -> Slot {
        if names == nil { names = [] }
        if let slot = members[name] { return slot }
        let slot = Slot()
        names!.append(name)
        members[name] = slot
        return slot
    }

    func append() -> Slot {
        if items == nil { items = [] }
        let slot = Slot()
        items!.append(slot)
        return slot
    }
}

/// Encodes `value` into `slot`; a dictionary's keys are data, written as they are (not snake-cased).
private func encodeTree(_ value: some Encodable, into slot: Slot, codingPath: [any CodingKey]) throws {
    if let dictionary = value as? any StringKeyed {
        try dictionary.encodeEntries(into: slot, codingPath: codingPath)
    } else {
        try value.encode(to: TreeEncoder(slot: slot, codingPath: codingPath))
    }
}

private protocol StringKeyed {
    func encodeEntries(into slot: Slot, codingPath: [any CodingKey]) throws
}

extension Dictionary: StringKeyed where Key == String, Value: Encodable {
    fileprivate func encodeEntries(into slot: Slot, codingPath: [any CodingKey]) throws {
        if slot.names == nil { slot.names = [] }
        for (name, value) in self { try encodeTree(value, into: slot.member(name), codingPath: codingPath) }
    }
}

private func integer(_ v: some BinaryInteger) -> JSON {
    Int64(exactly: v).map(JSON.int) ?? .double(Double(v))
}

private struct TreeEncoder: Encoder {
    let slot: Slot
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if slot.names == nil { slot.names = [] }
        return KeyedEncodingContainer(Keyed<Key>(slot: slot, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if slot.items == nil { slot.items = [] }
        return Unkeyed(slot: slot, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { Single(slot: slot, codingPath: codingPath) }
}

private struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: Slot
    let codingPath: [any CodingKey]

    private func put(_ value: JSON, _ key: Key) { slot.member(SnakeKey(key.stringValue).stringValue).leaf = value }

    mutating func encodeNil(forKey key: Key) throws { put(.null, key) }
    // An absent optional is written as an explicit null (a synthesized conformance asks with
    // encodeIfPresent), so every member a command documents is always there.
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encode(_ value: Bool, forKey key: Key) throws { put(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { put(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { put(.double(value), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { put(.double(Double(value)), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { put(integer(value), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { put(integer(value), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { put(integer(value), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { put(integer(value), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { put(integer(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { put(integer(value), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { put(integer(value), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { put(integer(value), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { put(integer(value), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { put(integer(value), key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try encodeTree(value, into: slot.member(SnakeKey(key.stringValue).stringValue), codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type,
        forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        superEncoder(forKey: key).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        superEncoder(forKey: key).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        TreeEncoder(slot: slot.member("super"), codingPath: codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        TreeEncoder(slot: slot.member(SnakeKey(key.stringValue).stringValue), codingPath: codingPath + [key])
    }
}

private struct Unkeyed: UnkeyedEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]
    var count: Int { slot.items?.count ?? 0 }

    private func add(_ value: JSON) { slot.append().leaf = value }

    mutating func encodeNil() throws { add(.null) }
    mutating func encode(_ value: Bool) throws { add(.bool(value)) }
    mutating func encode(_ value: String) throws { add(.string(value)) }
    mutating func encode(_ value: Double) throws { add(.double(value)) }
    mutating func encode(_ value: Float) throws { add(.double(Double(value))) }
    mutating func encode(_ value: Int) throws { add(integer(value)) }
    mutating func encode(_ value: Int8) throws { add(integer(value)) }
    mutating func encode(_ value: Int16) throws { add(integer(value)) }
    mutating func encode(_ value: Int32) throws { add(integer(value)) }
    mutating func encode(_ value: Int64) throws { add(integer(value)) }
    mutating func encode(_ value: UInt) throws { add(integer(value)) }
    mutating func encode(_ value: UInt8) throws { add(integer(value)) }
    mutating func encode(_ value: UInt16) throws { add(integer(value)) }
    mutating func encode(_ value: UInt32) throws { add(integer(value)) }
    mutating func encode(_ value: UInt64) throws { add(integer(value)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try encodeTree(value, into: slot.append(), codingPath: codingPath)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        superEncoder().container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { superEncoder().unkeyedContainer() }

    mutating func superEncoder() -> any Encoder { TreeEncoder(slot: slot.append(), codingPath: codingPath) }
}

private struct Single: SingleValueEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]

    private func set(_ value: JSON) { slot.leaf = value }

    mutating func encodeNil() throws { set(.null) }
    mutating func encode(_ value: Bool) throws { set(.bool(value)) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws { set(.double(value)) }
    mutating func encode(_ value: Float) throws { set(.double(Double(value))) }
    mutating func encode(_ value: Int) throws { set(integer(value)) }
    mutating func encode(_ value: Int8) throws { set(integer(value)) }
    mutating func encode(_ value: Int16) throws { set(integer(value)) }
    mutating func encode(_ value: Int32) throws { set(integer(value)) }
    mutating func encode(_ value: Int64) throws { set(integer(value)) }
    mutating func encode(_ value: UInt) throws { set(integer(value)) }
    mutating func encode(_ value: UInt8) throws { set(integer(value)) }
    mutating func encode(_ value: UInt16) throws { set(integer(value)) }
    mutating func encode(_ value: UInt32) throws { set(integer(value)) }
    mutating func encode(_ value: UInt64) throws { set(integer(value)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try encodeTree(value, into: slot, codingPath: codingPath)
    }
}
