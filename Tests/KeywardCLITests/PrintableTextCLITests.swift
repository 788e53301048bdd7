import Foundation
import Testing

/// Names that would reach backends or terminals as something else are refused, and text output
/// escapes what still arrives, e.g. through the path of an unauthenticated request (issue 8, items 8 and 9).
@Suite struct PrintableTextCLITests {
    @Test func namesThatHideOrMoveTextAreRefused() throws {
        let cli = try CLI()
        try cli.run("init")
        #expect(try cli.run("user", "add", "alice").status == 0)
        for name in ["key\u{85}name", "key\u{9B}2Jname", "evil\u{202E}gnp.exe", "zero\u{200B}width", "line\u{2028}break"] {
            let r = try cli.run("key", "create", "--user", "alice", "--name", name)
            #expect(r.status == 1 && r.err.contains("printable"), "\(r.err)")
            #expect(!r.err.unicodeScalars.contains { $0.value == 0x85 || $0.value == 0x9B || $0.value == 0x202E })
        }
        for name in [".", "..", "..."] {
            #expect(try cli.run("user", "add", name).status == 1, "user name \(name)")
            #expect(try cli.run("group", "add", name).status == 1, "group name \(name)")
        }
        #expect(try cli.run("user", "add", "a.b").status == 0)
    }

    @Test func anAuditedPathIsEscapedInEveryListing() throws {
        let cli = try CLI()
        try cli.run("init")
        // A refused check through CGI mode: its path, with a bidi override and a C1 control, lands in the audit.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.environment = [
            "KEYWARD_DB": cli.db, "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "KEYWARD_CHECK": "1",
            "REQUEST_URI": "/api/%E2%80%AEtxt.exe", "HTTP_AUTHORIZATION": "Bearer kwk_nope", "REMOTE_ADDR": "192.0.2.1",
            "PATH": "/usr/bin:/bin",
        ]
        p.standardOutput = Pipe()
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let text = try cli.run("audit", "list")
        #expect(text.status == 0 && text.out.contains("/api/\\u{202e}txt.exe"), "\(text.out)")
        let json = try cli.run("audit", "list", "--json")
        #expect(json.status == 0 && json.out.contains("\\u202e"), "\(json.out)")
        for out in [text.out, json.out] {
            #expect(!out.unicodeScalars.contains { $0.value == 0x202E })
        }
        // The JSON still means the same string.
        let rows = try #require(json.json as? [[String: Any]])
        #expect(rows.contains { ($0["detail"] as? String)?.contains("\u{202E}") == true })
    }
}
