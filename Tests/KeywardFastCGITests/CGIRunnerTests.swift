import Testing

@testable import KeywardFastCGI

/// Run as a CGI program, Keyward takes its mount from SCRIPT_NAME (`ScriptAlias /keyward
/// /usr/local/bin/keyward`) unless one is configured: only a plain path, since it ends up in every
/// link and in the session cookie's `Path` attribute.
@Suite struct CGIRunnerTests {
    @Test func theMountIsTheScriptName() {
        #expect(CGIRunner.mount(scriptName: "/keyward") == "/keyward")
        #expect(CGIRunner.mount(scriptName: "/tools/key-ward_2.cgi") == "/tools/key-ward_2.cgi")
        #expect(CGIRunner.mount(scriptName: "/") == "/")
    }

    @Test func anythingButAPlainPathIsNoMount() {
        for name in [
            nil, "", "keyward", "/keyward; Domain=evil.example", "/key ward", "/keyward\r\nSet-Cookie: x=1", "/k%65yward",
            "/a/../b", "/./keyward", "/kéyward", "/\"><script>", String(repeating: "/k", count: 200),
        ] {
            #expect(CGIRunner.mount(scriptName: name) == nil, "\(String(describing: name))")
        }
    }
}
