#!/usr/bin/env python3
"""Keyward's token service over TLS, driven by strict OAuth and JOSE client libraries, unmodified.

Run by Tests/EndToEnd/11-strict-clients.sh once per web server (nginx and Apache, each with TLS
and the repository's files), against a Keyward of its own (a fresh `keyward init`), with:

    KW_SITE                "nginx+TLS" or "Apache+TLS": the prefix of every check's name
    KW_BIN, KW_DB          the keyward binary and this site's database (signing-key rotate)
    KW_FIXTURES, KW_LABEL  client-<LABEL>-<x>.json and key-<LABEL>-<x>.json (CLI --json output)
    KW_BASE                https://127.0.0.1:PORT of the web server (Keyward mounted at /keyward)
    KW_ISSUER, KW_AUDIENCE Keyward's --issuer (https://127.0.0.1:PORT/keyward) and --audience
    KW_CA                  the throwaway CA that signed the server's certificate
    KW_PASSWORD            the password of the user `admin` (admin API sign-in)
    KW_HTTP_ISSUER_BASE    https://127.0.0.1:PORT of the same server's twin, whose Keyward (same
                           database) has an http --issuer: there only the HTTPS param makes cookies Secure
    REQUESTS_CA_BUNDLE     = KW_CA, so libraries that make their own requests session trust it

Libraries (as pip installs them): authlib (RFC 8414 metadata validator; authlib.jose JWT),
idpyoidc (ASConfigurationResponse), joserfc, jwcrypto, PyJWT (PyJWKClient), requests-oauthlib
(OAuth2Session + BackendApplicationClient), oauthlib (revocation request), requests.
OAUTHLIB_INSECURE_TRANSPORT is never set: oauthlib refuses plain http, which is the point.

Prints `ok - <site>: <check>` / `not ok - <site>: <check> (detail)` lines; exit 1 if any failed.
"""
import base64
import json
import os
import ssl
import subprocess
import sys
import time
import traceback
import warnings

import jwt as pyjwt
import requests
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from jwcrypto import jwk as jwc_jwk
from jwcrypto import jwt as jwc_jwt
from oauthlib.oauth2 import BackendApplicationClient, InsecureTransportError
from requests_oauthlib import OAuth2Session

import tap
from tap import finish, note

with warnings.catch_warnings():
    warnings.simplefilter("ignore")     # "authlib.jose module is deprecated": it still verifies
    from authlib.jose import JsonWebKey
    from authlib.jose import jwt as authlib_jwt
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from idpyoidc.message.oauth2 import ASConfigurationResponse

ENV = os.environ
SITE = ENV["KW_SITE"]
BIN, DB = ENV["KW_BIN"], ENV["KW_DB"]
FIX, LABEL = ENV["KW_FIXTURES"], ENV["KW_LABEL"]
BASE = ENV["KW_BASE"]
ISSUER, AUDIENCE = ENV["KW_ISSUER"], ENV["KW_AUDIENCE"]
CA = ENV["KW_CA"]
PASSWORD = ENV["KW_PASSWORD"]
HTTP_ISSUER_BASE = ENV["KW_HTTP_ISSUER_BASE"]

KW = BASE + "/keyward"
TOKEN_URL = KW + "/token"
REVOKE_URL = KW + "/revoke"
INTROSPECT_URL = KW + "/introspect"
META_URL = KW + "/.well-known/oauth-authorization-server"
META_RFC8414_URL = BASE + "/.well-known/oauth-authorization-server/keyward"
JWKS_URL = KW + "/.well-known/jwks.json"
COMPAT_URL = KW + "/api/ApiToken/GenerateAccessTokenFromApiToken"
ADMIN_API = KW + "/admin/api"
TE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
API_KEY_TYPE = "urn:keyward:params:oauth:token-type:api-key"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"

# Which library verifies which alg, and how: "default" (no algorithm allow-listing), "allowed"
# (only with the alg allowed explicitly: joserfc's non-recommended EdDSA and Ed25519), "no" (the
# library does not know the alg name). PyJWT and authlib know EdDSA but not RFC 9864's Ed25519.
LIBRARIES = ("PyJWT", "joserfc", "jwcrypto", "authlib")
EXPECTED = {
    "ES256": {"PyJWT": "default", "joserfc": "default", "jwcrypto": "default", "authlib": "default"},
    "RS256": {"PyJWT": "default", "joserfc": "default", "jwcrypto": "default", "authlib": "default"},
    "EdDSA": {"PyJWT": "default", "joserfc": "allowed", "jwcrypto": "default", "authlib": "default"},
    "Ed25519": {"PyJWT": "no", "joserfc": "allowed", "jwcrypto": "default", "authlib": "no"},
}


# ---------------------------------------------------------------------------------------------
# Reporting: every check named after the site
# ---------------------------------------------------------------------------------------------
def ok(name):
    tap.ok(f"{SITE}: {name}")


def notok(name, detail):
    tap.notok(f"{SITE}: {name}", detail)


def check(name, cond, detail=""):
    return tap.check(f"{SITE}: {name}", cond, detail)


def expect_eq(name, expected, got):
    return tap.expect_eq(f"{SITE}: {name}", expected, got)


one = tap.one


# ---------------------------------------------------------------------------------------------
# Fixtures, CLI, HTTP
# ---------------------------------------------------------------------------------------------
def fixture(kind, label):
    with open(os.path.join(FIX, f"{kind}-{LABEL}-{label}.json")) as f:
        d = json.load(f)
    if kind == "client":
        return d["client_id"], d["client_secret"]
    return d["id"], d["secret"]


def cli(*args):
    p = subprocess.run([BIN, "--db", DB, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


HTTP = requests.Session()
HTTP.verify = CA            # the throwaway CA, and nothing else
HTTP.trust_env = False      # loopback only: no proxy from the environment


def js(resp):
    try:
        d = resp.json()
        return d if isinstance(d, dict) else {"_json": d}
    except Exception:
        return {}


def brief(resp):
    return f"{resp.status_code} {one(resp.text[:200])}"


def claims_of(token):
    """The payload, unverified (for comparing claims of tokens Keyward's check has verified)."""
    try:
        part = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except Exception:
        return {}


def header_of(token):
    try:
        part = token.split(".")[0]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except Exception:
        return {}


def cc(cid, sec, scope=None, label=None):
    """A client-credentials token (client_secret_post); None and a not-ok line on failure."""
    data = {"grant_type": "client_credentials", "client_id": cid, "client_secret": sec}
    if scope is not None:
        data["scope"] = scope
    r = HTTP.post(TOKEN_URL, data=data, timeout=10)
    tok = js(r).get("access_token")
    if r.status_code != 200 or not tok:
        notok(f"token for {label or cid}", f"expected 200 got {brief(r)}")
        return None
    return tok


def exchange_key(secret, label="the API key"):
    r = HTTP.post(TOKEN_URL, data={"grant_type": TE_GRANT, "subject_token": secret, "subject_token_type": API_KEY_TYPE},
                  timeout=10)
    tok = js(r).get("access_token")
    if r.status_code != 200 or not tok:
        notok(f"token exchange for {label}", f"expected 200 got {brief(r)}")
        return None
    return tok


def at(token, path="/api/x"):
    return HTTP.get(BASE + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def expect_status_at(label, token, status, path="/api/x"):
    r = at(token, path)
    return check(f"{label}: GET {path} -> {status}", r.status_code == status,
                 f"got {brief(r)} code {r.headers.get('X-Auth-Error-Code')!r}")


def expect_oauth_error(label, r, status, error, mentions=None):
    """An RFC 6749 §5.2 error: status, `error`, a non-empty `error_description` (naming `mentions`)."""
    d = js(r)
    problems = []
    if r.status_code != status:
        problems.append(f"status {r.status_code}")
    if d.get("error") != error:
        problems.append(f"error {d.get('error')!r}")
    desc = d.get("error_description")
    if not isinstance(desc, str) or not desc.strip():
        problems.append(f"error_description {desc!r}")
    elif mentions and mentions not in desc:
        problems.append(f"error_description {desc!r} does not name {mentions!r}")
    if "json" not in r.headers.get("Content-Type", ""):
        problems.append(f"Content-Type {r.headers.get('Content-Type')!r}")
    return check(f"{label} -> {status} {error}", not problems, "; ".join(problems) + f"; body {one(r.text[:200])}")


def jwks():
    return js(HTTP.get(JWKS_URL, timeout=10))


# ---------------------------------------------------------------------------------------------
# The four JOSE libraries, each verifying signature, iss, aud and exp its own way
# ---------------------------------------------------------------------------------------------
def verify_pyjwt(token, alg, allow=False):
    """PyJWKClient on the jwks_uri (urllib, so the CA goes in an SSL context); algorithms from the JWK."""
    client = pyjwt.PyJWKClient(JWKS_URL, cache_jwk_set=False, timeout=10,
                               ssl_context=ssl.create_default_context(cafile=CA))
    key = client.get_signing_key_from_jwt(token)
    return pyjwt.decode(token, key.key, algorithms=[key.algorithm_name], audience=AUDIENCE, issuer=ISSUER,
                        options={"require": ["iss", "aud", "exp", "iat", "sub"]})


def verify_joserfc(token, alg, allow=False):
    keys = KeySet.import_key_set(jwks())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # SecurityWarning: EdDSA is deprecated via RFC 9864
        t = jose_jwt.decode(token, keys, algorithms=[alg] if allow else None)
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER}, aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True}, sub={"essential": True}).validate(t.claims)
    return t.claims


def verify_jwcrypto(token, alg, allow=False):
    keys = jwc_jwk.JWKSet.from_json(json.dumps(jwks()))
    kw = {"jwt": token, "key": keys, "expected_type": "JWS",
          "check_claims": {"iss": ISSUER, "aud": AUDIENCE, "exp": None, "sub": None}}
    if allow:
        kw["algs"] = [alg]
    return json.loads(jwc_jwt.JWT(**kw).claims)


def verify_authlib(token, alg, allow=False):
    keys = JsonWebKey.import_key_set(jwks())
    claims = authlib_jwt.decode(token, keys, claims_options={
        "iss": {"essential": True, "value": ISSUER}, "aud": {"essential": True, "value": AUDIENCE},
        "exp": {"essential": True}, "sub": {"essential": True}})
    claims.validate()
    return dict(claims)


VERIFIERS = {"PyJWT": verify_pyjwt, "joserfc": verify_joserfc, "jwcrypto": verify_jwcrypto, "authlib": verify_authlib}


def how_verified(lib, token, alg):
    """("default" | "allowed" | "no", detail): with default settings first, then (joserfc,
    jwcrypto, which take an algorithm list) with the token's alg allowed explicitly."""
    try:
        VERIFIERS[lib](token, alg)
        return "default", ""
    except Exception as e:
        first = f"{type(e).__name__}: {e}"
    if lib in ("joserfc", "jwcrypto"):
        try:
            VERIFIERS[lib](token, alg, allow=True)
            return "allowed", first
        except Exception as e:
            return "no", f"{first}; allowed: {type(e).__name__}: {e}"
    return "no", first


# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------
SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


A = fixture("client", "a")          # alice's client A, scope /api/
B = fixture("client", "b")          # alice's client B, scope /api/
ALICE_KEY = fixture("key", "alice")  # alice's API key, unscoped
ADMIN_KEY = fixture("key", "admin")  # admin's API key (role admins)
STATE = {}


@scenario
def tls():
    """TLS: the throwaway CA is the only trust; oauthlib keeps refusing plain http"""
    check("OAUTHLIB_INSECURE_TRANSPORT is not set", "OAUTHLIB_INSECURE_TRANSPORT" not in ENV,
          ENV.get("OAUTHLIB_INSECURE_TRANSPORT"))
    r = HTTP.get(KW + "/healthz", timeout=10)
    check("GET /keyward/healthz over TLS, certificate verified against the test CA -> 200", r.status_code == 200, brief(r))
    try:
        s = requests.Session()
        s.trust_env = False
        s.get(KW + "/healthz", timeout=10)
        notok("a client without the test CA refuses the certificate", "the request succeeded")
    except requests.exceptions.SSLError:
        ok("a client without the test CA refuses the certificate (the TLS is real)")
    except Exception as e:
        notok("a client without the test CA refuses the certificate", f"{type(e).__name__}: {e}")
    insecure = KW.replace("https://", "http://", 1)
    try:
        BackendApplicationClient(client_id="x").prepare_token_revocation_request(insecure + "/revoke", "t")
        notok("oauthlib refuses an http:// revocation URL (InsecureTransportError)", "it prepared the request")
    except InsecureTransportError:
        ok("oauthlib refuses an http:// revocation URL (InsecureTransportError): the https ones below are the real test")
    try:
        OAuth2Session(client=BackendApplicationClient(client_id="x")).fetch_token(
            token_url=insecure + "/token", client_id="x", client_secret="y")
        notok("requests-oauthlib refuses an http:// token URL (InsecureTransportError)", "it fetched")
    except InsecureTransportError:
        ok("requests-oauthlib refuses an http:// token URL (InsecureTransportError)")
    except Exception as e:
        notok("requests-oauthlib refuses an http:// token URL (InsecureTransportError)", f"{type(e).__name__}: {e}")


@scenario
def metadata():
    """(a) RFC 8414 metadata: authlib's and idpyoidc's validators, https URLs under the issuer"""
    docs = {}
    for name, url in (("/.well-known/oauth-authorization-server/keyward (RFC 8414 §3.1)", META_RFC8414_URL),
                      ("/keyward/.well-known/oauth-authorization-server", META_URL)):
        r = HTTP.get(url, timeout=10)
        d = js(r)
        if not check(f"GET {name} -> 200 JSON", r.status_code == 200 and d, brief(r)):
            continue
        docs[name] = d
        try:
            AuthorizationServerMetadata(d).validate()
            ok(f"authlib AuthorizationServerMetadata.validate() accepts {name}")
        except Exception as e:
            notok(f"authlib AuthorizationServerMetadata.validate() accepts {name}", f"{type(e).__name__}: {e}")
        try:
            ASConfigurationResponse(**d).verify()
            ok(f"idpyoidc ASConfigurationResponse.verify() accepts {name}")
        except Exception as e:
            notok(f"idpyoidc ASConfigurationResponse.verify() accepts {name}", f"{type(e).__name__}: {e}")
        expect_eq(f"{name}: issuer is --issuer", ISSUER, d.get("issuer"))
        check(f"{name}: issuer is https", str(d.get("issuer", "")).startswith("https://"), d.get("issuer"))
        urls = {k: v for k, v in d.items() if k.endswith("_endpoint") or k.endswith("_uri")}
        bad = {k: v for k, v in urls.items() if not (isinstance(v, str) and v.startswith(ISSUER + "/"))}
        check(f"{name}: every endpoint and jwks_uri is https under the issuer ({len(urls)} URLs)",
              len(urls) >= 4 and not bad, f"not under {ISSUER}/: {bad}" if bad else f"only {sorted(urls)}")
        expect_eq(f"{name}: response_types_supported is [\"none\"] (no authorization endpoint flow)",
                  ["none"], d.get("response_types_supported"))
    if len(docs) == 2:
        a, b = docs.values()
        check("both discovery addresses give the same document", a == b, f"{a} vs {b}")
    STATE["meta"] = next(iter(docs.values()), {})


@scenario
def endpoints_get_authorization():
    """Authorization reaches Keyward at every endpoint that reads it"""
    cid, sec = A
    r = HTTP.post(TOKEN_URL, data={"grant_type": "client_credentials"}, auth=(cid, sec), timeout=10)
    check("client credentials with HTTP Basic at /keyward/token -> 200", r.status_code == 200 and js(r).get("access_token"),
          brief(r))
    tok = js(r).get("access_token")
    if tok:
        r = HTTP.post(INTROSPECT_URL, data={"token": tok}, auth=(cid, sec), timeout=10)
        check("introspection with HTTP Basic -> 200 active", r.status_code == 200 and js(r).get("active") is True, brief(r))
    r = HTTP.post(COMPAT_URL, headers={"Authorization": f"Bearer {ALICE_KEY[1]}"}, timeout=10)
    check("compatibility route POST /keyward/api/ApiToken/GenerateAccessTokenFromApiToken (Bearer API key) -> 200",
          r.status_code == 200 and js(r).get("access_token"), brief(r))
    r = HTTP.get(ADMIN_API + "/me", headers={"Authorization": f"Bearer {ADMIN_KEY[1]}"}, timeout=10)
    check("admin API GET /keyward/admin/api/me with Bearer -> 200", r.status_code == 200, brief(r))


def sign_in_cookies(label, api):
    """Sign in to the admin API at `api`, check keyward_session's attributes, sign out."""
    s = requests.Session()
    s.verify = CA
    s.trust_env = False
    r = s.post(api + "/session", json={"user": "admin", "password": PASSWORD}, timeout=30)
    if not check(f"{label}: POST .../admin/api/session (sign-in) -> 201", r.status_code == 201, brief(r)):
        return
    csrf = js(r).get("csrf_token") or ""
    cookies = r.raw.headers.getlist("Set-Cookie")
    session = [c for c in cookies if c.startswith("keyward_session=")]
    if not check(f"{label}: sign-in sets keyward_session", len(session) == 1, f"{cookies}"):
        return
    attrs = {a.strip().split("=", 1)[0].lower(): a.strip() for a in session[0].split(";")[1:]}
    check(f"{label}: keyward_session carries Secure", "secure" in attrs, session[0].split(";", 1)[1])
    check(f"{label}: keyward_session carries HttpOnly and SameSite=Strict",
          "httponly" in attrs and attrs.get("samesite", "").lower() == "samesite=strict", session[0].split(";", 1)[1])
    expect_eq(f"{label}: keyward_session Path is the admin paths under the mount", "Path=/keyward/admin", attrs.get("path"))
    others = [c for c in cookies if not c.startswith("keyward_session=")]
    check(f"{label}: every other cookie it sets carries Secure too",
          all("secure" in [a.strip().lower() for a in c.split(";")[1:]] for c in others), f"{others}")
    r = s.get(api + "/me", timeout=10)
    check(f"{label}: the Secure cookie goes back over https and signs in", r.status_code == 200, brief(r))
    r = s.delete(api + "/session", headers={"X-CSRF-Token": csrf}, timeout=10)
    cleared = [c for c in r.raw.headers.getlist("Set-Cookie") if c.startswith("keyward_session=")]
    check(f"{label}: sign-out -> 204, the cookie cleared with Secure",
          r.status_code == 204 and cleared and "secure" in cleared[0].lower(), f"{brief(r)} {cleared}")


@scenario
def admin_session_cookie():
    """the admin API session cookie is Secure behind TLS, also where only the HTTPS param says so"""
    sign_in_cookies("admin sign-in", ADMIN_API)
    r = HTTP.get(HTTP_ISSUER_BASE + "/keyward/.well-known/oauth-authorization-server", timeout=10)
    check("the twin Keyward's issuer is http (so its cookies are Secure only by the HTTPS param)",
          str(js(r).get("issuer", "")).startswith("http://"), brief(r))
    sign_in_cookies("admin sign-in through the twin (http --issuer; HTTPS param)", HTTP_ISSUER_BASE + "/keyward/admin/api")


@scenario
def fresh_install_tokens():
    """(b) a fresh install's token, verified by PyJWT, joserfc, jwcrypto and authlib with default settings"""
    cid, sec = A
    tok = cc(cid, sec, label="client A (fresh install)")
    if not tok:
        return
    alg = header_of(tok).get("alg")
    note(f"a fresh install signs with alg {alg!r}")
    for lib in LIBRARIES:
        how, detail = how_verified(lib, tok, alg)
        check(f"{lib} verifies a fresh install's token ({alg}) with default settings", how == "default",
              f"{how}: {detail}")
    STATE["fresh"] = tok


@scenario
def requests_oauthlib_fetch():
    """(c) requests-oauthlib BackendApplicationClient: fetch_token over TLS, then the protected path"""
    cid, sec = A
    session = OAuth2Session(client=BackendApplicationClient(client_id=cid))  # trusts REQUESTS_CA_BUNDLE
    try:
        token = session.fetch_token(token_url=TOKEN_URL, client_id=cid, client_secret=sec)
    except Exception as e:
        notok("requests-oauthlib OAuth2Session.fetch_token over https", f"{type(e).__name__}: {e}")
        return
    check("requests-oauthlib OAuth2Session.fetch_token over https -> a Bearer access token",
          token.get("access_token") and str(token.get("token_type")).lower() == "bearer", f"{token}")
    r = session.get(BASE + "/api/x", timeout=10)
    if not check("the session's GET /api/x (keyward-protect) -> 200", r.status_code == 200, brief(r)):
        return
    seen = js(r).get("headers", {})
    expect_eq("the backend sees X-Auth-User", "alice", seen.get("x-auth-user"))
    expect_eq("the backend sees X-Auth-Method", "jwt", seen.get("x-auth-method"))
    check("the backend sees X-Auth-Credential", bool(seen.get("x-auth-credential")), f"{seen}")
    check("the backend sees X-Auth-Scopes /api/", "/api/" in (seen.get("x-auth-scopes") or ""), f"{seen.get('x-auth-scopes')!r}")
    check("the backend does not see the token", "authorization" not in seen, f"{seen.get('authorization')!r}")


@scenario
def oauthlib_revocation():
    """(d) oauthlib prepare_token_revocation_request, sent with requests and client authentication"""
    cid, sec = A
    tok = cc(cid, sec, label="client A (to revoke)")
    if not tok:
        return
    expect_status_at("before revocation", tok, 200)
    try:
        url, headers, body = BackendApplicationClient(client_id=cid).prepare_token_revocation_request(REVOKE_URL, tok)
    except Exception as e:
        notok("oauthlib prepares the revocation request for the https revocation_endpoint", f"{type(e).__name__}: {e}")
        return
    ok("oauthlib prepares the revocation request for the https revocation_endpoint")
    r = HTTP.post(url, headers=headers, data=body, auth=(cid, sec), timeout=10)
    expect_eq("the revocation request (HTTP Basic client authentication) -> 200", 200, r.status_code)
    expect_status_at("the revoked token", tok, 401)


@scenario
def token_exchange():
    """(e) RFC 8693 at /keyward/token: errors, audience, resource, down-scoping"""
    cid, sec = A
    key = ALICE_KEY[1]

    def te(label, **fields):
        data = {"grant_type": TE_GRANT}
        data.update(fields)
        r = HTTP.post(TOKEN_URL, data=data, timeout=10)
        note(f"{label}: {brief(r)}")
        return r

    api = {"subject_token": key, "subject_token_type": API_KEY_TYPE}
    r = te("invalid subject_token", subject_token="kwk_0000000000000000_not-a-key", subject_token_type=API_KEY_TYPE)
    expect_oauth_error("exchange: an invalid API key as subject_token", r, 400, "invalid_request")
    r = te("invalid access token", subject_token="eyJhbGciOiJFUzI1NiJ9.e30.c2ln", subject_token_type=ACCESS_TOKEN_TYPE)
    expect_oauth_error("exchange: an invalid access token as subject_token", r, 400, "invalid_request")
    r = te("audience=something-else", audience="something-else", **api)
    expect_oauth_error("exchange: audience=something-else", r, 400, "invalid_target")
    r = te("resource elsewhere", resource="https://elsewhere.example/x", **api)
    expect_oauth_error("exchange: resource=https://elsewhere.example/x", r, 400, "invalid_target")
    r = te("audience=own", audience=AUDIENCE, **api)
    if check(f"exchange: audience={AUDIENCE} (Keyward's --audience) -> 200", r.status_code == 200, brief(r)):
        expect_eq("exchange: that token's aud", AUDIENCE, claims_of(js(r).get("access_token", "")).get("aud"))
    unknown = "urn:example:params:oauth:token-type:unknown"
    r = te("unknown type", subject_token=key, subject_token_type=unknown)
    expect_oauth_error("exchange: an unknown subject_token_type (error_description names it)", r, 400,
                       "invalid_request", mentions=unknown)
    other = cc(*B, label="client B (actor)")
    r = te("actor_token", actor_token=other or "x", actor_token_type=ACCESS_TOKEN_TYPE, **api)
    expect_oauth_error("exchange: actor_token present (no delegation)", r, 400, "invalid_request")

    # Down-scoping one of Keyward's own access tokens.
    wide = cc(cid, sec, scope="/api/", label="client A, scope /api/")
    if wide:
        r = te("down-scope", subject_token=wide, subject_token_type=ACCESS_TOKEN_TYPE, scope="/api/reports/")
        new = js(r).get("access_token")
        if check("exchange: an access token for a narrower scope -> 200", r.status_code == 200 and new, brief(r)):
            c, w = claims_of(new), claims_of(wide)
            expect_eq("exchange: the new token's scope is the narrower one", "/api/reports/", c.get("scope"))
            check("exchange: the new token expires no later than the subject token",
                  isinstance(c.get("exp"), int) and c["exp"] <= w.get("exp", 0), f"exp {c.get('exp')} vs {w.get('exp')}")
            expect_eq("exchange: issued_token_type is access_token", ACCESS_TOKEN_TYPE, js(r).get("issued_token_type"))
            expect_status_at("the down-scoped token in its scope", new, 200, "/api/reports/x")
            expect_status_at("the down-scoped token outside it", new, 403, "/api/x")
    narrow = cc(cid, sec, scope="/api/reports/", label="client A, scope /api/reports/")
    if narrow:
        r = te("up-scope", subject_token=narrow, subject_token_type=ACCESS_TOKEN_TYPE, scope="/api/")
        expect_oauth_error("exchange: an access token for a wider scope", r, 400, "invalid_scope")

    # A resource Keyward protects, on its own origin; a registered resource named as audience.
    own = BASE + "/api/"
    r = te("resource own", resource=own, **api)
    if check(f"exchange: resource={own} -> 200", r.status_code == 200, brief(r)):
        new = js(r).get("access_token", "")
        expect_eq("exchange: that token is scoped to /api/", "/api/", claims_of(new).get("scope"))
        expect_status_at("exchange: that token", new, 200, "/api/x")
    r = te("audience=reports", audience="reports", **api)
    if check("exchange: audience=reports (a registered resource, `keyward resource add reports`) -> 200",
             r.status_code == 200, brief(r)):
        new = js(r).get("access_token", "")
        expect_eq("exchange: the audience=reports token is scoped to the resource's path", "/api/reports/", claims_of(new).get("scope"))
        expect_eq("exchange: the audience=reports token keeps Keyward's aud (the check accepts only it)", AUDIENCE, claims_of(new).get("aud"))
        expect_status_at("exchange: the audience=reports token on the resource", new, 200, "/api/reports/x")


@scenario
def revocation_by_the_issuing_client_only():
    """(f) RFC 7009 §2.1: a client revokes only tokens issued to it"""
    cid, sec = A
    tb = cc(*B, label="client B")
    if tb:
        r = HTTP.post(REVOKE_URL, data={"token": tb, "token_type_hint": "access_token"}, auth=(cid, sec), timeout=10)
        expect_oauth_error("client A revokes client B's token (same owner)", r, 400, "unauthorized_client")
        expect_status_at("client B's token after A's attempt", tb, 200)
    tk = exchange_key(ALICE_KEY[1], "alice's API key")
    if tk:
        r = HTTP.post(REVOKE_URL, data={"token": tk}, auth=(cid, sec), timeout=10)
        expect_oauth_error("client A revokes a token exchanged from its owner's API key", r, 400, "unauthorized_client")
        expect_status_at("the exchanged token after A's attempt", tk, 200)
    ta = cc(cid, sec, label="client A (own)")
    if ta:
        r = HTTP.post(REVOKE_URL, data={"token": ta}, auth=(cid, sec), timeout=10)
        expect_eq("client A revokes its own token -> 200", 200, r.status_code)
        expect_status_at("client A's revoked token", ta, 401)


@scenario
def rotation_matrix():
    """(b) after signing-key rotate --alg X: which library verifies which alg"""
    cid, sec = A
    seen = {}
    for alg in EXPECTED:
        rc, out, err = cli("signing-key", "rotate", "--alg", alg, "--json")
        if not check(f"keyward signing-key rotate --alg {alg} exits 0", rc == 0, f"exit {rc}: {err.strip()}"):
            continue
        try:
            kid = json.loads(out).get("kid")
        except Exception:
            kid = None
        tok = None
        for _ in range(25):         # each worker notices the rotation on its next request
            tok = cc(cid, sec, label=f"client A after rotate {alg}")
            if not tok or header_of(tok).get("kid") == kid:
                break
            time.sleep(0.2)
        if not tok:
            continue
        h = header_of(tok)
        check(f"after rotate {alg}: the next token carries the new kid and alg {alg}",
              h.get("kid") == kid and h.get("alg") == alg, f"header {h}, new kid {kid!r}")
        published = {k.get("kid"): k for k in jwks().get("keys", [])}
        expect_eq(f"after rotate {alg}: the JWKS publishes the new key with alg {alg}", alg, published.get(kid, {}).get("alg"))
        expect_status_at(f"the {alg} token at the check", tok, 200)
        seen[alg] = {}
        for lib in LIBRARIES:
            how, detail = how_verified(lib, tok, alg)
            seen[alg][lib] = how
            want = EXPECTED[alg][lib]
            words = {"default": "verifies it with default settings", "allowed": "verifies it with the alg allowed explicitly",
                     "no": "does not know the alg name"}
            check(f"{lib} {words[want]} ({alg})", how == want, f"{how}: {detail}")
    for alg, row in seen.items():
        note(f"{alg:8} " + "  ".join(f"{lib}={row[lib]}" for lib in LIBRARIES))


def main():
    started = time.time()
    for fn in SCENARIOS:
        note(f"---- {SITE}: {fn.__doc__}")
        try:
            fn()
        except Exception as e:
            notok(f"{fn.__name__} ran to the end", f"{type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stderr)
    finish(f"strict_clients.py ({SITE})", started)


if __name__ == "__main__":
    main()
