import Testing

@testable import KeywardCore

@Suite struct JSONReaderTests {
    func read(_ text: String) -> [String: Any]? { JSONReader.object(Array(text.utf8)) }

    @Test func readsWhatTokensAndBodiesHold() throws {
        let o = try #require(
            read(#" { "a" : "x\"y\\z\/\n\u00e9\ud83d\ude00", "n": -12, "f": 1.5e2, "t": true, "z": null, "l": ["p", 1], "o": {"k": "v"} } "#))
        #expect(o["a"] as? String == "x\"y\\z/\né😀")
        #expect(o["n"] as? Int == -12 && o["f"] as? Double == 150 && o["t"] as? Bool == true)
        #expect(o["z"] is JSONReader.Null && (o["l"] as? [Any])?.count == 2 && (o["o"] as? [String: Any])?["k"] as? String == "v")
        #expect(read("{}")?.isEmpty == true)
        #expect(read(#"{"big": 12345678901234567890}"#)?["big"] as? Double == 1.2345678901234567e19)
    }

    @Test(arguments: [
        "", "[]", "\"s\"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1}x", "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}",
        "{\"a\":\"\u{1}\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":tru}", "{a:1}",
        "{\"a\":1,\"a\":2}",  // duplicate member names
        String(repeating: "{\"a\":", count: 20) + "1" + String(repeating: "}", count: 20),  // too deep
    ])
    func refuses(_ text: String) {
        #expect(read(text) == nil)
    }

    @Test func refusesInvalidUTF8() {
        #expect(JSONReader.object([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D]) == nil)
    }
}
