#!/usr/bin/env python3
"""Stand-in for a protected application: answers every request with what it received, as JSON.

    backend.py PORT

Response body: {"method": ..., "path": <raw request target>, "headers": {<lower-case name>: value},
"body_length": N, "body_sha256": <hex>} (the body itself is read, at most 1 MiB, and not echoed).
The end-to-end suite reads X-Auth-User / X-Auth-Credential from it to see the identity that the
web server forwarded after Keyward allowed the request. Listens on 127.0.0.1 only.
"""
import hashlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        received = self.rfile.read(min(length, 1 << 20)) if length else b""
        body = json.dumps({
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body_length": len(received),
            "body_sha256": hashlib.sha256(received).hexdigest(),
        }, sort_keys=True).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer

    def log_message(self, fmt, *args):
        sys.stderr.write("backend: " + (fmt % args) + "\n")


if __name__ == "__main__":
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
