#!/usr/bin/env python3
"""A WSGI application that reads the caller from the CGI environment, as WSGI, CGI and PHP apps do.

    cgienv.py PORT     serve it on 127.0.0.1:PORT (wsgiref)
    cgienv.py          run by a server as a CGI program (GATEWAY_INTERFACE set): answer one request

Served by Python's reference WSGI server (wsgiref), which maps every request header to
HTTP_<NAME> with `-` turned into `_` and joins two headers of the same name with a comma, so a
client's `X_Auth_User: admin` beside the proxy's `X-Auth-User: alice` reads as "alice,admin".
As a CGI program (lighttpd mod_cgi) it sees what the server itself puts in the environment: the
authorizer's REMOTE_USER and AUTH_* beside the client's headers as HTTP_*. Answers the HTTP_X_*,
REMOTE_USER and AUTH_* variables it got, as JSON. Listens on 127.0.0.1 only.
"""
import json
import os
import sys
from wsgiref.handlers import CGIHandler
from wsgiref.simple_server import WSGIRequestHandler, make_server


def app(environ, start_response):
    seen = {k: v for k, v in environ.items() if k.startswith(("HTTP_X_", "AUTH_")) or k == "REMOTE_USER"}
    seen["PATH_INFO"] = environ.get("PATH_INFO", "")
    body = json.dumps(seen, sort_keys=True).encode() + b"\n"
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class Quiet(WSGIRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("cgienv: " + (fmt % args) + "\n")


if __name__ == "__main__":
    if "GATEWAY_INTERFACE" in os.environ:
        CGIHandler().run(app)
        sys.exit(0)
    make_server("127.0.0.1", int(sys.argv[1]), app, handler_class=Quiet).serve_forever()
