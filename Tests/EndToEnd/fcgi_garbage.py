#!/usr/bin/env python3
"""Send malformed FastCGI traffic straight to a Keyward socket, then hang up.

    fcgi_garbage.py TARGET [--only a,b] [--skip a,b]     send the malformed cases
    fcgi_garbage.py TARGET --probe 'Bearer <key>'        one well-formed nginx-style check
    fcgi_garbage.py --list                               name the cases

TARGET is unix:/path/to/sock or 127.0.0.1:PORT.

Each case opens a fresh connection, writes its bytes, waits briefly for whatever the server does,
and closes. Prints one line per case: `<case> sent=<n> reply=<bytes read> <closed|open|reset>`.
Exit status 0 unless the socket could not be reached for some case (for instance because an
earlier case killed the server). --probe prints the Status of the answer (exit 0 when there was one).
"""
import os
import socket
import struct
import sys

FCGI_VERSION = 1
BEGIN, ABORT, END, PARAMS, STDIN, STDOUT, STDERR, DATA, GET_VALUES = 1, 2, 3, 4, 5, 6, 7, 8, 9
RESPONDER, AUTHORIZER = 1, 2


def record(rtype, req_id, content, padding=0):
    return struct.pack(">BBHHBB", FCGI_VERSION, rtype, req_id, len(content), padding, 0) + content + b"\0" * padding


def begin(req_id=1, role=RESPONDER, keep=0):
    return record(BEGIN, req_id, struct.pack(">HB5x", role, keep))


def nv(name, value):
    def ln(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return ln(len(name)) + ln(len(value)) + name + value


def connect(target):
    if target.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(target[5:])
    else:
        host, port = target.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    s.settimeout(1.0)
    return s


def cases():
    params = nv(b"KEYWARD_CHECK", b"1") + nv(b"REQUEST_METHOD", b"GET") + nv(b"REQUEST_URI", b"/api/x")
    yield "random-bytes", os.urandom(4096)
    yield "bad-version", b"\x07" + record(BEGIN, 1, b"\0" * 8)[1:]
    yield "truncated-begin-header", record(BEGIN, 1, struct.pack(">HB5x", RESPONDER, 0))[:5]
    yield "truncated-begin-body", record(BEGIN, 1, struct.pack(">HB5x", RESPONDER, 0))[:12]
    yield "begin-unknown-role", begin(role=77) + record(PARAMS, 1, b"") + record(STDIN, 1, b"")
    full = record(PARAMS, 1, params)
    yield "half-params-record", begin() + full[: len(full) // 2]
    # A name/value pair whose 4-byte lengths claim ~2 GB inside a small record.
    huge = struct.pack(">I", 0x7FFFFFF0 | 0x80000000) + struct.pack(">I", 0x7FFFFFF0 | 0x80000000) + b"AB"
    # A pair whose declared lengths run past the end of the params stream.
    yield "params-pair-past-end", begin() + record(PARAMS, 1, b"\x05\x7fABCDEFG") + record(PARAMS, 1, b"") + record(STDIN, 1, b"")
    yield "params-then-abort", begin() + record(PARAMS, 1, params) + record(ABORT, 1, b"")
    yield "wrong-request-id", begin(req_id=1) + record(PARAMS, 2, params) + record(PARAMS, 2, b"")
    yield "stdin-before-params-end", begin() + record(STDIN, 1, b"x" * 100) + record(STDIN, 1, b"")
    yield "get-values-only", record(GET_VALUES, 0, nv(b"FCGI_MAX_CONNS", b""))
    yield "nul-in-params", begin() + record(PARAMS, 1, nv(b"HTTP_AUTHORIZATION", b"Bearer kwk_\0\xff\xfe") + params) + record(PARAMS, 1, b"") + record(STDIN, 1, b"")
    yield "empty-connection", b""
    # Declared lengths far beyond what is sent: the server must give up at EOF, not allocate blindly.
    big = struct.pack(">I", (64 << 20) | 0x80000000) + struct.pack(">I", 0x80000000 | 16) + b"A" * 100
    yield "params-declares-64MB-name", begin() + record(PARAMS, 1, big)
    yield "params-declares-2GB-names", begin() + record(PARAMS, 1, huge) + record(PARAMS, 1, b"") + record(STDIN, 1, b"")
    # A complete request whose Authorization is 1 MB: an answer (401), not a crash.
    auth = nv(b"HTTP_AUTHORIZATION", b"Bearer kwk_" + b"A" * (1 << 20))
    chunks = b"".join(record(PARAMS, 1, auth[i:i + 65535]) for i in range(0, len(auth), 65535))
    yield "complete-1MB-authorization", begin() + record(PARAMS, 1, params) + chunks + record(PARAMS, 1, b"") + record(STDIN, 1, b"")


def probe(target, authorization):
    params = b"".join(nv(k, v) for k, v in [
        (b"KEYWARD_CHECK", b"1"), (b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/api/x"),
        (b"AUTH_PATH", b"/api/x"), (b"REMOTE_ADDR", b"127.0.0.1"),
        (b"HTTP_AUTHORIZATION", authorization.encode())])
    s = connect(target)
    s.settimeout(5)
    s.sendall(begin() + record(PARAMS, 1, params) + record(PARAMS, 1, b"") + record(STDIN, 1, b""))
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    out, i = b"", 0
    while i + 8 <= len(data):
        _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", data[i:i + 8])
        if rtype == STDOUT:
            out += data[i + 8:i + 8 + clen]
        i += 8 + clen + plen
    for line in out.split(b"\r\n"):
        if line.lower().startswith(b"status:"):
            print(line.decode("latin-1").split(":", 1)[1].strip().split()[0])
            return 0
    print("no-status")
    return 1 if not out else 0


def main():
    args = sys.argv[1:]
    if args == ["--list"]:
        for name, _ in cases():
            print(name)
        return 0
    target = args[0]
    if len(args) == 3 and args[1] == "--probe":
        return probe(target, args[2])
    only = skip = None
    if len(args) == 3 and args[1] in ("--only", "--skip"):
        names = set(args[2].split(","))
        only, skip = (names, None) if args[1] == "--only" else (None, names)
    reached = failed = 0
    for name, data in cases():
        if (only is not None and name not in only) or (skip is not None and name in skip):
            continue
        try:
            s = connect(target)
        except OSError as e:
            print(f"{name} connect-failed {e}")
            failed += 1
            continue
        reached += 1
        state = "open"
        got = 0
        try:
            if data:
                s.sendall(data)
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    state = "closed"
                    break
                got += len(chunk)
        except socket.timeout:
            state = "open"
        except OSError:
            state = "reset"
        finally:
            s.close()
        print(f"{name} sent={len(data)} reply={got} {state}")
    return 0 if reached and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
