#!/usr/bin/env python3
"""Keyward's token service through nginx, driven by real client libraries.

Run by Tests/EndToEnd/02-tokens.sh, which creates the database, users, OAuth2 clients and API keys,
starts four `keyward serve` instances (one database) behind four nginx servers, and passes:

    KW_BIN, KW_DB          the keyward binary and database (for disable / rotate / ... mid-run)
    KW_FIXTURES            directory with client-<label>.json and key-<label>.json (CLI --json output)
    KW_ISSUED              file to write every issued access token to (02-tokens.sh greps logs for them)
    KW_BASE                http://127.0.0.1:PORT of the main nginx (Keyward mounted at /keyward)
    KW_ISSUER, KW_AUDIENCE the main instance's --issuer and --audience (--token-lifetime 5m)
    KW_SHORT_BASE          nginx of an instance with the same issuer/audience, --token-lifetime 2s
    KW_AUD_BASE            nginx of an instance with --audience KW_AUD_OTHER
    KW_ISS_BASE            nginx of an instance with --issuer KW_ISS_OTHER

Clients: authlib (OAuth2Session, client_secret_basic and client_secret_post, revoke_token,
introspect_token), requests (form and JSON bodies, the compatibility route, the check), PyJWT
(PyJWKClient against the JWKS, verification with the JWK's alg, aud and iss; hostile tokens).

Prints `ok - <check>` / `not ok - <check> (detail)` lines; exit 1 if any check failed.
"""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import traceback
import xml.etree.ElementTree as ET
import zlib

import jwt
import requests

from tap import check, expect_eq, finish, note, notok, ok, one
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

ENV = os.environ
BIN, DB = ENV["KW_BIN"], ENV["KW_DB"]
FIX = ENV["KW_FIXTURES"]
BASE = ENV["KW_BASE"]
ISSUER, AUDIENCE = ENV["KW_ISSUER"], ENV["KW_AUDIENCE"]
SHORT_BASE = ENV["KW_SHORT_BASE"]
AUD_BASE, AUD_OTHER = ENV["KW_AUD_BASE"], ENV["KW_AUD_OTHER"]
ISS_BASE, ISS_OTHER = ENV["KW_ISS_BASE"], ENV["KW_ISS_OTHER"]

KW = BASE + "/keyward"
TOKEN_URL = KW + "/token"
JWKS_URL = KW + "/.well-known/jwks.json"
META_URL = KW + "/.well-known/oauth-authorization-server"
INTROSPECT_URL = KW + "/introspect"
REVOKE_URL = KW + "/revoke"
COMPAT_URL = KW + "/api/ApiToken/GenerateAccessTokenFromApiToken"
TE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
API_KEY_TYPE = "urn:keyward:params:oauth:token-type:api-key"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
LIFETIME = 300   # --token-lifetime 5m
BRIEF = 120      # the `brief` client and key expire 2m after creation

ISSUED = []


# ---------------------------------------------------------------------------------------------
# Fixtures, CLI, HTTP
# ---------------------------------------------------------------------------------------------
def fixture(kind, label):
    with open(os.path.join(FIX, f"{kind}-{label}.json")) as f:
        d = json.load(f)
    if kind == "client":
        return d["client_id"], d["client_secret"]
    return d["id"], d["secret"]


def cli(*args):
    """keyward --db DB args... -> (exit status, stdout, stderr)."""
    p = subprocess.run([BIN, "--db", DB, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def cli_ok(name, *args):
    rc, out, err = cli(*args)
    check(name, rc == 0, f"exit {rc}: {err.strip()}")
    return out


HTTP = requests.Session()
HTTP.trust_env = False      # loopback only: no proxy from the environment


def js(resp):
    try:
        d = resp.json()
        return d if isinstance(d, dict) else {"_json": d}
    except Exception:
        return {}


def brief(resp):
    return f"{resp.status_code} {one(resp.text[:200])}"


def post_token(data=None, json_body=None, auth=None, headers=None, base=KW):
    return HTTP.post(base + "/token", data=data, json=json_body, auth=auth, headers=headers or {}, timeout=10)


def at(token, path="/api/reports/x", base=BASE, scheme="Bearer"):
    """The protected location: nginx auth_request -> keyward-protect.conf."""
    return HTTP.get(base + path, headers={"Authorization": f"{scheme} {token}"}, timeout=10)


def record(token):
    if token and token not in ISSUED:
        ISSUED.append(token)
        with open(ENV["KW_ISSUED"], "a") as f:
            f.write(token + "\n")


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_dec(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def scope_set(text):
    return set((text or "").split())


def cc(cid, sec, scope=None, base=KW, how="post", label=None):
    """A client-credentials token with requests; on anything but 200 a not-ok line and None."""
    data = {"grant_type": "client_credentials"}
    auth = None
    if how == "post":
        data.update(client_id=cid, client_secret=sec)
    else:
        auth = (cid, sec)
    if scope is not None:
        data["scope"] = scope
    r = post_token(data=data, auth=auth, base=base)
    if r.status_code != 200 or "access_token" not in js(r):
        notok(f"token for {label or cid}", f"expected 200 got {brief(r)}")
        return None, {}
    d = js(r)
    record(d["access_token"])
    return d["access_token"], d


def exchange(api_key, base=KW, label="api key"):
    r = post_token(data={"grant_type": TE_GRANT, "subject_token": api_key, "subject_token_type": API_KEY_TYPE}, base=base)
    if r.status_code != 200 or "access_token" not in js(r):
        notok(f"token exchange for {label}", f"expected 200 got {brief(r)}")
        return None, {}
    d = js(r)
    record(d["access_token"])
    return d["access_token"], d


def jwks():
    r = HTTP.get(JWKS_URL, timeout=10)
    return js(r).get("keys") or []


def jwks_kids():
    return {k.get("kid") for k in jwks()}


def verify(token, label, client_id=None, sub=None, scope=None, lifetime=LIFETIME, max_lifetime=None):
    """PyJWT: the JWK by kid from the JWKS, its alg, aud, iss, typ at+jwt, the contract's claims.
    One check line; returns (header, claims) or (None, None)."""
    name = f"PyJWT verifies the {label} token from the JWKS (typ at+jwt, alg from the JWK, aud, iss)"
    try:
        header = jwt.get_unverified_header(token)
        client = jwt.PyJWKClient(JWKS_URL, cache_jwk_set=False, timeout=10)
        key = client.get_signing_key_from_jwt(token)
        alg = key.algorithm_name
        claims = jwt.decode(token, key.key, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER,
                            options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]})
    except Exception as e:
        notok(name, f"{type(e).__name__}: {e}")
        return None, None
    problems = []
    if header.get("typ") != "at+jwt":
        problems.append(f"typ {header.get('typ')!r}")
    if header.get("alg") != alg:
        problems.append(f"header alg {header.get('alg')!r} but JWK alg {alg!r}")
    if not header.get("kid"):
        problems.append("no kid")
    if claims.get("aud") != AUDIENCE and claims.get("aud") != [AUDIENCE]:
        problems.append(f"aud {claims.get('aud')!r}")
    if client_id is not None and claims.get("client_id") != client_id:
        problems.append(f"client_id {claims.get('client_id')!r} not {client_id!r}")
    if sub is not None and claims.get("sub") != sub:
        problems.append(f"sub {claims.get('sub')!r} not {sub!r}")
    if scope is not None and scope_set(claims.get("scope")) != scope_set(scope):
        problems.append(f"scope {claims.get('scope')!r} not {scope!r}")
    if not isinstance(claims.get("scope"), str):
        problems.append("scope claim is not a string")
    life = claims["exp"] - claims["iat"]
    if max_lifetime is not None:
        if not 0 < life <= max_lifetime:
            problems.append(f"lifetime {life} s, expected at most {max_lifetime}")
    elif lifetime is not None and life != lifetime:
        problems.append(f"lifetime {life} s, expected {lifetime}")
    if abs(claims["iat"] - time.time()) > 120:
        problems.append(f"iat {claims['iat']} far from now")
    check(name, not problems, "; ".join(problems))
    return header, claims


def expect_response_shape(label, r, scope=None, exchange=False, max_lifetime=None):
    """The RFC 6749 §5.1 / RFC 8693 §2.2.1 success response."""
    d = js(r)
    problems = []
    if r.status_code != 200:
        problems.append(f"status {r.status_code}")
    if "json" not in r.headers.get("Content-Type", ""):
        problems.append(f"Content-Type {r.headers.get('Content-Type')!r}")
    if "no-store" not in r.headers.get("Cache-Control", ""):
        problems.append(f"Cache-Control {r.headers.get('Cache-Control')!r}")
    if not isinstance(d.get("access_token"), str) or d.get("access_token", "").count(".") != 2:
        problems.append("access_token is not a compact JWS")
    if d.get("token_type") != "Bearer":
        problems.append(f"token_type {d.get('token_type')!r}")
    ei = d.get("expires_in")
    if not isinstance(ei, int):
        problems.append(f"expires_in {ei!r} not an integer")
    elif max_lifetime is not None and not 0 < ei <= max_lifetime:
        problems.append(f"expires_in {ei} beyond {max_lifetime}")
    elif max_lifetime is None and not LIFETIME - 2 <= ei <= LIFETIME:
        problems.append(f"expires_in {ei} not ~{LIFETIME}")
    if not isinstance(d.get("scope"), str):
        problems.append(f"scope {d.get('scope')!r}")
    elif scope is not None and scope_set(d["scope"]) != scope_set(scope):
        problems.append(f"scope {d['scope']!r} not {scope!r}")
    if exchange and d.get("issued_token_type") != ACCESS_TOKEN_TYPE:
        problems.append(f"issued_token_type {d.get('issued_token_type')!r}")
    check(f"{label}: 200, Bearer, expires_in, scope, Cache-Control no-store", not problems, "; ".join(problems))


def expect_allowed(label, token, path="/api/reports/x", user="alice", base=BASE):
    r = at(token, path, base=base)
    problems = []
    if r.status_code != 200:
        problems.append(f"status {brief(r)} {r.headers.get('X-Auth-Error-Code', '')}")
    if r.headers.get("X-Seen-Method") != "jwt":
        problems.append(f"method {r.headers.get('X-Seen-Method')!r}")
    if user is not None and r.headers.get("X-Seen-User") != user:
        problems.append(f"user {r.headers.get('X-Seen-User')!r}")
    if r.status_code == 200 and js(r).get("headers", {}).get("x-auth-method") != "jwt":
        problems.append(f"backend saw X-Auth-Method {js(r).get('headers', {}).get('x-auth-method')!r}")
    return check(f"{label}: GET {path} -> 200, method jwt, user {user}", not problems, "; ".join(problems))


def expect_denied(label, token, path="/api/reports/x", status=401, error=None, base=BASE, scheme="Bearer"):
    error = error or ("invalid_token" if status == 401 else "insufficient_scope")
    r = at(token, path, base=base, scheme=scheme)
    problems = []
    if r.status_code != status:
        problems.append(f"status {r.status_code} (user {r.headers.get('X-Seen-User')!r})")
    if js(r).get("error") != error:
        problems.append(f"error {js(r).get('error')!r}")
    if status == 401 and f'error="{error}"' not in r.headers.get("WWW-Authenticate", ""):
        problems.append(f"WWW-Authenticate {r.headers.get('WWW-Authenticate')!r}")
    return check(f"{label}: GET {path} -> {status} {error}", not problems,
                 "; ".join(problems) + f"; code {r.headers.get('X-Auth-Error-Code')!r}")


def expect_oauth_error(label, r, status, error):
    d = js(r)
    problems = []
    if r.status_code != status:
        problems.append(f"status {r.status_code}")
    if d.get("error") != error:
        problems.append(f"error {d.get('error')!r} body {one(r.text[:160])!r}")
    if "json" not in r.headers.get("Content-Type", ""):
        problems.append(f"Content-Type {r.headers.get('Content-Type')!r}")
    if status == 401 and error == "invalid_client":
        wa = r.headers.get("WWW-Authenticate", "")
        if not (wa.lower().startswith("basic") and 'realm="keyward"' in wa):
            problems.append(f"WWW-Authenticate {wa!r}")
    return check(f"{label} -> {status} {error}", not problems, "; ".join(problems))


def authlib_session(cid, sec, method, scope=None):
    s = OAuth2Session(client_id=cid, client_secret=sec, token_endpoint_auth_method=method, scope=scope)
    s.trust_env = False
    return s


def crc_ok(secret):
    """The checksum of a kwc_/kwk_ secret: CRC32 of the rest as 6 base62 digits."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    body, tail = secret[:-6], secret[-6:]
    v, s = zlib.crc32(body.encode()), ""
    while True:
        s = alphabet[v % 62] + s
        v //= 62
        if v == 0:
            break
    return s.rjust(6, "0") == tail


def with_checksum(body):
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    v, s = zlib.crc32(body.encode()), ""
    while True:
        s = alphabet[v % 62] + s
        v //= 62
        if v == 0:
            break
    return body + s.rjust(6, "0")


# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------
SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


C = {label: fixture("client", label) for label in ("reports", "all", "doomed", "carol", "regen", "gone", "brief", "bob")}
K = {label: fixture("key", label) for label in ("x", "xscoped", "xdoomed", "carol", "brief")}
STATE = {}


@scenario
def short_lived_token():
    """a 2 s token from the --token-lifetime 2s instance (its expiry is checked at the end)"""
    cid, sec = C["all"]
    tok, d = cc(cid, sec, base=SHORT_BASE + "/keyward", label="the 2 s instance")
    if not tok:
        return
    STATE["short"] = tok
    STATE["short_exp"] = jwt.decode(tok, options={"verify_signature": False})["exp"]
    check("2 s instance: expires_in is 2", d.get("expires_in") in (1, 2), f"expires_in {d.get('expires_in')!r}")
    expect_allowed("a token of another instance (same keys, iss, aud) passes the main check", tok, "/api/x")


@scenario
def metadata():
    """RFC 8414 metadata"""
    r = HTTP.get(META_URL, timeout=10)
    d = js(r)
    check("GET /keyward/.well-known/oauth-authorization-server -> 200 JSON", r.status_code == 200 and d, brief(r))
    expect_eq("metadata issuer is --issuer", ISSUER, d.get("issuer"))
    r2 = HTTP.get(BASE + "/.well-known/oauth-authorization-server/keyward", timeout=10)
    check("RFC 8414 §3.1 path /.well-known/oauth-authorization-server/keyward -> the same metadata",
          r2.status_code == 200 and js(r2) == d, brief(r2))
    expect_eq("metadata token_endpoint", ISSUER + "/token", d.get("token_endpoint"))
    expect_eq("metadata jwks_uri", ISSUER + "/.well-known/jwks.json", d.get("jwks_uri"))
    expect_eq("metadata introspection_endpoint", ISSUER + "/introspect", d.get("introspection_endpoint"))
    expect_eq("metadata revocation_endpoint", ISSUER + "/revoke", d.get("revocation_endpoint"))
    g = set(d.get("grant_types_supported") or [])
    check("metadata grant_types_supported has client_credentials and token-exchange",
          {"client_credentials", TE_GRANT} <= g, f"got {sorted(g)}")
    m = set(d.get("token_endpoint_auth_methods_supported") or [])
    check("metadata token_endpoint_auth_methods_supported has client_secret_basic and client_secret_post",
          {"client_secret_basic", "client_secret_post"} <= m, f"got {sorted(m)}")
    STATE["meta"] = d


@scenario
def jwks_document():
    """the JWKS"""
    r = HTTP.get(JWKS_URL, timeout=10)
    keys = js(r).get("keys")
    check("GET /keyward/.well-known/jwks.json -> 200 {keys: [...]}", r.status_code == 200 and isinstance(keys, list) and keys, brief(r))
    keys = keys or []
    problems = []
    for k in keys:
        for member in ("kid", "alg"):
            if not k.get(member):
                problems.append(f"{k.get('kid')}: no {member}")
        if k.get("use") != "sig":
            problems.append(f"{k.get('kid')}: use {k.get('use')!r}")
        private = {"d", "p", "q", "dp", "dq", "qi"} & set(k)
        if private:
            problems.append(f"{k.get('kid')}: private members {sorted(private)}")
    check("every JWK has kid, alg, use sig and no private part", not problems, "; ".join(problems))
    rc, out, err = cli("signing-key", "list", "--json")
    listed = {k.get("kid") for k in json.loads(out)} if rc == 0 else set()
    expect_eq("the JWKS publishes exactly the signing keys of `signing-key list`", listed, {k.get("kid") for k in keys})
    ec = [k for k in keys if k.get("alg") == "ES256"]
    check("the ES256 JWK is an EC P-256 key", ec and ec[0].get("kty") == "EC" and ec[0].get("crv") == "P-256",
          f"got {ec[:1]}")
    try:
        jwt.PyJWKSet.from_dict({"keys": keys})
        ok("PyJWT loads the JWKS (PyJWKSet)")
    except Exception as e:
        notok("PyJWT loads the JWKS (PyJWKSet)", f"{type(e).__name__}: {e}")


@scenario
def authlib_basic():
    """authlib client_credentials, client_secret_basic"""
    cid, sec = C["reports"]
    s = authlib_session(cid, sec, "client_secret_basic")
    token_url = STATE.get("meta", {}).get("token_endpoint") or TOKEN_URL
    try:
        t = s.fetch_token(token_url, grant_type="client_credentials")
    except Exception as e:
        notok("authlib client_secret_basic: fetch_token", f"{type(e).__name__}: {e}")
        return
    ok("authlib client_secret_basic: fetch_token via the metadata's token_endpoint")
    record(t.get("access_token"))
    expect_eq("authlib client_secret_basic: token_type Bearer", "Bearer", t.get("token_type"))
    check("authlib client_secret_basic: expires_in ~ --token-lifetime", LIFETIME - 2 <= (t.get("expires_in") or 0) <= LIFETIME,
          f"expires_in {t.get('expires_in')!r}")
    expect_eq("authlib client_secret_basic: no scope asked -> all of the client's scopes echoed",
              {"/api/reports/", "/api/data/"}, scope_set(t.get("scope")))
    verify(t["access_token"], "client_secret_basic", client_id=cid, sub="alice", scope="/api/reports/ /api/data/")
    r = s.get(BASE + "/api/reports/q3", timeout=10)        # authlib adds the Bearer header
    check("authlib session GET /api/reports/q3 -> 200, method jwt, user alice",
          r.status_code == 200 and r.headers.get("X-Seen-Method") == "jwt" and r.headers.get("X-Seen-User") == "alice",
          f"{r.status_code} method {r.headers.get('X-Seen-Method')!r} user {r.headers.get('X-Seen-User')!r}")
    note(f"the check reports credential {r.headers.get('X-Seen-Credential')!r} and scopes {r.headers.get('X-Seen-Scopes')!r} for a client token")
    r = s.get(BASE + "/api/data/q3", timeout=10)
    expect_eq("authlib session GET /api/data/q3 (second client scope) -> 200", 200, r.status_code)
    r = s.get(BASE + "/api/other/x", timeout=10)
    check("authlib session GET /api/other/x (outside the token's scope) -> 403 insufficient_scope",
          r.status_code == 403 and js(r).get("error") == "insufficient_scope", brief(r))
    STATE["reports_token"] = t["access_token"]


@scenario
def authlib_post():
    """authlib client_credentials, client_secret_post, narrowed scope"""
    cid, sec = C["reports"]
    s = authlib_session(cid, sec, "client_secret_post", scope="/api/reports/")
    try:
        t = s.fetch_token(TOKEN_URL, grant_type="client_credentials")
    except Exception as e:
        notok("authlib client_secret_post: fetch_token", f"{type(e).__name__}: {e}")
        return
    ok("authlib client_secret_post: fetch_token")
    record(t.get("access_token"))
    expect_eq("authlib client_secret_post: scope narrowed to /api/reports/", "/api/reports/", t.get("scope"))
    verify(t["access_token"], "client_secret_post", client_id=cid, sub="alice", scope="/api/reports/")
    r = s.get(BASE + "/api/reports/x", timeout=10)
    check("authlib session (post) GET /api/reports/x -> 200 jwt",
          r.status_code == 200 and r.headers.get("X-Seen-Method") == "jwt", brief(r))
    expect_denied("narrowed token outside its scope (client has /api/data/, the token not)", t["access_token"], "/api/data/x", 403)
    # authlib with wrong credentials: OAuthError invalid_client
    bad = authlib_session(cid, sec[:-6] + ("000000" if not sec.endswith("000000") else "111111"), "client_secret_basic")
    try:
        bad.fetch_token(TOKEN_URL, grant_type="client_credentials")
        notok("authlib with a wrong secret raises OAuthError invalid_client", "a token was issued")
    except OAuthError as e:
        expect_eq("authlib with a wrong secret raises OAuthError invalid_client", "invalid_client", e.error)
    except Exception as e:
        notok("authlib with a wrong secret raises OAuthError invalid_client", f"{type(e).__name__}: {e}")


@scenario
def requests_bodies():
    """form and JSON bodies with requests"""
    cid, sec = C["all"]
    r = post_token(data={"grant_type": "client_credentials", "client_id": cid, "client_secret": sec})
    expect_response_shape("form body (client_secret_post)", r, scope="/api/")
    if js(r).get("access_token"):
        record(js(r)["access_token"])
        verify(js(r)["access_token"], "form-body", client_id=cid, sub="alice", scope="/api/")
        expect_allowed("form-body token", js(r)["access_token"], "/api/anything")
    r = post_token(json_body={"grant_type": "client_credentials", "client_id": cid, "client_secret": sec})
    expect_response_shape("JSON body", r, scope="/api/")
    if js(r).get("access_token"):
        record(js(r)["access_token"])
        verify(js(r)["access_token"], "JSON-body", client_id=cid, sub="alice", scope="/api/")
        expect_allowed("JSON-body token", js(r)["access_token"], "/api/anything")
    r = post_token(json_body={"grant_type": "client_credentials", "client_id": cid, "client_secret": sec,
                              "scope": "/api/reports/"})
    expect_eq("JSON body with scope -> narrowed scope", "/api/reports/", js(r).get("scope"))
    record(js(r).get("access_token"))
    r = post_token(data={"grant_type": "client_credentials"}, auth=(cid, sec))
    expect_response_shape("Basic header with requests", r, scope="/api/")
    record(js(r).get("access_token"))
    a, b = cc(cid, sec, label="jti 1")[0], cc(cid, sec, label="jti 2")[0]
    if a and b:
        ja = jwt.decode(a, options={"verify_signature": False}).get("jti")
        jb = jwt.decode(b, options={"verify_signature": False}).get("jti")
        check("two tokens have different jti", ja and jb and ja != jb, f"{ja!r} {jb!r}")


@scenario
def basic_wins():
    """Basic header wins over the body; RFC 6749 §2.3.1 form-urlencoding"""
    cid, sec = C["all"]
    wrong = with_checksum(sec[:-6][:-4] + "Zz9y")
    r = post_token(data={"grant_type": "client_credentials", "client_id": cid, "client_secret": wrong}, auth=(cid, sec))
    check("right secret in Basic, wrong one in the form body -> 200 (Basic wins)", r.status_code == 200, brief(r))
    record(js(r).get("access_token"))
    r = post_token(json_body={"grant_type": "client_credentials", "client_id": cid, "client_secret": wrong}, auth=(cid, sec))
    check("right secret in Basic, wrong one in the JSON body -> 200 (Basic wins)", r.status_code == 200, brief(r))
    record(js(r).get("access_token"))
    r = post_token(data={"grant_type": "client_credentials", "client_id": cid, "client_secret": sec}, auth=(cid, wrong))
    expect_oauth_error("wrong secret in Basic, right one in the body (Basic wins)", r, 401, "invalid_client")
    # RFC 6749 §2.3.1: id and secret are form-urlencoded before Base64; '_' may arrive as %5F.
    enc = base64.b64encode(f"{cid.replace('_', '%5F')}:{sec.replace('_', '%5F')}".encode()).decode()
    r = post_token(data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic " + enc})
    check("Basic credentials form-urlencoded (kwc%5F...) are decoded (RFC 6749 §2.3.1)", r.status_code == 200, brief(r))
    record(js(r).get("access_token"))


@scenario
def scopes():
    """scope narrowing and invalid_scope"""
    cid, sec = C["reports"]
    tok, d = cc(cid, sec, scope="/api/reports/ /api/data/", label="two scopes")
    expect_eq("two requested scopes -> both granted", {"/api/reports/", "/api/data/"}, scope_set(d.get("scope")))
    tok, d = cc(cid, sec, scope="/api/reports/q1/", label="sub-scope")
    if tok:
        expect_eq("a scope within the client's (/api/reports/q1/) -> granted as asked", "/api/reports/q1/", d.get("scope"))
        verify(tok, "sub-scope", client_id=cid, scope="/api/reports/q1/")
        expect_allowed("sub-scope token inside", tok, "/api/reports/q1/sales")
        expect_denied("sub-scope token on its parent scope's other path", tok, "/api/reports/q2/sales", 403)
    for label, scope in (("broader than the client's (/api/)", "/api/"),
                         ("unrelated (/admin/)", "/admin/"),
                         ("one good, one outside", "/api/reports/ /admin/")):
        r = post_token(data={"grant_type": "client_credentials", "scope": scope}, auth=(cid, sec))
        expect_oauth_error(f"scope {label}", r, 400, "invalid_scope")


@scenario
def token_errors():
    """RFC 6749 §5.2 errors"""
    cid, sec = C["all"]
    wrong = with_checksum(sec[:-6][:-4] + "Zz9y")
    unknown_id = "kwc_" + "Q" * 16
    unknown = with_checksum(f"{unknown_id}_" + "a" * 32)
    r = post_token(data={"grant_type": "client_credentials", "client_id": cid, "client_secret": wrong})
    expect_oauth_error("wrong client secret in the form body", r, 401, "invalid_client")
    r = post_token(data={"grant_type": "client_credentials"}, auth=(cid, wrong))
    expect_oauth_error("wrong client secret in Basic", r, 401, "invalid_client")
    r = post_token(json_body={"grant_type": "client_credentials", "client_id": cid, "client_secret": wrong})
    expect_oauth_error("wrong client secret in a JSON body", r, 401, "invalid_client")
    r = post_token(data={"grant_type": "client_credentials"}, auth=(unknown_id, unknown))
    expect_oauth_error("unknown client (well-formed, valid checksum)", r, 401, "invalid_client")
    r = post_token(data={"grant_type": "client_credentials"}, auth=(cid, sec[:-1] + ("a" if sec[-1] != "a" else "b")))
    expect_oauth_error("client secret with a bad checksum", r, 401, "invalid_client")
    r = post_token(data={"grant_type": "client_credentials"}, auth=(cid, sec.replace("kwc_", "kwk_", 1)))
    expect_oauth_error("an API-key-shaped secret as client secret", r, 401, "invalid_client")
    r = post_token(data={"grant_type": "client_credentials"})
    expect_oauth_error("no client authentication at all", r, 401, "invalid_client")
    r = post_token(data={"grant_type": "password", "username": "alice", "password": "x"}, auth=(cid, sec))
    expect_oauth_error("grant_type=password", r, 400, "unsupported_grant_type")
    r = post_token(data={"grant_type": "authorization_code", "code": "x"}, auth=(cid, sec))
    expect_oauth_error("grant_type=authorization_code", r, 400, "unsupported_grant_type")
    r = post_token(data={"client_id": cid, "client_secret": sec})
    expect_oauth_error("no grant_type", r, 400, "invalid_request")
    r = post_token(data="grant_type=client_credentials", auth=(cid, sec), headers={"Content-Type": "text/plain"})
    expect_oauth_error("Content-Type text/plain", r, 400, "invalid_request")
    r = post_token(data=b"{not json", auth=(cid, sec), headers={"Content-Type": "application/json"})
    expect_oauth_error("malformed JSON body", r, 400, "invalid_request")
    r = HTTP.get(TOKEN_URL, params={"grant_type": "client_credentials", "client_id": cid, "client_secret": sec}, timeout=10)
    check("GET /keyward/token (credentials in the query) is refused with a 4xx", 400 <= r.status_code < 500 and "access_token" not in js(r), brief(r))


@scenario
def xml_response():
    """Accept: application/xml"""
    cid, sec = C["all"]
    r = post_token(data={"grant_type": "client_credentials"}, auth=(cid, sec), headers={"Accept": "application/xml"})
    check("Accept: application/xml -> 200 with an XML Content-Type", r.status_code == 200 and "xml" in r.headers.get("Content-Type", ""),
          f"{r.status_code} {r.headers.get('Content-Type')!r}")
    check("XML response has Cache-Control no-store", "no-store" in r.headers.get("Cache-Control", ""), r.headers.get("Cache-Control"))
    try:
        root = ET.fromstring(r.content)
    except ET.ParseError as e:
        notok("XML response parses", f"{e}: {one(r.text[:200])}")
        return
    ok("XML response parses")
    fields = {el.tag.split("}")[-1]: (el.text or "") for el in root.iter()}
    missing = [f for f in ("access_token", "token_type", "expires_in", "scope") if f not in fields]
    check("XML has access_token, token_type, expires_in, scope", not missing, f"missing {missing}: {one(r.text[:200])}")
    expect_eq("XML token_type", "Bearer", fields.get("token_type"))
    check("XML expires_in ~ lifetime", fields.get("expires_in", "").strip().isdigit() and LIFETIME - 2 <= int(fields["expires_in"]) <= LIFETIME,
          repr(fields.get("expires_in")))
    expect_eq("XML scope", "/api/", fields.get("scope"))
    tok = (fields.get("access_token") or "").strip()
    record(tok)
    if tok:
        verify(tok, "XML", client_id=cid, sub="alice", scope="/api/")
        expect_allowed("XML-issued token", tok, "/api/x")


@scenario
def token_exchange():
    """token exchange (RFC 8693) of an API key"""
    kid, key = K["x"]
    r = post_token(data={"grant_type": TE_GRANT, "subject_token": key, "subject_token_type": API_KEY_TYPE})
    expect_response_shape("token exchange", r, exchange=True)
    tok = js(r).get("access_token")
    if tok:
        record(tok)
        verify(tok, "exchanged", client_id=kid, sub="alice")
        expect_allowed("exchanged token", tok, "/api/anything")
        note(f"the check reports credential {at(tok, '/api/anything').headers.get('X-Seen-Credential')!r} for an exchanged token")
        STATE["exchanged"] = tok
    r = post_token(json_body={"grant_type": TE_GRANT, "subject_token": key, "subject_token_type": API_KEY_TYPE})
    check("token exchange with a JSON body -> 200", r.status_code == 200 and js(r).get("access_token"), brief(r))
    record(js(r).get("access_token"))
    skid, skey = K["xscoped"]
    tok, d = exchange(skey, label="a scoped key")
    if tok:
        expect_eq("exchanged token of a scoped key carries the key's scope", "/api/reports/", d.get("scope"))
        verify(tok, "scoped-exchanged", client_id=skid, sub="alice", scope="/api/reports/")
        expect_allowed("scoped exchanged token inside", tok, "/api/reports/x")
        expect_denied("scoped exchanged token outside", tok, "/api/data/x", 403)
    unknown = with_checksum("kwk_" + "Q" * 16 + "_" + "a" * 32)
    for label, subject in (("unknown API key", unknown), ("wrong secret for a real key id", with_checksum(key[:-6][:-4] + "Zz9y")),
                           ("garbage subject_token", "not-a-key")):
        r = post_token(data={"grant_type": TE_GRANT, "subject_token": subject, "subject_token_type": API_KEY_TYPE})
        # RFC 8693 §2.2.2: an invalid subject_token is invalid_request
        expect_oauth_error(f"token exchange with {label}", r, 400, "invalid_request")
    r = post_token(data={"grant_type": TE_GRANT, "subject_token_type": API_KEY_TYPE})
    expect_oauth_error("token exchange without subject_token", r, 400, "invalid_request")
    r = post_token(data={"grant_type": TE_GRANT, "subject_token": key})
    expect_oauth_error("token exchange without subject_token_type", r, 400, "invalid_request")
    r = post_token(data={"grant_type": TE_GRANT, "subject_token": key, "subject_token_type": ACCESS_TOKEN_TYPE})
    check("token exchange of an API key named an access_token -> 400 invalid_request, no token",
          r.status_code == 400 and js(r).get("error") == "invalid_request" and "access_token" not in js(r), brief(r))
    # An access token is not an API key: exchanging one must not mint a fresh token.
    if STATE.get("exchanged"):
        r = post_token(data={"grant_type": TE_GRANT, "subject_token": STATE["exchanged"], "subject_token_type": API_KEY_TYPE})
        check("an access token as subject_token (api-key type) -> 400, no token",
              r.status_code == 400 and "access_token" not in js(r), brief(r))


@scenario
def compat_route():
    """POST /keyward/api/ApiToken/GenerateAccessTokenFromApiToken"""
    kid, key = K["x"]
    r = HTTP.post(COMPAT_URL, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    expect_response_shape("compatibility route", r, exchange=True)
    tok = js(r).get("access_token")
    if tok:
        record(tok)
        verify(tok, "compatibility-route", client_id=kid, sub="alice")
        expect_allowed("compatibility-route token", tok, "/api/anything")
    unknown = with_checksum("kwk_" + "Q" * 16 + "_" + "a" * 32)
    r = HTTP.post(COMPAT_URL, headers={"Authorization": f"Bearer {unknown}"}, timeout=10)
    check("compatibility route with an unknown key -> 4xx, no token", 400 <= r.status_code < 500 and "access_token" not in js(r), brief(r))
    r = HTTP.post(COMPAT_URL, timeout=10)
    check("compatibility route without a key -> 4xx, no token", 400 <= r.status_code < 500 and "access_token" not in js(r), brief(r))


@scenario
def parent_expiry():
    """token lifetime never beyond the parent credential's expiry"""
    cid, sec = C["brief"]
    tok, d = cc(cid, sec, label="the 2m client")
    if tok:
        check("client expiring in 2m: expires_in <= 120", 0 < (d.get("expires_in") or 0) <= BRIEF, f"expires_in {d.get('expires_in')!r}")
        verify(tok, "2m-client", client_id=cid, max_lifetime=BRIEF)
    kid, key = K["brief"]
    tok, d = exchange(key, label="the 2m key")
    if tok:
        check("API key expiring in 2m: expires_in <= 120", 0 < (d.get("expires_in") or 0) <= BRIEF, f"expires_in {d.get('expires_in')!r}")
        verify(tok, "2m-key", client_id=kid, max_lifetime=BRIEF)


@scenario
def introspection():
    """RFC 7662 introspection (authlib and requests)"""
    cid, sec = C["all"]
    tok, _ = cc(cid, sec, label="introspection subject")
    if not tok:
        return
    claims = jwt.decode(tok, options={"verify_signature": False})
    s = authlib_session(cid, sec, "client_secret_basic")
    r = s.introspect_token(INTROSPECT_URL, token=tok, token_type_hint="access_token")
    d = js(r)
    check("authlib introspect_token (Basic) -> 200 active true", r.status_code == 200 and d.get("active") is True, brief(r))
    expect_eq("introspection scope", "/api/", d.get("scope"))
    expect_eq("introspection client_id", cid, d.get("client_id"))
    expect_eq("introspection sub", "alice", d.get("sub"))
    expect_eq("introspection exp is the token's", claims["exp"], d.get("exp"))
    check("introspection Content-Type is JSON", "json" in r.headers.get("Content-Type", ""), r.headers.get("Content-Type"))
    r = HTTP.post(INTROSPECT_URL, data={"token": tok, "client_id": cid, "client_secret": sec}, timeout=10)
    check("introspect with client credentials in the form body -> active true", r.status_code == 200 and js(r).get("active") is True, brief(r))
    r = HTTP.post(INTROSPECT_URL, data={"token": "garbage.token.value"}, auth=(cid, sec), timeout=10)
    check("introspect a garbage token -> 200 active false", r.status_code == 200 and js(r).get("active") is False, brief(r))
    expect_eq("introspection of an inactive token says nothing else", {"active": False}, js(r))
    r = HTTP.post(INTROSPECT_URL, data={"token": tok}, timeout=10)
    expect_oauth_error("introspect without client authentication", r, 401, "invalid_client")
    r = HTTP.post(INTROSPECT_URL, data={"token": tok}, auth=(cid, with_checksum(sec[:-6][:-4] + "Zz9y")), timeout=10)
    expect_oauth_error("introspect with a wrong client secret", r, 401, "invalid_client")
    if STATE.get("exchanged"):
        r = HTTP.post(INTROSPECT_URL, data={"token": STATE["exchanged"]}, auth=(cid, sec), timeout=10)
        check("introspect an exchanged token -> active true, client_id is the API key",
              js(r).get("active") is True and js(r).get("client_id") == K["x"][0], brief(r))
    STATE["introspected"] = tok


@scenario
def revocation():
    """RFC 7009 revocation (authlib and requests)"""
    cid, sec = C["all"]
    keep, _ = cc(cid, sec, label="a token that stays")
    gone, _ = cc(cid, sec, label="a token to revoke (authlib)")
    gone2, _ = cc(cid, sec, label="a token to revoke (form auth)")
    if not (keep and gone and gone2):
        return
    expect_allowed("before revocation", gone, "/api/x")
    s = authlib_session(cid, sec, "client_secret_basic")
    r = s.revoke_token(REVOKE_URL, token=gone, token_type_hint="access_token")
    expect_eq("authlib revoke_token (Basic) -> 200", 200, r.status_code)
    expect_denied("revoked token at the next check", gone, "/api/x")
    r = HTTP.post(INTROSPECT_URL, data={"token": gone}, auth=(cid, sec), timeout=10)
    check("introspect a revoked token -> active false", r.status_code == 200 and js(r).get("active") is False, brief(r))
    expect_allowed("another token of the same client still passes", keep, "/api/x")
    r = HTTP.post(REVOKE_URL, data={"token": gone2, "client_id": cid, "client_secret": sec}, timeout=10)
    expect_eq("revoke with client credentials in the form body -> 200", 200, r.status_code)
    expect_denied("token revoked with form auth at the next check", gone2, "/api/x")
    r = HTTP.post(REVOKE_URL, data={"token": gone}, auth=(cid, sec), timeout=10)
    expect_eq("revoking again -> 200 (RFC 7009 §2.2)", 200, r.status_code)
    r = HTTP.post(REVOKE_URL, data={"token": "garbage"}, auth=(cid, sec), timeout=10)
    expect_eq("revoking a garbage token -> 200 (RFC 7009 §2.2)", 200, r.status_code)
    r = HTTP.post(REVOKE_URL, data={"token": keep}, timeout=10)
    expect_oauth_error("revoke without client authentication", r, 401, "invalid_client")
    expect_allowed("a failed revocation leaves the token valid", keep, "/api/x")
    r = HTTP.post(REVOKE_URL, data={"token": keep}, auth=(cid, with_checksum(sec[:-6][:-4] + "Zz9y")), timeout=10)
    expect_oauth_error("revoke with a wrong client secret", r, 401, "invalid_client")
    for name, base in (("the 2 s instance", SHORT_BASE), ("the other-audience instance", AUD_BASE)):
        expect_denied(f"revoked token at {name}'s check", gone, "/api/x", base=base)
    # RFC 7009 §2.1: the server refuses to revoke a token that was not issued to the requesting client
    # whatever its owner. Bob's client cannot revoke Alice's token.
    bid, bsec = C["bob"]
    r = HTTP.post(REVOKE_URL, data={"token": keep}, auth=(bid, bsec), timeout=10)
    check("another user's client cannot revoke the token (4xx)", 400 <= r.status_code < 500 and r.status_code != 401, brief(r))
    expect_allowed("a token another user's client tried to revoke", keep, "/api/x")


@scenario
def disable_parent_key():
    """disabling the parent API key"""
    kid, key = K["xdoomed"]
    tok, _ = exchange(key, label="the doomed key")
    r = HTTP.post(COMPAT_URL, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    tok2 = js(r).get("access_token")
    record(tok2)
    if not (tok and tok2):
        notok("tokens from the doomed key", brief(r))
        return
    expect_allowed("exchanged token before `key disable`", tok, "/api/x")
    cli_ok("keyward key disable exits 0", "key", "disable", kid)
    expect_denied("exchanged token after its key was disabled", tok, "/api/x")
    expect_denied("compatibility-route token after its key was disabled", tok2, "/api/x")
    cid, sec = C["all"]
    r = HTTP.post(INTROSPECT_URL, data={"token": tok}, auth=(cid, sec), timeout=10)
    check("introspect a token whose key is disabled -> active false", js(r).get("active") is False, brief(r))
    r = post_token(data={"grant_type": TE_GRANT, "subject_token": key, "subject_token_type": API_KEY_TYPE})
    expect_oauth_error("token exchange with a disabled key", r, 400, "invalid_request")
    r = HTTP.post(COMPAT_URL, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    check("compatibility route with a disabled key -> 4xx, no token", 400 <= r.status_code < 500 and "access_token" not in js(r), brief(r))


@scenario
def disable_client():
    """disabling and enabling the client"""
    cid, sec = C["doomed"]
    tok, _ = cc(cid, sec, label="the doomed client")
    if not tok:
        return
    expect_allowed("client token before `client disable`", tok, "/api/x")
    cli_ok("keyward client disable exits 0", "client", "disable", cid)
    expect_denied("client token after its client was disabled", tok, "/api/x")
    r = post_token(data={"grant_type": "client_credentials"}, auth=(cid, sec))
    expect_oauth_error("token request of a disabled client", r, 401, "invalid_client")
    a, asec = C["all"]
    r = HTTP.post(INTROSPECT_URL, data={"token": tok}, auth=(a, asec), timeout=10)
    check("introspect a token whose client is disabled -> active false", js(r).get("active") is False, brief(r))
    r = HTTP.post(INTROSPECT_URL, data={"token": tok}, auth=(cid, sec), timeout=10)
    expect_oauth_error("a disabled client cannot introspect", r, 401, "invalid_client")
    cli_ok("keyward client enable exits 0", "client", "enable", cid)
    tok2, _ = cc(cid, sec, label="the re-enabled client")
    if tok2:
        expect_allowed("token of the re-enabled client", tok2, "/api/x")


@scenario
def disable_user():
    """disabling the user behind a client and a key"""
    cid, sec = C["carol"]
    kid, key = K["carol"]
    ctok, _ = cc(cid, sec, label="carol's client")
    ktok, _ = exchange(key, label="carol's key")
    if not (ctok and ktok):
        return
    expect_allowed("carol's client token before `user disable`", ctok, "/api/x", user="carol")
    expect_allowed("carol's exchanged token before `user disable`", ktok, "/api/x", user="carol")
    cli_ok("keyward user disable carol exits 0", "user", "disable", "carol")
    expect_denied("carol's client token after her user was disabled", ctok, "/api/x")
    expect_denied("carol's exchanged token after her user was disabled", ktok, "/api/x")
    r = post_token(data={"grant_type": "client_credentials"}, auth=(cid, sec))
    check("token request of a disabled user's client -> 4xx, no token", 400 <= r.status_code < 500 and "access_token" not in js(r), brief(r))
    r = post_token(data={"grant_type": TE_GRANT, "subject_token": key, "subject_token_type": API_KEY_TYPE})
    expect_oauth_error("token exchange with a disabled user's key", r, 400, "invalid_request")


@scenario
def client_lifecycle():
    """client regenerate and delete"""
    cid, sec = C["regen"]
    rc, out, err = cli("client", "regenerate", cid, "--json")
    check("keyward client regenerate exits 0", rc == 0, f"exit {rc}: {err.strip()}")
    try:
        d = json.loads(out)
    except Exception:
        d = {}
    new = d.get("client_secret", "")
    expect_eq("client regenerate keeps the client_id", cid, d.get("client_id"))
    check("client regenerate issues a new, well-formed secret", new and new != sec and new.startswith(cid + "_") and crc_ok(new),
          f"{new[:20]!r}")
    r = post_token(data={"grant_type": "client_credentials"}, auth=(cid, sec))
    expect_oauth_error("the old secret after regenerate", r, 401, "invalid_client")
    if new:
        time.sleep(1.1)                 # tokens of the regeneration's own second are revoked with the old secret's
        tok, _ = cc(cid, new, label="the regenerated secret")
        if tok:
            expect_allowed("token of the regenerated secret", tok, "/api/x", user="bob")
    check("issued client secrets carry a valid CRC32 checksum", crc_ok(C["all"][1]), C["all"][1][:20])
    gid, gsec = C["gone"]
    tok, _ = cc(gid, gsec, label="the client to delete")
    if tok:
        expect_allowed("token before `client delete`", tok, "/api/x", user="bob")
    cli_ok("keyward client delete exits 0", "client", "delete", gid)
    if tok:
        expect_denied("token of a deleted client", tok, "/api/x")
    r = post_token(data={"grant_type": "client_credentials"}, auth=(gid, gsec))
    expect_oauth_error("token request of a deleted client", r, 401, "invalid_client")
    rc, out, err = cli("client", "show", gid, "--json")
    check("client show of a deleted client is refused (exit 1)", rc == 1, f"exit {rc}")


def public_key_material(jwk_dict):
    """Byte strings an attacker would try as an HMAC secret: the public key in every common form."""
    key = jwt.PyJWK(jwk_dict).key
    out = {
        "PEM SubjectPublicKeyInfo": key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "DER SubjectPublicKeyInfo": key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "JWK JSON": json.dumps(jwk_dict).encode(),
    }
    if isinstance(key, ed25519.Ed25519PublicKey):
        out["raw 32-byte key"] = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        out["base64url x"] = jwk_dict["x"].encode()
    elif isinstance(key, ec.EllipticCurvePublicKey):
        out["uncompressed point"] = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    elif isinstance(key, rsa.RSAPublicKey):
        out["PEM PKCS#1"] = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        out["base64url n"] = jwk_dict["n"].encode()
    return out


def forge(header, payload, signature=b""):
    h = b64u(json.dumps(header, separators=(",", ":")).encode())
    p = b64u(json.dumps(payload, separators=(",", ":")).encode())
    return f"{h}.{p}.{b64u(signature)}"


def attacks(real, label):
    """RFC 8725 attacks on the check, built from a real token `real` (scope /api/, user alice)."""
    h_b64, p_b64, s_b64 = real.split(".")
    header = json.loads(b64u_dec(h_b64))
    payload = json.loads(b64u_dec(p_b64))
    kid = header["kid"]
    jwk_dict = next((k for k in jwks() if k.get("kid") == kid), None)
    expect_allowed(f"[{label}] control: the genuine token", real, "/api/x")

    # alg none (RFC 8725 §2.1, §3.1)
    for alg in ("none", "None", "NONE"):
        expect_denied(f"[{label}] alg {alg}, empty signature", forge({**header, "alg": alg}, payload), "/api/x")
    expect_denied(f"[{label}] alg none with the genuine signature kept",
                  forge({**header, "alg": "none"}, payload, b64u_dec(s_b64)), "/api/x")
    expect_denied(f"[{label}] no signature segment at all", f"{h_b64}.{p_b64}", "/api/x")
    expect_denied(f"[{label}] empty signature", f"{h_b64}.{p_b64}.", "/api/x")

    # HS256 keyed with the public key (RFC 8725 §2.1 algorithm confusion)
    if jwk_dict:
        for what, secret in public_key_material(jwk_dict).items():
            for alg, digest in (("HS256", hashlib.sha256),):
                h = {**header, "alg": alg}
                signing_input = f"{b64u(json.dumps(h, separators=(',', ':')).encode())}.{p_b64}"
                sig = hmac.new(secret, signing_input.encode(), digest).digest()
                expect_denied(f"[{label}] {alg} signed with the public key ({what})", f"{signing_input}.{b64u(sig)}", "/api/x")
    else:
        notok(f"[{label}] the token's kid is in the JWKS", kid)

    # alg swapped to another asymmetric algorithm, same kid, genuine signature
    for alg in ("RS256", "ES256", "EdDSA", "Ed25519", "PS256"):
        if alg != header["alg"]:
            h = {**header, "alg": alg}
            expect_denied(f"[{label}] header alg changed to {alg} (genuine signature)",
                          f"{b64u(json.dumps(h, separators=(',', ':')).encode())}.{p_b64}.{s_b64}", "/api/x")

    # Keys we hold, Keyward does not: unknown kid, real kid, embedded jwk, jku
    mine = ed25519.Ed25519PrivateKey.generate()
    mine_pub = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(mine.public_key()))
    forged_payload = {**payload, "jti": payload["jti"] + "x"}
    tok = jwt.encode(forged_payload, mine, algorithm="EdDSA", headers={"typ": "at+jwt", "kid": "kw-unknown-kid"})
    expect_denied(f"[{label}] signed by a stranger's key, unknown kid", tok, "/api/x")
    tok = jwt.encode(forged_payload, mine, algorithm="EdDSA", headers={"typ": "at+jwt", "kid": kid})
    expect_denied(f"[{label}] signed by a stranger's key under the real kid", tok, "/api/x")
    tok = jwt.encode(forged_payload, mine, algorithm="EdDSA", headers={"typ": "at+jwt", "jwk": mine_pub})
    expect_denied(f"[{label}] stranger's key embedded as a jwk header (no kid)", tok, "/api/x")
    tok = jwt.encode(forged_payload, mine, algorithm="EdDSA", headers={"typ": "at+jwt", "kid": "kw-jku", "jku": JWKS_URL.replace("jwks.json", "x.json")})
    expect_denied(f"[{label}] stranger's key announced by a jku header", tok, "/api/x")
    tok = jwt.encode(forged_payload, "a-shared-secret-we-made-up-for-this-test-0123456789", algorithm="HS256", headers={"typ": "at+jwt", "kid": kid})
    expect_denied(f"[{label}] HS256 with a made-up secret under the real kid", tok, "/api/x")

    # crit (RFC 7515 §4.1.11): an extension Keyward cannot understand must be refused
    h = {**header, "crit": ["kw-ext"], "kw-ext": True}
    tok = f"{b64u(json.dumps(h, separators=(',', ':')).encode())}.{p_b64}.{s_b64}"
    expect_denied(f"[{label}] crit header (genuine signature over the old header)", tok, "/api/x")
    tok = jwt.encode(forged_payload, mine, algorithm="EdDSA", headers={"typ": "at+jwt", "kid": kid, "crit": ["exp"]})
    expect_denied(f"[{label}] crit header, stranger's signature", tok, "/api/x")

    # Modified payload, genuine header and signature
    for what, change in (("sub -> bob", {"sub": "bob"}), ("scope -> /", {"scope": "/"}),
                         ("exp +1 day", {"exp": payload["exp"] + 86400}), ("client_id -> another", {"client_id": C["reports"][0]}),
                         ("aud -> array", {"aud": [payload.get("aud"), "x"]})):
        p = b64u(json.dumps({**payload, **change}, separators=(",", ":")).encode())
        expect_denied(f"[{label}] modified payload ({what})", f"{h_b64}.{p}.{s_b64}", "/api/x")
    # Same payload re-encoded differently (whitespace): different bytes, signature no longer matches
    p = b64u(json.dumps(payload, indent=1).encode())
    expect_denied(f"[{label}] payload re-serialised (same claims, other bytes)", f"{h_b64}.{p}.{s_b64}", "/api/x")
    # Signature tampering
    sig = bytearray(b64u_dec(s_b64))
    sig[len(sig) // 2] ^= 0x01
    expect_denied(f"[{label}] one signature bit flipped", f"{h_b64}.{p_b64}.{b64u(bytes(sig))}", "/api/x")
    expect_denied(f"[{label}] signature truncated", f"{h_b64}.{p_b64}.{s_b64[:-8]}", "/api/x")
    expect_denied(f"[{label}] five segments (JWE shape)", f"{h_b64}.{p_b64}.{s_b64}.AAAA.BBBB", "/api/x")
    expect_denied(f"[{label}] four segments", f"{h_b64}.{p_b64}.{s_b64}.AAAA", "/api/x")
    expect_allowed(f"[{label}] control after the attacks: the genuine token", real, "/api/x")


@scenario
def rfc8725_attacks_default():
    """RFC 8725 attacks on the check (the ES256 signing key `keyward init` makes)"""
    cid, sec = C["all"]
    real, _ = cc(cid, sec, label="attack base (ES256)")
    if real:
        STATE["first_token"] = real
        attacks(real, "ES256")


@scenario
def confused_audience_and_issuer():
    """tokens for another audience or from another issuer (RFC 8725 §3.8, §3.9)"""
    cid, sec = C["all"]
    tok, _ = cc(cid, sec, base=AUD_BASE + "/keyward", label="the other-audience instance")
    if tok:
        c = jwt.decode(tok, options={"verify_signature": False})
        expect_eq("other-audience instance: aud claim", AUD_OTHER, c.get("aud"))
        expect_allowed("other-audience token at its own instance's check (control)", tok, "/api/x", base=AUD_BASE)
        expect_denied(f"token for audience {AUD_OTHER!r} at the main check (aud {AUDIENCE!r})", tok, "/api/x")
        try:
            jwt.decode(tok, jwt.PyJWKClient(JWKS_URL, cache_jwk_set=False).get_signing_key_from_jwt(tok).key,
                       algorithms=[jwt.get_unverified_header(tok)["alg"]], audience=AUDIENCE, issuer=ISSUER)
            notok("PyJWT refuses the other-audience token for our audience", "accepted")
        except jwt.InvalidAudienceError:
            ok("PyJWT refuses the other-audience token for our audience")
        r = HTTP.post(INTROSPECT_URL, data={"token": tok}, auth=(cid, sec), timeout=10)
        check("main introspection of the other-audience token -> active false", js(r).get("active") is False, brief(r))
    tok, _ = cc(cid, sec, base=ISS_BASE + "/keyward", label="the other-issuer instance")
    if tok:
        c = jwt.decode(tok, options={"verify_signature": False})
        expect_eq("other-issuer instance: iss claim", ISS_OTHER, c.get("iss"))
        expect_allowed("other-issuer token at its own instance's check (control)", tok, "/api/x", base=ISS_BASE)
        expect_denied(f"token from issuer {ISS_OTHER} at the main check", tok, "/api/x")
        r = HTTP.post(INTROSPECT_URL, data={"token": tok}, auth=(cid, sec), timeout=10)
        check("main introspection of the other-issuer token -> active false", js(r).get("active") is False, brief(r))
        r = HTTP.get(ISS_BASE + "/keyward/.well-known/oauth-authorization-server", timeout=10)
        expect_eq("the other instance's metadata names its own issuer", ISS_OTHER, js(r).get("issuer"))


def rotate(alg):
    args = ["signing-key", "rotate", "--json"] + (["--alg", alg] if alg else [])
    rc, out, err = cli(*args)
    check(f"keyward signing-key rotate {'--alg ' + alg if alg else '(default)'} exits 0", rc == 0, f"exit {rc}: {err.strip()}")
    try:
        d = json.loads(out)
    except Exception:
        d = {}
    expect_eq(f"rotate {alg or '(default)'} reports the new key's alg", alg or "ES256", d.get("alg"))
    return d.get("kid")


@scenario
def rotation():
    """signing-key rotation: EdDSA, RS256, then the default (ES256)"""
    cid, sec = C["all"]
    old = STATE.get("first_token") or cc(cid, sec, label="pre-rotation token")[0]
    if not old:
        return
    old_kid = jwt.get_unverified_header(old)["kid"]
    tokens = {"ES256": old}
    kids = {old_kid}
    for alg in ("EdDSA", "RS256", None):
        new_kid = rotate(alg)
        if not new_kid:
            continue
        kids.add(new_kid)
        name = alg or "ES256 (default)"
        rc, out, _ = cli("signing-key", "list", "--json")
        listed = {k.get("kid"): k for k in (json.loads(out) if rc == 0 else [])}
        check(f"after rotate {name}: the new key is listed active", listed.get(new_kid, {}).get("status") == "active",
              f"{listed.get(new_kid)}")
        check(f"after rotate {name}: every earlier key is still listed", kids <= set(listed), f"missing {kids - set(listed)}")
        active = sorted(k for k, v in listed.items() if v.get("status") == "active")
        check(f"after rotate {name}: the earlier keys are retired, only the new one is active", active == [new_kid],
              f"active {active}")
        published = jwks_kids()
        check(f"after rotate {name}: the JWKS has the new and every earlier key", kids <= published, f"missing {kids - published}")
        tok, _ = cc(cid, sec, label=f"first token after rotate {name}")
        if not tok:
            continue
        h = jwt.get_unverified_header(tok)
        if h.get("kid") != new_kid:
            later = None
            for _ in range(20):
                time.sleep(0.2)
                t2, _ = cc(cid, sec, label=f"token after rotate {name} (retry)")
                if t2 and jwt.get_unverified_header(t2).get("kid") == new_kid:
                    later = t2
                    break
            notok(f"after rotate {name}: the next token carries the new kid", f"kid {h.get('kid')!r}, new {new_kid!r}"
                  + ("; it did a few seconds later" if later else "; not even 4 s later"))
            tok = later or tok
        else:
            ok(f"after rotate {name}: the next token carries the new kid")
        expect_eq(f"after rotate {name}: the token's alg", alg or "ES256", jwt.get_unverified_header(tok).get("alg"))
        verify(tok, f"post-rotation {name}", client_id=cid, sub="alice", scope="/api/")
        expect_allowed(f"after rotate {name}: the new token", tok, "/api/x")
        for old_alg, old_tok in tokens.items():
            expect_allowed(f"after rotate {name}: the {old_alg} token issued before it still passes", old_tok, "/api/x")
        tokens[alg or "ES256-2"] = tok
    STATE["rotated"] = tokens
    if tokens.get("EdDSA"):
        attacks(tokens["EdDSA"], "EdDSA")
    if tokens.get("RS256"):
        attacks(tokens["RS256"], "RS256")


@scenario
def all_tokens_verify_against_final_jwks():
    """every token issued in this run still verifies against the final JWKS"""
    now = time.time()
    failed = []
    n = 0
    for tok in ISSUED:
        try:
            exp = jwt.decode(tok, options={"verify_signature": False}).get("exp", 0)
        except Exception:
            continue
        if exp <= now + 1:
            continue
        n += 1
        try:
            key = jwt.PyJWKClient(JWKS_URL, cache_jwk_set=False).get_signing_key_from_jwt(tok)
            aud = jwt.decode(tok, options={"verify_signature": False}).get("aud")
            iss = jwt.decode(tok, options={"verify_signature": False}).get("iss")
            jwt.decode(tok, key.key, algorithms=[key.algorithm_name], audience=aud, issuer=iss)
        except Exception as e:
            failed.append(f"{tok[:16]}...: {type(e).__name__}: {e}")
    check(f"all {n} unexpired tokens of this run verify with PyJWT against the final JWKS (retired keys stay published)",
          n > 0 and not failed, "; ".join(failed[:3]) or "no tokens")


@scenario
def unpublish():
    """a rotated-out key leaves the JWKS after --retire-after, and its tokens stop passing"""
    cid, sec = C["all"]
    tok, _ = cc(cid, sec, label="a token of the key about to be unpublished")
    if not tok:
        return
    kid = jwt.get_unverified_header(tok)["kid"]
    unseen, _ = cc(cid, sec, label="a second token of that key, never shown to the check")
    expect_allowed("before rotate --retire-after 2s", tok, "/api/x")
    for _ in range(12):     # let every worker thread verify (and possibly cache) it
        at(tok, "/api/x")
    rc, out, err = cli("signing-key", "rotate", "--retire-after", "2s", "--json")
    if not check("keyward signing-key rotate --retire-after 2s exits 0", rc == 0, f"exit {rc}: {err.strip()}"):
        return
    expect_allowed("right after the rotation the old key's token still passes", tok, "/api/x")
    check("right after the rotation the old key is still in the JWKS", kid in jwks_kids(), f"kid {kid} missing")
    # Each worker reloads its key ring on a rotation and at least once a minute, so the key may
    # linger for up to a minute after its publication window; wait for that, then demand refusal
    # from the JWKS and from several checks in a row (they spread over the worker threads).
    started = time.time()
    deadline = started + 2 + 65
    gone = False
    while time.time() < deadline:
        if kid not in jwks_kids() and all(at(tok, "/api/x").status_code == 401 for _ in range(8)):
            gone = True
            break
        time.sleep(1)
    note(f"a token of the unpublished key was {'refused' if gone else 'still accepted'} "
         f"{time.time() - started - 2:.0f} s after the key's publication window ended")
    check("after --retire-after the old key has left the JWKS", all(kid not in jwks_kids() for _ in range(4)),
          "still published a minute later")
    for i in range(4):
        expect_denied(f"a token of an unpublished key, used before (request {i + 1})", tok, "/api/x")
    if unseen:
        expect_denied("a token of an unpublished key, never used before", unseen, "/api/x")
    cid2, sec2 = C["reports"]
    tok2, _ = cc(cid2, sec2, label="a token after the unpublication")
    if tok2:
        verify(tok2, "post-unpublication", client_id=cid2, sub="alice")


@scenario
def expiry():
    """the 2 s token, after it expired"""
    tok, exp = STATE.get("short"), STATE.get("short_exp")
    if not tok:
        notok("expired token", "no 2 s token was issued")
        return
    while time.time() < exp + 1:
        time.sleep(0.2)
    try:
        key = jwt.PyJWKClient(JWKS_URL, cache_jwk_set=False).get_signing_key_from_jwt(tok)
        jwt.decode(tok, key.key, algorithms=[key.algorithm_name], audience=AUDIENCE, issuer=ISSUER)
        notok("PyJWT refuses the expired token", "accepted")
    except jwt.ExpiredSignatureError:
        ok("PyJWT refuses the expired token (ExpiredSignatureError)")
    deadline = exp + 65           # room for a clock-skew leeway of up to a minute
    while True:
        r = at(tok, "/api/x")
        if r.status_code != 200 or time.time() > deadline:
            break
        time.sleep(0.5)
    late = int(time.time() - exp)
    note(f"the expired token was {'refused' if r.status_code != 200 else 'still accepted'} {late} s after its exp")
    expect_denied(f"expired token at the check ({late} s after exp, leeway allowed)", tok, "/api/x")
    cid, sec = C["all"]
    r = HTTP.post(INTROSPECT_URL, data={"token": tok}, auth=(cid, sec), timeout=10)
    check("introspect the expired token -> active false", js(r).get("active") is False, brief(r))


@scenario
def grant_revocation():
    """revoking a client's grant with its own secret (RFC 7009 §2.1)"""
    bid, bsec = C["bob"]
    before, _ = cc(bid, bsec, label="bob's token before the grant is revoked")
    if not before:
        return
    expect_allowed("bob's token before the grant revocation", before, "/api/x", user="bob")
    time.sleep(1.1)                     # tokens of the revocation's own second stand by design
    r = HTTP.post(REVOKE_URL, data={"token": bsec}, auth=(bid, bsec), timeout=10)
    expect_eq("revoke with the client's own secret as the token -> 200", 200, r.status_code)
    expect_denied("a token issued before the grant revocation", before, "/api/x")
    time.sleep(1.1)
    after, _ = cc(bid, bsec, label="bob's token after the grant revocation")
    if after:
        expect_allowed("a token issued after the grant revocation", after, "/api/x", user="bob")


def main():
    started = time.time()
    for fn in SCENARIOS:
        note(f"---- {fn.__doc__}")
        try:
            fn()
        except Exception as e:
            notok(f"{fn.__name__} ran to the end", f"{type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stderr)
    finish("tokens.py", started)


if __name__ == "__main__":
    main()
