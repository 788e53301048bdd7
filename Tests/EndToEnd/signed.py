#!/usr/bin/env python3
"""Signed requests through real servers (14-signed.sh): RFC 9421 signatures made by the
`http-message-signatures` and `requests-http-signature` libraries, and the seed's Java-style
`Authorization: HMAC` made with Python's hmac, against Keyward behind nginx (with the body:
nginx/keyward-signed.conf; without: the auth_request check), Apache and lighttpd.

    signed.py CONFIG.json

CONFIG names the servers' base URLs and the credentials (written by 14-signed.sh). Prints one
`ok - ...` / `not ok - ...` line per check (tap.py), exits 1 when any failed.
"""
import base64
import datetime
import hashlib
import hmac
import json
import secrets
import sys
import time

import requests
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, load_pem_private_key
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver
from http_message_signatures.algorithms import ED25519, HMAC_SHA256
from requests_http_signature import HTTPSignatureAuth

from tap import check, expect_eq, finish, note

CONFIG = json.load(open(sys.argv[1]))
HMAC_ID = CONFIG["hmac"]["id"]
HMAC_SECRET = base64.b64decode(CONFIG["hmac"]["secret"])
ED_ID = CONFIG["ed25519"]["id"]
ED_KEY = load_pem_private_key(open(CONFIG["ed25519"]["private_key"], "rb").read(), None)
ED_PUBLIC_DER = base64.b64decode(CONFIG["ed25519"]["public_spki"])
SEED_ID = CONFIG["seed"]["id"]
SEED_SECRET = CONFIG["seed"]["secret"].encode()
NGINX = CONFIG["nginx"]
STARTED = time.time()


class Keys(HTTPSignatureKeyResolver):
    """The test's keys by id; `override` signs one request with another key (wrong key, alg swaps)."""

    override = None

    def resolve_private_key(self, key_id):
        if self.override is not None:
            return self.override
        return {HMAC_ID: HMAC_SECRET, ED_ID: ED_KEY}[key_id]

    def resolve_public_key(self, key_id):
        raise NotImplementedError


KEYS = Keys()
HMAC_SIGNER = HTTPMessageSigner(signature_algorithm=HMAC_SHA256, key_resolver=KEYS)
ED_SIGNER = HTTPMessageSigner(signature_algorithm=ED25519, key_resolver=KEYS)


def content_digest(body):
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def prepared(method, url, body=None, headers=None):
    request = requests.Request(method, url, data=body, headers=headers or {}).prepare()
    if body is not None:
        request.headers["Content-Digest"] = content_digest(body if isinstance(body, bytes) else body.encode())
    return request


def sign(request, key_id=HMAC_ID, signer=None, components=None, nonce="auto", created=None, include_alg=True, **kw):
    """Signs `request` with the library, covering @method, @target-uri and, with a body, content-digest."""
    if components is None:
        components = ["@method", "@target-uri"] + (["content-digest"] if "Content-Digest" in request.headers else [])
    (signer or (ED_SIGNER if key_id == ED_ID else HMAC_SIGNER)).sign(
        request, key_id=key_id, covered_component_ids=components,
        nonce=secrets.token_urlsafe(12) if nonce == "auto" else nonce,
        created=created or datetime.datetime.now(), include_alg=include_alg,
        use_existing_digest="Content-Digest" in request.headers, **kw)
    return request


SESSION = requests.Session()


def send(request):
    return SESSION.send(request, timeout=10)


def code(response):
    return response.headers.get("X-Auth-Error-Code", "")


def allowed(name, response, method="http-signature", body=None):
    """200 from the backend, which saw the identity (nginx) and the body as sent."""
    if not check(f"{name}: 200", response.status_code == 200, f"{response.status_code} {code(response)} {response.text[:200]}"):
        return
    seen = response.json()
    if "x-auth-method" in seen.get("headers", {}):
        expect_eq(f"{name}: the backend sees X-Auth-Method", method, seen["headers"]["x-auth-method"])
        expect_eq(f"{name}: the backend sees X-Auth-User", "alice", seen["headers"].get("x-auth-user"))
    if body is not None:
        expect_eq(f"{name}: the backend got the body as signed", hashlib.sha256(body).hexdigest(), seen.get("body_sha256"))


def refused(name, response, status, error_code):
    expect_eq(f"{name}: {status} {error_code}", (status, error_code), (response.status_code, code(response)))


def nginx_with_body():
    note("nginx with the body (nginx/keyward-signed.conf, X-Accel-Redirect to a named location)")
    url = NGINX + "/signed/orders?x=1"
    body = b'{"order": 42, "note": "signed"}'
    allowed("http-message-signatures hmac-sha256 POST", send(sign(prepared("POST", url, body))), body=body)
    allowed("http-message-signatures ed25519 PUT", send(sign(prepared("PUT", url, body), key_id=ED_ID)), body=body)
    allowed("http-message-signatures hmac-sha256 GET, no body", send(sign(prepared("GET", url))))
    allowed("@path and @query instead of @target-uri", send(sign(prepared("POST", url, body), components=["@method", "@path", "@query", "@authority", "content-digest"])), body=body)
    auth = HTTPSignatureAuth(signature_algorithm=HMAC_SHA256, key=HMAC_SECRET, key_id=HMAC_ID, use_nonce=True,
                             covered_component_ids=("@method", "@authority", "@target-uri"))
    r = SESSION.post(url, data=body, auth=auth, timeout=10)
    allowed("requests-http-signature hmac-sha256 POST (date, content-digest added by the library)", r, body=body)
    ed_pem = ED_KEY.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    r = SESSION.delete(url, auth=HTTPSignatureAuth(signature_algorithm=ED25519, key=ed_pem, key_id=ED_ID, use_nonce=True), timeout=10)
    allowed("requests-http-signature ed25519 DELETE", r)

    # Attacks, each with its code.
    tampered = sign(prepared("POST", url, body))
    tampered.body = b'{"order": 42, "note": "changed"}'
    tampered.headers["Content-Length"] = str(len(tampered.body))
    refused("tampered body", send(tampered), 401, "digest_mismatch")
    moved = sign(prepared("POST", url, body))
    moved.url = NGINX + "/signed/admin?x=1"
    refused("tampered path", send(moved), 401, "signature_invalid")
    once = sign(prepared("POST", url, body))
    allowed("a request with a nonce", send(once), body=body)
    refused("the same request again (replayed nonce)", send(once), 401, "signature_replayed")
    stale = datetime.datetime.now() - datetime.timedelta(seconds=600)
    refused("created 600 s ago", send(sign(prepared("POST", url, body), created=stale)), 401, "signature_expired")
    future = datetime.datetime.now() + datetime.timedelta(seconds=600)
    refused("created 600 s ahead", send(sign(prepared("POST", url, body), created=future)), 401, "signature_expired")
    KEYS.override = b"not the secret, but as long as one"
    refused("wrong key", send(sign(prepared("POST", url, body))), 401, "signature_invalid")
    KEYS.override = ED_PUBLIC_DER  # the public key as an HMAC secret: the classic alg confusion
    refused("ed25519 credential, HMAC with its public key (alg=hmac-sha256)", send(sign(prepared("POST", url, body), key_id=ED_ID, signer=HMAC_SIGNER)), 401, "algorithm_mismatch")
    refused("ed25519 credential, HMAC with its public key (no alg)", send(sign(prepared("POST", url, body), key_id=ED_ID, signer=HMAC_SIGNER, include_alg=False)), 401, "signature_invalid")
    KEYS.override = ED_KEY
    refused("hmac credential, signed with ed25519 (alg=ed25519)", send(sign(prepared("POST", url, body), key_id=HMAC_ID, signer=ED_SIGNER)), 401, "algorithm_mismatch")
    KEYS.override = None
    refused("content not covered by content-digest", send(sign(prepared("POST", url, body), components=["@method", "@target-uri"])), 401, "signature_incomplete")
    refused("@method not covered", send(sign(prepared("POST", url, body), components=["@target-uri", "content-digest"])), 401, "signature_incomplete")
    unknown = sign(prepared("POST", url, body), key_id=HMAC_ID)
    unknown.headers["Signature-Input"] = unknown.headers["Signature-Input"].replace(HMAC_ID, "kwh_" + "0" * 16)
    refused("unknown keyid", send(unknown), 401, "invalid_credential")
    garbled = sign(prepared("POST", url, body))
    garbled.headers["Signature-Input"] = garbled.headers["Signature-Input"].replace("(", "(@method ", 1)
    refused("malformed Signature-Input", send(garbled), 401, "signature_malformed")

    note("the seed's HMAC (Java style: Base64.getEncoder().encodeToString(HmacSHA256(secret, body)))")
    seed_body = b"<compare><a>1.pdf</a><b>2.pdf</b></compare>"
    mac = base64.b64encode(hmac.new(SEED_SECRET, seed_body, hashlib.sha256).digest()).decode()
    r = SESSION.post(url, data=seed_body, headers={"Authorization": f"HMAC {SEED_ID}:{mac}"}, timeout=10)
    allowed("Authorization: HMAC <id>:<mac>", r, method="hmac", body=seed_body)
    r = SESSION.post(url, data=seed_body + b" ", headers={"Authorization": f"HMAC {SEED_ID}:{mac}"}, timeout=10)
    refused("HMAC <id>:<mac> with a tampered body", r, 401, "signature_invalid")
    r = SESSION.post(NGINX + "/pdfc/compare", data=seed_body, headers={"Authorization": f"HMAC {mac}"}, timeout=10)
    allowed("bare Authorization: HMAC <mac> on the path bound to the credential", r, method="hmac", body=seed_body)
    r = SESSION.post(url, data=seed_body, headers={"Authorization": f"HMAC {mac}"}, timeout=10)
    refused("bare HMAC <mac> on a path bound to no credential", r, 401, "invalid_credential")
    r = SESSION.post(url, data=seed_body, headers={"Authorization": f"HMAC {HMAC_ID}:{mac}"}, timeout=10)
    refused("HMAC with another credential's id", r, 401, "signature_invalid")


def without_body(server, base, identity):
    note(f"{server}: the body does not reach the check")
    url = base + "/api/signed?x=1"
    r = send(sign(prepared("GET", url)))
    if identity:
        allowed(f"{server}: signed GET", r)
    else:
        check(f"{server}: signed GET: 200", r.status_code == 200, f"{r.status_code} {code(r)}")
    body = b'{"order": 1}'
    r = send(sign(prepared("POST", url, body)))
    refused(f"{server}: signed POST covering content-digest", r, 401, "body_unavailable")
    r = send(sign(prepared("POST", url, body), components=["@method", "@target-uri"]))
    refused(f"{server}: signed POST not covering it", r, 401, "signature_incomplete")
    seed_body = b"<compare/>"
    mac = base64.b64encode(hmac.new(SEED_SECRET, seed_body, hashlib.sha256).digest()).decode()
    r = SESSION.post(url, data=seed_body, headers={"Authorization": f"HMAC {SEED_ID}:{mac}"}, timeout=10)
    refused(f"{server}: Authorization: HMAC <id>:<mac>", r, 401, "body_unavailable")
    moved = sign(prepared("GET", url))
    moved.url = base + "/api/other?x=1"
    refused(f"{server}: tampered path", send(moved), 401, "signature_invalid")


nginx_with_body()
without_body("nginx auth_request", NGINX, True)
without_body("Apache", CONFIG["apache"], True)
without_body("lighttpd", CONFIG["lighttpd"], False)
finish("signed.py", STARTED)
