#!/usr/bin/env python3
"""Hold FastCGI connections to a Keyward socket open and quiet, as an attacker on the host would.

    fcgi_idle.py TARGET --idle N --keep K --hold SECONDS [--partial P] [--ready FILE]
    fcgi_idle.py TARGET --check 'Bearer <key>'      one check over a fresh connection: prints the Status
    fcgi_idle.py TARGET --reuse 'Bearer <key>'      two checks on one FCGI_KEEP_CONN connection, the
                                                    first with a 16 KiB head: prints both Statuses

TARGET is unix:/path/to/sock or 127.0.0.1:PORT. Opens N connections that send nothing, P that send
half a request head and stop, and K that send one well-formed check with FCGI_KEEP_CONN, read its
answer and then go quiet; writes `held <n>` to FILE (or stdout) once they are all open, holds them
for SECONDS, and prints how many the server closed in the meantime.
"""
import socket
import struct
import sys
import time

BEGIN, END, PARAMS, STDIN = 1, 3, 4, 5


def record(rtype, content, req_id=1):
    return struct.pack(">BBHHBB", 1, rtype, req_id, len(content), 0, 0) + content


def nv(name, value):
    return bytes([len(name), len(value)]) + name + value


def check_request(authorization, keep, head_size=0):
    params = (nv(b"KEYWARD_CHECK", b"1") + nv(b"REQUEST_METHOD", b"GET") + nv(b"REQUEST_URI", b"/api/x")
              + nv(b"AUTH_PATH", b"/api/x") + nv(b"REMOTE_ADDR", b"127.0.0.1"))
    if authorization:
        params += nv(b"HTTP_AUTHORIZATION", authorization.encode())
    if head_size:  # a padding pair that makes the begin and params records exactly head_size bytes
        pad = head_size - 32 - len(params) - 15
        params += bytes([10]) + struct.pack(">I", pad | 0x80000000) + b"HTTP_X_PAD" + b"x" * pad
    return (record(BEGIN, struct.pack(">HB5x", 1, 1 if keep else 0)) + record(PARAMS, params) + record(PARAMS, b"")
            + record(STDIN, b""))


def connect(target):
    if target.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(target[5:])
    else:
        host, port = target.rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    return s


def read_answer(s, timeout=5.0):
    """The STDOUT bytes of one answer, up to its END_REQUEST record."""
    s.settimeout(timeout)
    data, out = b"", b""
    while True:
        while len(data) >= 8:
            _, rtype, _, length, padding, _ = struct.unpack(">BBHHBB", data[:8])
            if len(data) < 8 + length + padding:
                break
            if rtype == 6:
                out += data[8:8 + length]
            data = data[8 + length + padding:]
            if rtype == END:
                return out
        chunk = s.recv(65536)
        if not chunk:
            return out
        data += chunk


def status(answer):
    for line in answer.decode("latin-1").split("\r\n"):
        if line.startswith("Status:"):
            return line.split()[1]
    return "none"


def closed_by_server(s):
    s.setblocking(False)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def main():
    args = sys.argv[1:]
    target = args[0]
    opts = dict(zip(args[1::2], args[2::2]))
    if "--check" in opts:
        s = connect(target)
        s.sendall(check_request(opts["--check"], keep=False))
        print(status(read_answer(s)))
        return
    if "--reuse" in opts:
        # libfcgi reads 8 KiB at a time: after a 16 KiB head, FCGI_STDIN's end is still unread.
        s = connect(target)
        s.sendall(check_request(opts["--reuse"], keep=True, head_size=16384))
        first = status(read_answer(s))
        try:
            s.sendall(check_request(opts["--reuse"], keep=True))
            second = status(read_answer(s))
        except OSError:
            second = "closed"
        print(first, second)
        return
    held = []
    for _ in range(int(opts.get("--idle", 0))):
        held.append(connect(target))
    head = check_request("Bearer kwk_x", keep=False)
    for _ in range(int(opts.get("--partial", 0))):
        s = connect(target)
        s.sendall(head[:len(head) // 2])
        held.append(s)
    keep = []
    for _ in range(int(opts.get("--keep", 0))):
        s = connect(target)
        s.sendall(check_request("Bearer " + opts.get("--key", "kwk_x"), keep=True))
        answer = status(read_answer(s))
        keep.append((s, answer))
    out = open(opts["--ready"], "w") if "--ready" in opts else sys.stdout
    out.write(f"held {len(held) + len(keep)} keep-answers {','.join(a for _, a in keep)}\n")
    out.flush()
    time.sleep(float(opts.get("--hold", 10)))
    closed = sum(closed_by_server(s) for s in held) + sum(closed_by_server(s) for s, _ in keep)
    print(f"closed {closed} of {len(held) + len(keep)}")


if __name__ == "__main__":
    main()
