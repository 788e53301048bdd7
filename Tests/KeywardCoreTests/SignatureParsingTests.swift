import KeywardCrypto
import Testing

@testable import KeywardCore

@Suite struct StructuredFieldTests {
    @Test func dictionariesOfInnerListsItemsAndParameters() throws {
        let members = try StructuredFields.parseDictionary(#"a=("x" "y";p=1);q=?0, b, c=:AQID:;z=tok/en, d=-12"#)
        #expect(members.map(\.key) == ["a", "b", "c", "d"])
        #expect(
            members[0].value
                == .innerList(
                    SFInnerList(
                        [SFItem(.string("x")), SFItem(.string("y"), parameters: [SFParameter("p", .integer(1))])],
                        parameters: [SFParameter("q", .boolean(false))])))
        #expect(members[1].value == .item(SFItem(.boolean(true))))
        #expect(members[2].value == .item(SFItem(.bytes([1, 2, 3]), parameters: [SFParameter("z", .token("tok/en"))])))
        #expect(members[3].value == .item(SFItem(.integer(-12))))
        if case .innerList(let list) = members[0].value { #expect(list.serialized == #"("x" "y";p=1);q=?0"#) }
    }

    /// Each of these is refused, never read some other way (RFC 8941 §4.2, and repeated keys).
    @Test(arguments: [
        "", "   ", "a=(", #"a=("x""#, #"a=("x"  "y""#, "A=1", "1a=1", "a=1,", "a=1,,b=2", "a=1 b=2", "a=1;", "a=1;B=2",
        "a=1.5", "a=1234567890123456", "a=-", #"a="x"#, #"a="\q""#, "a=\"\u{1}\"", "a=\"é\"", "a=:AQID", "a=:A$ID:", "a=:AQ=D:",
        "a=:AQI===:", "a=?2", "a=@1", "a=%\"x\"", "a=(\"x\")x", "a=1, a=2", "a=1;p=1;p=2", "a=(\"x\")\t, b", "a=1,\u{7F}",
    ])
    func malformedDictionariesAreRefused(_ text: String) {
        let parsed = try? StructuredFields.parseDictionary(text)
        if text.trimmingCharacters(in: .whitespaces).isEmpty || text == "a=(\"x\")\t, b" {
            // An empty field is an empty dictionary; a tab is optional whitespace before a comma.
            #expect(parsed != nil)
        } else {
            #expect(parsed == nil, "parsed: \(text)")
        }
    }

    @Test func byteSequencesWithAndWithoutPadding() throws {
        #expect(try StructuredFields.parseItem(":AQI=:").value == .bytes([1, 2]))
        #expect(try StructuredFields.parseItem(":AQI:").value == .bytes([1, 2]))
        #expect(try StructuredFields.parseItem("::").value == .bytes([]))
        #expect((try? StructuredFields.parseItem(":AQ-_:")) == nil)  // base64url is not base64
    }
}

@Suite struct SignatureInputTests {
    /// Refused as malformed: what this verifier cannot resolve exactly as the signer meant.
    @Test(arguments: [
        #"sig1="@method""#,  // not an inner list
        #"sig1=(@method)"#,  // a token, not a string
        #"sig1=("@method" "@method")"#,  // covered twice
        #"sig1=("Content-Type")"#,  // field names are lower case
        #"sig1=("@status")"#,  // a response's
        #"sig1=("@query-param";name="a")"#,  // not supported
        #"sig1=("content-digest";sf)"#,  // component parameters are not supported
        #"sig1=("content-digest";key="sha-256")"#,
        #"sig1=("x y")"#,  // not a field name
        #"sig1=("")"#,
        #"sig1=();created="1""#,  // wrong type
        #"sig1=();keyid=kwh_x"#,  // a token, not a string
        #"sig1=();created=-1"#,
        #"sig1=();expires=1.5"#,
        #"sig1=();foo=1"#,  // unknown parameter
        #"sig1=();created=1;created=2"#,
        #"sig1=(), sig1=()"#,
        "",
    ])
    func malformedInputsAreRefused(_ text: String) {
        #expect(throws: SignatureProblem.self) { try SignatureInput.parse(text) }
    }

    @Test func theSignatureIsAByteSequenceWithoutParameters() throws {
        #expect(try SignatureInput.signature("b", in: "a=:AA==:, b=:AQ==:") == [1])
        for field in ["b=:AQ==:;x=1", #"b="AQ==""#, "a=:AA==:", "b=:AQ=", "b=(:AQ==:)"] {
            #expect(throws: SignatureProblem.self, "\(field)") { try SignatureInput.signature("b", in: field) }
        }
    }
}

@Suite struct SignatureBaseTests {
    struct Message: SignedMessage {
        var method = "GET"
        var target = RequestTarget(scheme: "https", authority: "Api.Example.COM:443", raw: "/a/b%2Fc?x=1&y")
        var headers: [String: String] = ["x-one": "  spaced\tvalue \t", "x-twice": "\u{0}"]
        func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    func value(_ name: String, _ message: Message = Message()) throws -> String {
        try SignatureBase.value(of: ComponentIdentifier(name: name), in: message)
    }

    @Test func derivedComponents() throws {
        #expect(try value("@method") == "GET")
        #expect(try value("@target-uri") == "https://Api.Example.COM:443/a/b%2Fc?x=1&y")
        #expect(try value("@authority") == "api.example.com")
        #expect(try value("@scheme") == "https")
        #expect(try value("@request-target") == "/a/b%2Fc?x=1&y")
        #expect(try value("@path") == "/a/b%2Fc")
        #expect(try value("@query") == "?x=1&y")
        var m = Message()
        m.target = RequestTarget(scheme: "http", authority: "h:8080", raw: "/")
        #expect(try value("@query", m) == "?")
        #expect(try value("@authority", m) == "h:8080")
        #expect(try value("@target-uri", m) == "http://h:8080/")
        m.target = RequestTarget(scheme: "http", authority: "h:80", raw: "/p?")
        #expect(try value("@query", m) == "?")
        #expect(try value("@authority", m) == "h")
        // Absolute form (RFC 9112 §3.2.2): scheme and authority come from the target.
        m.target = RequestTarget(scheme: "http", authority: "ignored", raw: "HTTPS://Other.example?q")
        #expect(try value("@path", m) == "/")
        #expect(try value("@authority", m) == "other.example")
        #expect(try value("@scheme", m) == "https")
        #expect(try value("@target-uri", m) == "https://Other.example/?q")
    }

    @Test func fieldsAreTrimmedAndAmbiguousOnesRefused() throws {
        #expect(try value("x-one") == "spaced\tvalue")
        #expect(throws: SignatureProblem.self) { try value("x-twice") }  // sent twice
        #expect(throws: SignatureProblem.self) { try value("x-absent") }
        var m = Message()
        m.target.authority = nil
        #expect(throws: SignatureProblem.self) { try value("@authority", m) }
        m.target = RequestTarget(scheme: nil, authority: "h", raw: "/")
        #expect(throws: SignatureProblem.self) { try value("@target-uri", m) }
        m.target = RequestTarget(scheme: "https", authority: "h", raw: "*")
        #expect(throws: SignatureProblem.self) { try value("@path", m) }
        m.method = "G T"
        #expect(throws: SignatureProblem.self) { try value("@method", m) }
    }
}

@Suite struct ContentDigestTests {
    @Test func sha256IsCheckedAgainstTheBody() {
        let body = Array(#"{"hello": "world"}"#.utf8)
        // RFC 9530 Appendix B.2's content and its sha-256 digest.
        #expect(ContentDigest.field(for: body) == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:")
        #expect(ContentDigest.check("sha-512=:AA==:, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", body: body) == .matches)
        #expect(ContentDigest.check(ContentDigest.field(for: body), body: body + [0x20]) == .mismatch)
        for field in ["sha-512=:AA==:", "sha-256=:AA==:", "sha-256=\"x\"", "sha-256=:X48E", ""] {
            if case .malformed = ContentDigest.check(field, body: body) {} else { Issue.record("accepted \(field)") }
        }
    }
}

@Suite struct NonceCacheTests {
    @Test func aNonceIsAcceptedOnceWhileFresh() {
        let cache = NonceCache(capacity: 1_000)
        #expect(cache.admit(credential: "k", nonce: "n", until: 100, now: 10) == .fresh)
        #expect(cache.admit(credential: "k", nonce: "n", until: 100, now: 50) == .replayed)
        #expect(cache.admit(credential: "other", nonce: "n", until: 100, now: 50) == .fresh)
        // Once the signature is stale the window refuses it; the entry may go.
        #expect(cache.admit(credential: "k", nonce: "n", until: 200, now: 100) == .fresh)
    }

    @Test func fullOfLiveEntriesItRefusesNewOnesAndRecoversAsTheyExpire() {
        let cache = NonceCache(capacity: 16)  // one entry per shard
        var full: NonceCache.Admission? = nil
        for i in 0..<200 {
            let a = cache.admit(credential: "k", nonce: "n\(i)", until: 100, now: 10)
            if case .full = a { full = a }
        }
        #expect(full == .full(retryAfter: 90))
        #expect(cache.count(now: 10) == 16)
        #expect(cache.admit(credential: "k", nonce: "n0", until: 200, now: 100) == .fresh)
    }
}
