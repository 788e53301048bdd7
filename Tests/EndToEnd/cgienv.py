#!/usr/bin/env python3
"""A WSGI application that reads the caller from the CGI environment, as WSGI, CGI and PHP apps do.

    cgienv.py PORT

Served by Python's reference WSGI server (wsgiref), which maps every request header to
HTTP_<NAME> with `-` turned into `_` and joins two headers of the same name with a comma, so a
client's `X_Auth_User: admin` beside the proxy's `X-Auth-User: alice` reads as "alice,admin".
Answers the HTTP_X_* and REMOTE_USER variables it got, as JSON. Listens on 127.0.0.1 only.
"""
import json
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server


def app(environ, start_response):
    seen = {k: v for k, v in environ.items() if k.startswith("HTTP_X_") or k == "REMOTE_USER"}
    seen["PATH_INFO"] = environ.get("PATH_INFO", "")
    body = json.dumps(seen, sort_keys=True).encode() + b"\n"
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class Quiet(WSGIRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("cgienv: " + (fmt % args) + "\n")


if __name__ == "__main__":
    make_server("127.0.0.1", int(sys.argv[1]), app, handler_class=Quiet).serve_forever()
