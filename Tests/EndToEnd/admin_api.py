#!/usr/bin/env python3
"""Keyward's admin JSON API through nginx, driven by requests.

Run by Tests/EndToEnd/05-admin-api.sh, which creates the database (users root, alice, carol; role
admins = admin + use-api-key for root; role self-service = manage-own-keys + use-api-key for
alice; resource reports = /api/reports/ for alice), starts Keyward behind nginx, and passes:

    KW_BIN, KW_DB          the keyward binary and database (the CLI, to look behind the API)
    KW_FIXTURES            directory with key-<label>.json (CLI --json output): root, alice, carol
    KW_BASE                http://127.0.0.1:PORT of nginx (Keyward mounted at /keyward, --failure-limit 0)
    KW_THROTTLED_BASE      nginx of a Keyward with --failure-limit 3 on the same database
    KW_REPO                the repository (docs/admin-openapi.json)
    KW_MAIL                where the capturing sendmail keeps each message (N.eml)
    KW_ROOT_PASSWORD, KW_ALICE_PASSWORD
    KW_NEW_SECRETS         file to append every secret the API hands out to (leak checks)

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

import requests

from tap import check, expect_eq, finish, note, notok, one

ENV = os.environ
BIN, DB = ENV["KW_BIN"], ENV["KW_DB"]
FIX = ENV["KW_FIXTURES"]
BASE = ENV["KW_BASE"]
THROTTLED = ENV["KW_THROTTLED_BASE"]
REPO = ENV["KW_REPO"]
ROOT_PASSWORD, ALICE_PASSWORD = ENV["KW_ROOT_PASSWORD"], ENV["KW_ALICE_PASSWORD"]
NEW_SECRETS = ENV["KW_NEW_SECRETS"]
MAIL = ENV["KW_MAIL"]

API = BASE + "/keyward/admin/api"


# ---------------------------------------------------------------------------------------------
# Fixtures, CLI, HTTP
# ---------------------------------------------------------------------------------------------
def fixture(label):
    with open(os.path.join(FIX, f"key-{label}.json")) as f:
        d = json.load(f)
    return d["id"], d["secret"]


def cli(*args):
    """keyward --db DB args... -> (exit status, stdout, stderr)."""
    p = subprocess.run([BIN, "--db", DB, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def remember(secret):
    with open(NEW_SECRETS, "a") as f:
        f.write(secret + "\n")


def js(resp):
    try:
        d = resp.json()
        return d if isinstance(d, dict) else {"_json": d}
    except Exception:
        return {}


def via(event):
    """Where an audit record names the credential its actor used (the credential or detail member)."""
    return f"{event.get('credential') or ''} {event.get('detail') or ''}"


def brief(resp):
    return f"{resp.status_code} {one(resp.text[:200])}"


def client(key=None, header="bearer"):
    """A requests session; with an API key in Authorization: Bearer or X-API-Key."""
    s = requests.Session()
    s.trust_env = False      # loopback only: no proxy from the environment
    if key and header == "bearer":
        s.headers["Authorization"] = "Bearer " + key
    elif key:
        s.headers["X-API-Key"] = key
    return s


def expect_status(name, resp, status, code=None):
    """The status, and for errors the {"error", "error_description", "code"} shape with the code."""
    good = resp.status_code == status
    if code is not None:
        body = js(resp)
        good = good and body.get("error") == code and body.get("code") == code and isinstance(body.get("error_description"), str) and set(body) == {"error", "error_description", "code"}
        good = good and resp.headers.get("Content-Type", "").startswith("application/json")
    return check(name, good, brief(resp))


def check_at_gate(key, path, method="GET"):
    """The status nginx answers for `path` under the protected /api/ with this key."""
    r = requests.request(method, BASE + path, headers={"Authorization": "Bearer " + key}, timeout=10)
    return r.status_code


ROOT_ID, ROOT_KEY = fixture("root")
ALICE_ID, ALICE_KEY = fixture("alice")
CAROL_ID, CAROL_KEY = fixture("carol")
ALICE_API_ID, ALICE_API_KEY = fixture("alice-api")
ROOT = client(ROOT_KEY)


# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------
def document():
    """the OpenAPI document is public and the repository's file"""
    r = requests.get(API + "/openapi.json", timeout=10)
    expect_status("GET /admin/api/openapi.json without credentials: 200", r, 200)
    with open(os.path.join(REPO, "docs/admin-openapi.json"), "rb") as f:
        expect_eq("the served document is docs/admin-openapi.json byte for byte", f.read(), r.content)
    expect_eq("the document is OpenAPI 3.1.0", "3.1.0", js(r).get("openapi"))
    schemes = js(r).get("components", {}).get("securitySchemes", {})
    expect_eq("security schemes: bearer, X-API-Key, session cookie, CSRF header",
              [("http", None), ("apiKey", "header"), ("apiKey", "cookie"), ("apiKey", "header")],
              [(schemes.get(n, {}).get("type"), schemes.get(n, {}).get("in")) for n in ["bearer", "apiKey", "session", "csrf"]])


def unauthenticated():
    """no credential: 401 with the Bearer challenge"""
    r = requests.get(API + "/users", timeout=10)
    expect_status("GET /users without credentials: 401 unauthenticated", r, 401, "unauthenticated")
    expect_eq("the 401 carries WWW-Authenticate: Bearer realm=\"keyward\"", 'Bearer realm="keyward"', r.headers.get("WWW-Authenticate"))
    expect_eq("errors are not cached (Cache-Control: no-store)", "no-store", r.headers.get("Cache-Control"))
    r = requests.get(API + "/me", headers={"Authorization": "Bearer kwk_AAAAAAAAAAAAAAAA_" + "B" * 38}, timeout=10)
    expect_status("a malformed API key: 401", r, 401, "unauthenticated")
    r = requests.get(API + "/me", headers={"Cookie": "keyward_session=forged"}, timeout=10)
    expect_status("a forged session cookie: 401", r, 401, "unauthenticated")


def api_keys():
    """API keys: Bearer and X-API-Key, use-api-key required"""
    r = ROOT.get(API + "/me", timeout=10)
    expect_status("GET /me with root's key (Bearer): 200", r, 200)
    me = js(r)
    expect_eq("/me names root, authenticated by api-key with the key's id", ("root", "api-key", ROOT_ID),
              (me.get("user", {}).get("name"), me.get("auth"), me.get("credential")))
    expect_eq("/me lists root's privileges", ["admin", "use-api-key"], me.get("privileges"))
    r = client(ROOT_KEY, header="x-api-key").get(API + "/me", timeout=10)
    expect_status("GET /me with root's key in X-API-Key: 200", r, 200)
    r = requests.get(API + "/me", params={"APIKey": ROOT_KEY}, timeout=10)
    expect_status("a key in the query string is not accepted here (keys stay out of URLs)", r, 401, "unauthenticated")
    r = client(CAROL_KEY).get(API + "/me", timeout=10)
    expect_status("carol's valid key, but carol lacks use-api-key: 403 forbidden", r, 403, "forbidden")
    r = client(ALICE_API_KEY).get(API + "/me", timeout=10)
    expect_status("a key scoped to an API (/api/reports/) is no admin credential: 403 forbidden", r, 403, "forbidden")
    rc, _, err = cli("key", "disable", ROOT_ID)
    check("keyward key disable (root's key) exits 0", rc == 0, err)
    expect_status("a disabled key: 401 on the next request", ROOT.get(API + "/me", timeout=10), 401, "unauthenticated")
    cli("key", "enable", ROOT_ID)
    expect_status("enabled again: 200 on the next request", ROOT.get(API + "/me", timeout=10), 200)


def sessions():
    """sessions: sign-in, the cookie, CSRF, sign-out"""
    s = client()
    r = s.post(API + "/session", json={"user": "root", "password": "not the password"}, timeout=10)
    expect_status("sign-in with a wrong password: 401", r, 401, "unauthenticated")
    r2 = s.post(API + "/session", json={"user": "nobody-at-all", "password": "not the password"}, timeout=10)
    expect_eq("an unknown user gets the very same answer", (r.status_code, r.text), (r2.status_code, r2.text))
    check("no cookie after a failed sign-in", "keyward_session" not in s.cookies, str(s.cookies))
    r = s.post(API + "/session", data="user=root", headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    expect_status("a form-encoded sign-in: 415 (JSON only, so no cross-site form can sign in)", r, 415, "unsupported_media_type")

    r = s.post(API + "/session", json={"user": "root", "password": ROOT_PASSWORD}, timeout=10)
    expect_status("sign-in as root: 201", r, 201)
    # The session's Set-Cookie (a second one sets the keyward_device cookie: Tests/EndToEnd/10-lockout.sh).
    cookie = next((c for c in r.raw.headers.getlist("Set-Cookie") if c.startswith("keyward_session=")), "")
    attributes = [a.strip() for a in cookie.split(";")]
    check("Set-Cookie: keyward_session=...; HttpOnly; SameSite=Strict; Path=/keyward/admin",
          attributes[0].startswith("keyward_session=") and {"HttpOnly", "SameSite=Strict", "Path=/keyward/admin"} <= set(attributes),
          cookie)
    check("the cookie lasts 12 hours (Max-Age=43200)", "Max-Age=43200" in attributes, cookie)
    check("no Secure attribute on a plain-http site", "Secure" not in attributes, cookie)
    csrf = js(r).get("csrf_token", "")
    check("the sign-in answer carries a CSRF token", len(csrf) >= 40, js(r))
    remember(attributes[0].split("=", 1)[1])
    remember(csrf)

    r = s.get(API + "/me", timeout=10)
    expect_status("GET /me with the cookie: 200", r, 200)
    expect_eq("/me: auth by session, credential ses_...", ("session", True),
              (js(r).get("auth"), str(js(r).get("credential", "")).startswith("ses_")))
    r = s.post(API + "/groups", json={"name": "via-session"}, timeout=10)
    expect_status("a POST with the cookie but no X-CSRF-Token: 403 csrf_failed", r, 403, "csrf_failed")
    r = s.post(API + "/groups", json={"name": "via-session"}, headers={"X-CSRF-Token": csrf[:-2] + "xx"}, timeout=10)
    expect_status("a wrong X-CSRF-Token: 403 csrf_failed", r, 403, "csrf_failed")
    r = s.post(API + "/groups", json={"name": "via-session"}, headers={"X-CSRF-Token": csrf}, timeout=10)
    expect_status("with the X-CSRF-Token: 201", r, 201)
    r = s.delete(API + "/groups/via-session", timeout=10)
    expect_status("a DELETE without the token: 403 csrf_failed", r, 403, "csrf_failed")
    r = s.delete(API + "/groups/via-session", headers={"X-CSRF-Token": csrf}, timeout=10)
    expect_status("a DELETE with the token: 204", r, 204)
    rc, out, _ = cli("audit", "list", "--json")
    events = json.loads(out) if rc == 0 else []
    mine = [e for e in events if e.get("action") == "group.add" and e.get("target") == "group:via-session"]
    check("the audit names root and the session (ses_...) for the group.add",
          len(mine) == 1 and mine[0].get("actor") == "root" and "ses_" in via(mine[0]), mine)

    r = s.get(API + "/sessions", timeout=10)
    expect_status("GET /sessions with the cookie: 200", r, 200)
    listed = js(r).get("items", [])
    mine = [x for x in listed if x.get("current")]
    check("the session in use is listed once, marked current, by its public id (ses_...) and without its tokens",
          len(mine) == 1 and str(mine[0].get("id", "")).startswith("ses_")
          and attributes[0].split("=", 1)[1] not in r.text and csrf not in r.text, listed)
    check("it ends after 30 minutes unused, and 12 hours after sign-in at most",
          len(mine) == 1 and mine[0].get("idle_expires_at", 0) - mine[0].get("last_seen_at", 0) == 1800
          and mine[0].get("expires_at", 0) - mine[0].get("created_at", 0) == 43200, mine)
    other = client()
    r = other.post(API + "/session", json={"user": "root", "password": ROOT_PASSWORD}, timeout=10)
    expect_status("a second sign-in as root: 201", r, 201)
    remember(js(r).get("csrf_token", ""))
    r = s.get(API + "/sessions", timeout=10)
    second = [x.get("id") for x in js(r).get("items", []) if not x.get("current")]
    check("the second session is listed beside the first", len(second) >= 1, js(r))
    r = s.delete(API + "/sessions/" + (second[-1] if second else "ses_000000000000"), timeout=10)
    expect_status("revoking a session without the token: 403 csrf_failed", r, 403, "csrf_failed")
    r = s.delete(API + "/sessions/" + (second[-1] if second else "ses_000000000000"), headers={"X-CSRF-Token": csrf}, timeout=10)
    expect_status("revoking the second session: 204", r, 204)
    expect_status("the revoked session's next request: 401", other.get(API + "/me", timeout=10), 401, "unauthenticated")
    expect_status("the revoking session goes on: 200", s.get(API + "/me", timeout=10), 200)
    expect_status("an unknown session id: 404", s.delete(API + "/sessions/ses_000000000000", headers={"X-CSRF-Token": csrf}, timeout=10),
                  404, "not_found")

    r = s.delete(API + "/session", timeout=10)
    expect_status("sign-out without the token: 403 csrf_failed", r, 403, "csrf_failed")
    r = s.delete(API + "/session", headers={"X-CSRF-Token": csrf}, timeout=10)
    expect_status("sign-out: 204", r, 204)
    check("sign-out clears the cookie (Max-Age=0)", "Max-Age=0" in r.headers.get("Set-Cookie", ""), r.headers.get("Set-Cookie"))
    r = requests.get(API + "/me", headers={"Cookie": "keyward_session=" + attributes[0].split("=", 1)[1]}, timeout=10)
    expect_status("the old cookie after sign-out: 401", r, 401, "unauthenticated")


def self_service():
    """self-service: alice manages her own keys, within her access, and nothing else"""
    alice = client(ALICE_KEY)
    r = alice.post(API + "/keys", json={"name": "daily", "scopes": ["GET:/api/reports/daily/"], "expires": "7d"}, timeout=10)
    expect_status("alice creates a key for herself within /api/reports/: 201", r, 201)
    new = js(r)
    key_id, secret = new.get("id", ""), new.get("secret", "")
    remember(secret)
    expect_eq("the new key is alice's, scoped as asked", ("alice", ["GET:/api/reports/daily/"]), (new.get("user"), new.get("scopes")))
    expect_eq("the new key works at the gate (nginx check) for GET /api/reports/daily/x", 200, check_at_gate(secret, "/api/reports/daily/x"))
    expect_eq("... but not for POST (scope GET)", 403, check_at_gate(secret, "/api/reports/daily/x", "POST"))
    expect_eq("... nor outside its scope", 403, check_at_gate(secret, "/api/reports/monthly"))
    r = alice.get(API + "/keys/" + key_id, timeout=10)
    check("GET /keys/{id} shows the key without its secret", r.status_code == 200 and "secret" not in js(r) and secret[-20:] not in r.text, brief(r))
    r = alice.get(API + "/keys", timeout=10)
    expect_eq("alice lists her own keys only", sorted([ALICE_ID, ALICE_API_ID, key_id]), sorted(k.get("id") for k in js(r).get("items", [])))
    expect_status("alice cannot list carol's keys: 403", alice.get(API + "/keys", params={"user": "carol"}, timeout=10), 403, "forbidden")
    expect_status("carol's key looks absent to alice: 404", alice.get(API + "/keys/" + CAROL_ID, timeout=10), 404, "not_found")
    expect_status("alice cannot disable carol's key: 404", alice.post(API + f"/keys/{CAROL_ID}/disable", timeout=10), 404, "not_found")
    expect_status("alice cannot create a key for carol: 403",
                  alice.post(API + "/keys", json={"user": "carol", "name": "x", "scopes": ["/api/reports/"]}, timeout=10), 403, "forbidden")
    expect_status("alice cannot create an unscoped key (more than she has): 403",
                  alice.post(API + "/keys", json={"name": "everything"}, timeout=10), 403, "forbidden")
    expect_status("alice cannot scope a key outside her resources: 403",
                  alice.post(API + "/keys", json={"name": "billing", "scopes": ["/api/billing/"]}, timeout=10), 403, "forbidden")
    expect_status("alice cannot list groups: 403", alice.get(API + "/groups", timeout=10), 403, "forbidden")
    expect_status("alice cannot read the audit: 403", alice.get(API + "/audit", timeout=10), 403, "forbidden")
    expect_status("alice cannot add users: 403", alice.post(API + "/users", json={"name": "mallory"}, timeout=10), 403, "forbidden")

    r = alice.post(API + f"/keys/{key_id}/disable", timeout=10)
    expect_status("alice disables her key: 200", r, 200)
    expect_eq("... and it fails at the gate on the next request", 401, check_at_gate(secret, "/api/reports/daily/x"))
    expect_status("alice cannot enable it again (a disabled key stays so until an admin enables it): 403",
                  alice.post(API + f"/keys/{key_id}/enable", timeout=10), 403, "forbidden")
    expect_status("an admin enables it: 200", ROOT.post(API + f"/keys/{key_id}/enable", timeout=10), 200)
    expect_status("alice cannot renew it past 90 days: 403",
                  alice.post(API + f"/keys/{key_id}/renew", json={"expires": "never"}, timeout=10), 403, "forbidden")
    r = alice.post(API + f"/keys/{key_id}/renew", json={"expires": "1d"}, timeout=10)
    expect_status("alice renews it for a day: 200", r, 200)
    check("... the expiry is about a day away", abs(js(r).get("expires_at", 0) - time.time() - 86400) < 120, js(r))
    r = alice.post(API + f"/keys/{key_id}/regenerate", timeout=10)
    expect_status("alice regenerates it: 200", r, 200)
    fresh = js(r).get("secret", "")
    remember(fresh)
    check("regeneration gives a new secret for the same id", fresh != secret and fresh.startswith(key_id + "_"), js(r))
    expect_eq("the old secret fails at the gate", 401, check_at_gate(secret, "/api/reports/daily/x"))
    expect_eq("the new secret works at the gate", 200, check_at_gate(fresh, "/api/reports/daily/x"))
    expect_status("alice deletes it: 204", alice.delete(API + "/keys/" + key_id, timeout=10), 204)
    expect_eq("the deleted key fails at the gate", 401, check_at_gate(fresh, "/api/reports/daily/x"))

    s = client()
    r = s.post(API + "/session", json={"user": "alice", "password": ALICE_PASSWORD}, timeout=10)
    expect_status("alice signs in with her password: 201", r, 201)
    expect_eq("her session carries her privileges", ["manage-own-keys", "use-api-key"], js(r).get("privileges"))
    r = s.post(API + "/keys", json={"name": "from-session", "scopes": ["/api/reports/"]},
               headers={"X-CSRF-Token": js(r).get("csrf_token", "")}, timeout=10)
    expect_status("alice creates a key in her session (with the CSRF token): 201", r, 201)
    remember(js(r).get("secret", ""))

    rc, out, _ = cli("audit", "list", "--json")
    events = json.loads(out) if rc == 0 else []
    acts = [(e.get("action"), e.get("credential")) for e in events if e.get("actor") == "alice" and e.get("action", "").startswith("key.")]
    expect_eq("alice's API actions are audited under her name with the key id",
              [("key.create", key_id), ("key.disable", key_id), ("key.renew", key_id),
               ("key.regenerate", key_id), ("key.delete", key_id)], acts[:5])
    check("alice's session key.create names the session (via:ses_)",
          len(acts) == 6 and acts[5][0] == "key.create", acts)


def crud():
    """every resource kind, and changes reaching the gate on the next request"""
    # Users
    r = ROOT.post(API + "/users", json={"name": "dave", "email": "dave@example.org", "password": "dave's password 1"}, timeout=10)
    expect_status("POST /users (with e-mail and password): 201", r, 201)
    expect_eq("the new user", ("dave", "active", "dave@example.org", 0),
              (js(r).get("name"), js(r).get("status"), js(r).get("email"), js(r).get("key_count")))
    expect_status("POST /users again: 409 conflict", ROOT.post(API + "/users", json={"name": "dave"}, timeout=10), 409, "conflict")
    expect_eq("GET /users/dave", "dave", js(ROOT.get(API + "/users/dave", timeout=10)).get("name"))
    names = [u.get("name") for u in js(ROOT.get(API + "/users", params={"limit": 500}, timeout=10)).get("items", [])]
    check("GET /users lists dave, sorted", "dave" in names and names == sorted(names), names)
    expect_eq("PUT /users/dave/email null clears it", None,
              js(ROOT.put(API + "/users/dave/email", json={"email": None}, timeout=10)).get("email", "absent"))
    expect_status("PUT /users/dave/password: 204", ROOT.put(API + "/users/dave/password", json={"password": "dave's new password"}, timeout=10), 204)
    dave = client()
    r = dave.post(API + "/session", json={"user": "dave", "password": "dave's new password"}, timeout=10)
    expect_status("dave signs in with it: 201", r, 201)
    csrf = {"X-CSRF-Token": js(r).get("csrf_token", "")}
    r = dave.put(API + "/users/dave/password", json={"password": "dave's third password"}, headers=csrf, timeout=10)
    expect_status("dave changing his own password without the current one: 403", r, 403, "forbidden")
    r = dave.put(API + "/users/dave/password", json={"password": "dave's third password", "current_password": "dave's new password"},
                 headers=csrf, timeout=10)
    expect_status("... with it: 204", r, 204)
    r = dave.get(API + "/me", timeout=10)
    expect_status("... and the session he changed it in goes on", r, 200)
    r = dave.put(API + "/users/dave/password", json={"password": "dave's new password", "current_password": "dave's third password"},
                 headers=csrf, timeout=10)
    expect_status("... and back: 204", r, 204)
    r = client().post(API + "/session", json={"user": "dave", "password": "dave's new password"}, timeout=10)
    expect_status("dave signs in with the new password", r, 201)
    expect_eq("POST /users/dave/disable", "disabled", js(ROOT.post(API + "/users/dave/disable", timeout=10)).get("status"))
    r = client().post(API + "/session", json={"user": "dave", "password": "dave's new password"}, timeout=10)
    expect_status("a disabled user cannot sign in", r, 401, "unauthenticated")
    expect_eq("POST /users/dave/enable", "active", js(ROOT.post(API + "/users/dave/enable", timeout=10)).get("status"))

    # A key for dave under a resource he has no access to yet
    r = ROOT.post(API + "/resources", json={"name": "billing", "path": "/api/billing/", "methods": ["GET"], "owner": "root"}, timeout=10)
    expect_status("POST /resources: 201", r, 201)
    expect_eq("the resource", ("/api/billing/", ["GET"], False, "root"),
              (js(r).get("path"), js(r).get("methods"), js(r).get("anonymous"), js(r).get("owner")))
    r = ROOT.post(API + "/keys", json={"user": "dave", "name": "billing", "scopes": ["/api/billing/"], "expires": "30d"}, timeout=10)
    expect_status("POST /keys for dave: 201", r, 201)
    dave_id, dave_key = js(r).get("id", ""), js(r).get("secret", "")
    remember(dave_key)
    expect_eq("dave's key: 403 at the gate (no access to billing yet)", 403, check_at_gate(dave_key, "/api/billing/x"))

    # Groups, roles, grants: access arrives on the next request
    expect_status("POST /groups: 201", ROOT.post(API + "/groups", json={"name": "finance"}, timeout=10), 201)
    r = ROOT.post(API + "/groups/finance/members", json={"user": "dave"}, timeout=10)
    expect_eq("POST /groups/finance/members", ["dave"], js(r).get("members"))
    r = ROOT.post(API + "/roles", json={"name": "billing-reader", "privileges": ["access:billing"]}, timeout=10)
    expect_status("POST /roles: 201", r, 201)
    r = ROOT.post(API + "/roles/billing-reader/grants", json={"to": "group:finance"}, timeout=10)
    expect_eq("POST /roles/billing-reader/grants", ["group:finance"], js(r).get("granted_to"))
    expect_eq("dave's key: 200 at the gate once his group holds the role", 200, check_at_gate(dave_key, "/api/billing/x"))
    expect_eq("GET /groups/finance shows the role", ["billing-reader"], js(ROOT.get(API + "/groups/finance", timeout=10)).get("roles"))
    expect_eq("GET /roles/billing-reader", ["access:billing"], js(ROOT.get(API + "/roles/billing-reader", timeout=10)).get("privileges"))
    r = ROOT.get(API + "/explain", params={"credential": dave_id, "path": "/api/billing/x", "method": "GET", "ip": "127.0.0.1"}, timeout=10)
    expl = js(r)
    check("GET /explain: allow, with the grant in its steps",
          expl.get("decision") == "allow" and any("billing-reader" in s for s in expl.get("steps", [])), expl)
    r = ROOT.get(API + "/explain", params={"credential": dave_id, "path": "/api/billing/x", "method": "DELETE"}, timeout=10)
    expect_eq("GET /explain for DELETE: deny method_not_allowed (403)", ("deny", 403, "method_not_allowed"),
              (js(r).get("decision"), js(r).get("status"), js(r).get("reason")))
    expect_status("DELETE /groups/finance/members/dave: 204", ROOT.delete(API + "/groups/finance/members/dave", timeout=10), 204)
    expect_eq("dave's key: 403 at the gate on the next request", 403, check_at_gate(dave_key, "/api/billing/x"))
    ROOT.post(API + "/groups/finance/members", json={"user": "dave"}, timeout=10)
    expect_status("DELETE /roles/billing-reader/grants/group:finance: 204",
                  ROOT.delete(API + "/roles/billing-reader/grants/group:finance", timeout=10), 204)
    expect_eq("dave's key: 403 at the gate once the grant is revoked", 403, check_at_gate(dave_key, "/api/billing/x"))

    # Resources: update, anonymous
    r = ROOT.patch(API + "/resources/billing", json={"anonymous": True, "audience": ["user:dave"]}, timeout=10)
    expect_eq("PATCH /resources/billing", (True, ["user:dave"], "/api/billing/"),
              (js(r).get("anonymous"), js(r).get("audience"), js(r).get("path")))
    expect_eq("dave's key: 200 at the gate once he is in the audience", 200, check_at_gate(dave_key, "/api/billing/x"))
    expect_eq("no credential: 200 at the gate on an anonymous resource", 200, requests.get(BASE + "/api/billing/x", timeout=10).status_code)
    expect_eq("GET /resources/billing", True, js(ROOT.get(API + "/resources/billing", timeout=10)).get("anonymous"))
    expect_eq("GET /resources lists billing and reports", ["billing", "reports"],
              [x.get("name") for x in js(ROOT.get(API + "/resources", timeout=10)).get("items", [])])

    # Keys: list, show, disable, enable, renew, regenerate, delete
    expect_eq("GET /keys?user=dave", [dave_id], [k.get("id") for k in js(ROOT.get(API + "/keys", params={"user": "dave"}, timeout=10)).get("items", [])])
    expect_eq("GET /keys/{id}", ("dave", "billing"), (js(ROOT.get(API + "/keys/" + dave_id, timeout=10)).get("user"),
                                                     js(ROOT.get(API + "/keys/" + dave_id, timeout=10)).get("name")))
    expect_eq("POST /keys/{id}/disable", "disabled", js(ROOT.post(API + f"/keys/{dave_id}/disable", timeout=10)).get("status"))
    expect_eq("a disabled key: 401 at the gate", 401, check_at_gate(dave_key, "/api/billing/x"))
    expect_eq("POST /keys/{id}/enable", "active", js(ROOT.post(API + f"/keys/{dave_id}/enable", timeout=10)).get("status"))
    r = ROOT.post(API + f"/keys/{dave_id}/renew", json={"expires": "never"}, timeout=10)
    expect_eq("POST /keys/{id}/renew never", None, js(r).get("expires_at", "absent"))
    r = ROOT.post(API + f"/keys/{dave_id}/regenerate", timeout=10)
    remember(js(r).get("secret", ""))
    expect_eq("POST /keys/{id}/regenerate: the old secret fails at the gate", 401, check_at_gate(dave_key, "/api/billing/x"))
    expect_status("DELETE /keys/{id}: 204", ROOT.delete(API + "/keys/" + dave_id, timeout=10), 204)
    expect_status("GET /keys/{id} after delete: 404", ROOT.get(API + "/keys/" + dave_id, timeout=10), 404, "not_found")

    # Deletes
    expect_status("DELETE /roles/billing-reader: 204", ROOT.delete(API + "/roles/billing-reader", timeout=10), 204)
    expect_status("DELETE /resources/billing: 204", ROOT.delete(API + "/resources/billing", timeout=10), 204)
    expect_eq("no credential: 401 at the gate once the resource is gone", 401, requests.get(BASE + "/api/billing/x", timeout=10).status_code)
    expect_status("DELETE /groups/finance: 204", ROOT.delete(API + "/groups/finance", timeout=10), 204)
    expect_status("DELETE /users/dave: 204", ROOT.delete(API + "/users/dave", timeout=10), 204)
    expect_status("GET /users/dave after delete: 404", ROOT.get(API + "/users/dave", timeout=10), 404, "not_found")
    rc, out, _ = cli("user", "list", "--json")
    check("the CLI sees the API's changes (dave gone)", rc == 0 and "dave" not in out, out[:200])


def signed_get(credential, secret, path):
    """GET `path` through nginx signed per RFC 9421 with hmac-sha256 under `secret` (bytes):
    @method and @target-uri covered, no body (the auth_request check never sees one)."""
    url = BASE + path
    params = f'("@method" "@target-uri");created={int(time.time())};keyid="{credential}";alg="hmac-sha256"'
    signature_base = f'"@method": GET\n"@target-uri": {url}\n"@signature-params": {params}'
    mac = base64.b64encode(hmac.new(secret, signature_base.encode(), hashlib.sha256).digest()).decode()
    return requests.get(url, headers={"Signature-Input": f"sig1={params}", "Signature": f"sig1=:{mac}:"}, timeout=10)


def signed_requests():
    """signed-request credentials (kwh_): create, sign, rotate and delete a secret with the password"""
    r = ROOT.post(API + "/hmac", json={"user": "alice", "name": "reports-signer", "algorithm": "hmac-sha256",
                                       "scopes": ["/api/reports/"], "expires": "30d"}, timeout=10)
    expect_status("POST /hmac for alice: 201", r, 201)
    created = js(r)
    hid, first_text = created.get("id", ""), created.get("secret") or ""
    remember(first_text)
    first = base64.b64decode(first_text or "AA==")
    check("the answer holds the generated secret (32 bytes, base64), no-store, and secret 1 active",
          len(first) == 32 and hid.startswith("kwh_") and r.headers.get("Cache-Control") == "no-store"
          and [(x.get("serial"), x.get("state")) for x in created.get("secrets", [])] == [(1, "active")], brief(r))
    r = signed_get(hid, first, "/api/reports/q1")
    expect_status("a GET signed with it (RFC 9421, hmac-sha256): 200 at the gate", r, 200)
    seen = js(r).get("headers", {})
    if "x-auth-method" in seen:
        expect_eq("... the backend sees X-Auth-Method http-signature and the credential", ("http-signature", hid),
                  (seen.get("x-auth-method"), seen.get("x-auth-credential")))
    expect_eq("... signed with another secret: 401", 401, signed_get(hid, b"x" * 32, "/api/reports/q1").status_code)
    expect_eq("... outside its scope: 403", 403, signed_get(hid, first, "/api/other/q1").status_code)

    r = ROOT.get(API + "/hmac", params={"user": "alice"}, timeout=10)
    items = js(r).get("items", [])
    check("GET /hmac?user=alice lists it, without the secret",
          [x.get("id") for x in items] == [hid] and first_text not in r.text and "secret" not in (items or [{}])[0], brief(r))
    r = ROOT.get(API + f"/hmac/{hid}", timeout=10)
    check("GET /hmac/{id}: its secrets' states, not the secret",
          r.status_code == 200 and first_text not in r.text and js(r).get("algorithm") == "hmac-sha256", brief(r))
    rc, out, err = cli("hmac", "show", hid, "--json")
    check("keyward hmac show sees the API's credential", rc == 0 and hid in out and first_text not in out, err or out[:200])

    r = ROOT.post(API + f"/hmac/{hid}/secrets/1/discard", timeout=10)
    expect_status("discarding the only active secret: 409 conflict", r, 409, "conflict")
    check("... with the rule's reason", "at least one" in js(r).get("error_description", ""), brief(r))

    r = ROOT.post(API + f"/hmac/{hid}/secrets", json={}, timeout=10)
    expect_status("POST /hmac/{id}/secrets: 201", r, 201)
    added = js(r)
    second_text = added.get("secret") or ""
    remember(second_text)
    second = base64.b64decode(second_text or "AA==")
    expect_eq("a second secret, both active", (2, [(1, "active"), (2, "active")]),
              (added.get("serial"), [(x.get("serial"), x.get("state")) for x in added.get("secrets", [])]))
    expect_eq("both sign: 200 and 200", (200, 200),
              (signed_get(hid, first, "/api/reports/q2").status_code, signed_get(hid, second, "/api/reports/q2").status_code))
    expect_status("a third while two are active: 409 conflict", ROOT.post(API + f"/hmac/{hid}/secrets", timeout=10), 409, "conflict")

    r = ROOT.post(API + f"/hmac/{hid}/secrets/1/discard", timeout=10)
    expect_eq("POST .../secrets/1/discard", [(1, "inactive"), (2, "active")],
              [(x.get("serial"), x.get("state")) for x in js(r).get("secrets", [])])
    expect_eq("the first secret: 401 at the gate on the next request; the second: 200", (401, 200),
              (signed_get(hid, first, "/api/reports/q3").status_code, signed_get(hid, second, "/api/reports/q3").status_code))

    r = ROOT.post(API + f"/hmac/{hid}/secrets/1/delete", json={"password": "not root's password"}, timeout=10)
    expect_status("deleting it with a wrong password: 403 forbidden", r, 403, "forbidden")
    r = ROOT.post(API + f"/hmac/{hid}/secrets/2/delete", json={"password": ROOT_PASSWORD}, timeout=10)
    expect_status("deleting the active one: 409 conflict", r, 409, "conflict")
    r = ROOT.post(API + f"/hmac/{hid}/secrets/1/delete", json={"password": ROOT_PASSWORD}, timeout=10)
    expect_status("deleting the discarded one with root's password: 200", r, 200)
    expect_eq("... secret 2 is left", [(2, "active")], [(x.get("serial"), x.get("state")) for x in js(r).get("secrets", [])])
    check("no secret and no password in any of these answers", all(x not in r.text for x in (first_text, second_text, ROOT_PASSWORD)))
    expect_status("secret 1 again: 404 not_found", ROOT.post(API + f"/hmac/{hid}/secrets/1/discard", timeout=10), 404, "not_found")

    wanted = ["hmac.create", "hmac.secret.add", "hmac.secret.discard", "hmac.password.refused", "hmac.secret.delete"]
    found = {a: [e for e in js(ROOT.get(API + "/audit", params={"action": a, "limit": 500}, timeout=10)).get("items", [])
                 if hid in f"{e.get('credential')} {e.get('target')}"] for a in wanted}
    check("audited under the credential's id: " + ", ".join(wanted), all(found.values()), {a: len(v) for a, v in found.items()})

    expect_status("DELETE /hmac/{id}: 204", ROOT.delete(API + f"/hmac/{hid}", timeout=10), 204)
    expect_eq("its remaining secret: 401 at the gate", 401, signed_get(hid, second, "/api/reports/q4").status_code)
    expect_status("GET /hmac/{id} after delete: 404", ROOT.get(API + f"/hmac/{hid}", timeout=10), 404, "not_found")


def mails():
    """The captured messages, in the order sent."""
    names = sorted((n for n in os.listdir(MAIL) if n.endswith(".eml")), key=lambda n: int(n.split(".")[0]))
    out = []
    for n in names:
        with open(os.path.join(MAIL, n), encoding="utf-8") as f:
            out.append(f.read())
    return out


def access_requests():
    """access requests: ask, approve in a session, reveal once by the mailed link, reject"""
    alice = client(ALICE_KEY)
    expect_eq("root and alice get e-mail addresses", [200, 200],
              [ROOT.put(API + f"/users/{u}/email", json={"email": f"{u}@example.test"}, timeout=10).status_code for u in ["root", "alice"]])
    expect_status("root adds the resource ledger, owned by root",
                  ROOT.post(API + "/resources", json={"name": "ledger", "path": "/api/ledger/", "owner": "root"}, timeout=10), 201)
    expect_status("a request for an unknown resource: 404",
                  alice.post(API + "/access-requests", json={"resource": "nothing"}, timeout=10), 404, "not_found")
    before = len(mails())
    r = alice.post(API + "/access-requests", json={"resource": "ledger", "note": "month-end"}, timeout=10)
    expect_status("alice asks for ledger: 201", r, 201)
    req = js(r).get("request", {})
    rid = req.get("id")
    expect_eq("the request is alice's, pending, with her note", ("alice", "ledger", "pending", "month-end"),
              (req.get("user"), req.get("resource"), req.get("status"), req.get("note")))
    expect_eq("the owner was mailed (result sent, his address hidden from alice)", [("root", "sent", None)],
              [(m.get("user"), m.get("result"), m.get("address")) for m in js(r).get("mail", [])])
    new = mails()[before:]
    check("the owner's mail names the request and the API path to decide it",
          len(new) == 1 and "To: root@example.test" in new[0] and f"/admin/api/access-requests/{rid}" in new[0], new)
    expect_status("asking again while pending: 409", alice.post(API + "/access-requests", json={"resource": "ledger"}, timeout=10),
                  409, "conflict")
    expect_status("alice cannot approve her own request: 403", alice.post(API + f"/access-requests/{rid}/approve", timeout=10),
                  403, "forbidden")
    expect_eq("alice lists her request", [rid], [x.get("id") for x in js(alice.get(API + "/access-requests", timeout=10)).get("items", [])])

    s = client()
    login = s.post(API + "/session", json={"user": "root", "password": ROOT_PASSWORD}, timeout=10)
    csrf = js(login).get("csrf_token", "")
    remember(csrf)
    expect_eq("root sees it pending", [rid],
              [x.get("id") for x in js(s.get(API + "/access-requests", params={"status": "pending"}, timeout=10)).get("items", [])])
    expect_status("approving in a session without the CSRF token: 403", s.post(API + f"/access-requests/{rid}/approve", timeout=10),
                  403, "csrf_failed")
    before = len(mails())
    r = s.post(API + f"/access-requests/{rid}/approve", json={"expires": "10d"}, headers={"X-CSRF-Token": csrf}, timeout=10)
    expect_status("root approves in his session: 200", r, 200)
    decided = js(r).get("request", {})
    key_id = decided.get("key_id") or ""
    check("approved, with a key for alice expiring in 10 days",
          decided.get("status") == "approved" and key_id.startswith("kwk_") and abs(decided.get("expires_at", 0) - time.time() - 864000) < 120,
          decided)
    check("the approval answer carries no secret", key_id + "_" not in r.text, r.text[:200])
    new = mails()[before:]
    to_alice = [m for m in new if "To: alice@example.test" in m]
    link = ""
    if to_alice:
        for word in to_alice[0].split():
            if "/keyward/admin/reveal/" in word:
                link = word
    check("alice's mail carries the key id and a one-time link under public_url",
          to_alice and key_id in to_alice[0] and link.startswith(BASE + "/keyward/admin/reveal/"), new)
    r = requests.get(link, timeout=10)
    check("GET on the link: 200, a page with a POST button, no-store",
          r.status_code == 200 and 'method="post"' in r.text and r.headers.get("Cache-Control") == "no-store", brief(r))
    r = requests.post(link, headers={"Accept": "application/json"}, timeout=10)
    secret = js(r).get("secret", "")
    remember(secret)
    check("POST on the link reveals the secret of that key", r.status_code == 200 and secret.startswith(key_id + "_"), brief(r))
    expect_eq("the revealed key works at the gate for /api/ledger/", 200, check_at_gate(secret, "/api/ledger/x"))
    r = requests.post(link, headers={"Accept": "application/json"}, timeout=10)
    expect_eq("POST on the used link: 410 link_used_or_expired", (410, "link_used_or_expired"), (r.status_code, js(r).get("error")))

    r = alice.post(API + "/access-requests", json={"resource": "ledger"}, timeout=10)
    rid2 = js(r).get("request", {}).get("id")
    before = len(mails())
    r = ROOT.post(API + f"/access-requests/{rid2}/reject", json={"reason": "one key is enough"}, timeout=10)
    expect_eq("root rejects the second request with his key", "rejected", js(r).get("request", {}).get("status"))
    new = mails()[before:]
    check("alice is mailed the rejection with its reason", len(new) == 1 and "one key is enough" in new[0], new)
    expect_status("deciding it again: 409", ROOT.post(API + f"/access-requests/{rid2}/approve", timeout=10), 409, "conflict")
    expect_status("DELETE /resources/ledger: 204", ROOT.delete(API + "/resources/ledger", timeout=10), 204)


def audit():
    """audit: filtered, paged, exported as JSON lines"""
    r = ROOT.get(API + "/audit", params={"action": "user.add", "user": "dave"}, timeout=10)
    items = js(r).get("items", [])
    expect_eq("GET /audit?action=user.add&user=dave: one record, by root with root's key",
              [("root", "user:dave", True)], [(e.get("actor"), e.get("target"), ROOT_ID in via(e)) for e in items])
    seen, cursor, pages = [], None, 0
    while pages < 200:
        params = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = js(ROOT.get(API + "/audit", params=params, timeout=10))
        seen += [e.get("id") for e in page.get("items", [])]
        cursor = page.get("next_cursor")
        pages += 1
        if cursor is None:
            break
    check(f"paging through the audit 7 at a time: {len(seen)} records in {pages} pages, in order, none twice",
          len(seen) > 50 and seen == sorted(seen) and len(set(seen)) == len(seen) and pages == (len(seen) + 6) // 7, seen[:10])
    r = ROOT.get(API + "/audit/export", params={"action": "session.create"}, timeout=10)
    lines = [json.loads(x) for x in r.text.splitlines() if x.strip()]
    check("GET /audit/export: application/x-ndjson, one session.create per line",
          r.headers.get("Content-Type") == "application/x-ndjson" and len(lines) >= 3
          and all(x.get("action") == "session.create" for x in lines), brief(r))
    denied = [e for e in js(ROOT.get(API + "/audit", params={"action": "admin.auth.deny", "limit": 500}, timeout=10)).get("items", [])]
    check("refused API keys are audited (admin.auth.deny, with the reason)",
          any(e.get("reason") == "privilege_missing" and e.get("credential") == CAROL_ID for e in denied), denied[:3])
    logins = js(ROOT.get(API + "/audit", params={"action": "session.deny", "limit": 500}, timeout=10)).get("items", [])
    check("failed sign-ins are audited (session.deny)", len(logins) >= 2, logins[:3])


def errors():
    """bad input: stable 4xx codes, never a 5xx"""
    expect_status("unknown path: 404 not_found", ROOT.get(API + "/nothing-here", timeout=10), 404, "not_found")
    r = ROOT.put(API + "/users", json={}, timeout=10)
    expect_status("PUT /users: 405 method_not_allowed", r, 405, "method_not_allowed")
    expect_eq("... with Allow: GET, POST", "GET, POST", r.headers.get("Allow"))
    expect_status("invalid JSON: 400 invalid_json",
                  ROOT.post(API + "/groups", data=b'{"name":', headers={"Content-Type": "application/json"}, timeout=10), 400, "invalid_json")
    expect_status("invalid UTF-8: 400 invalid_json",
                  ROOT.post(API + "/groups", data=b'{"name":"\xff"}', headers={"Content-Type": "application/json"}, timeout=10), 400, "invalid_json")
    expect_status("an unknown member: 400 invalid_argument",
                  ROOT.post(API + "/groups", json={"name": "x", "extra": 1}, timeout=10), 400, "invalid_argument")
    expect_status("a wrongly typed member: 400 invalid_argument",
                  ROOT.post(API + "/groups", json={"name": ["x"]}, timeout=10), 400, "invalid_argument")
    expect_status("text/plain: 415 unsupported_media_type",
                  ROOT.post(API + "/groups", data="name=x", headers={"Content-Type": "text/plain"}, timeout=10), 415, "unsupported_media_type")
    r = ROOT.post(API + "/groups", data=b'{"name":"' + b"x" * (70 * 1024) + b'"}', headers={"Content-Type": "application/json"}, timeout=10)
    check("a 70 KiB body: 413", r.status_code == 413, brief(r))
    expect_status("limit=0: 400", ROOT.get(API + "/users", params={"limit": 0}, timeout=10), 400, "invalid_argument")
    expect_status("limit=501: 400", ROOT.get(API + "/users", params={"limit": 501}, timeout=10), 400, "invalid_argument")
    expect_status("a forged cursor: 400", ROOT.get(API + "/users", params={"cursor": "Zm9yZ2Vk"}, timeout=10), 400, "invalid_argument")
    expect_status("an unknown query parameter: 400", ROOT.get(API + "/users", params={"sort": "name"}, timeout=10), 400, "invalid_argument")
    expect_status("an unknown privilege: 400", ROOT.post(API + "/roles", json={"name": "r", "privileges": ["fly"]}, timeout=10),
                  400, "invalid_argument")
    expect_status("a role for an unknown resource: 404",
                  ROOT.post(API + "/roles", json={"name": "r", "privileges": ["access:none"]}, timeout=10), 404, "not_found")
    first = js(ROOT.get(API + "/users", params={"limit": 2}, timeout=10))
    second = js(ROOT.get(API + "/users", params={"limit": 2, "cursor": first.get("next_cursor")}, timeout=10))
    names = [u.get("name") for u in first.get("items", []) + second.get("items", [])]
    expect_eq("two pages of users, 2 each", sorted(names), names)
    check("... four different users", len(set(names)) == 4, names)


def throttle():
    """failed sign-ins, bad API keys and failed checks share the process's failure throttle"""
    s = client()
    r = s.post(THROTTLED + "/keyward/admin/api/session", json={"user": "root", "password": "wrong"}, timeout=10)
    expect_status("throttled instance: a failed sign-in (1 of 3)", r, 401, "unauthenticated")
    r = requests.get(THROTTLED + "/keyward/admin/api/me", headers={"Authorization": "Bearer kwk_AAAAAAAAAAAAAAAA_" + "B" * 38}, timeout=10)
    expect_status("throttled instance: a bad API key (2 of 3)", r, 401, "unauthenticated")
    r = requests.get(THROTTLED + "/api/reports/x", headers={"Authorization": "Bearer kwk_AAAAAAAAAAAAAAAA_" + "C" * 38}, timeout=10)
    expect_eq("throttled instance: a bad key at the gate (3 of 3)", 401, r.status_code)
    r = requests.get(THROTTLED + "/keyward/admin/api/me", headers={"Authorization": "Bearer kwk_AAAAAAAAAAAAAAAA_" + "D" * 38}, timeout=10)
    expect_status("then another bad API key: 429 too_many_requests", r, 429, "too_many_requests")
    check("... with Retry-After", r.headers.get("Retry-After", "").isdigit(), dict(r.headers))
    # Issue 8, item 5 (Tests/EndToEnd/10-lockout.sh): valid credentials from the address are still served;
    # a password sign-in from it, by a client that never signed in to root, is refused before the hash.
    r = requests.get(THROTTLED + "/keyward/admin/api/me", headers={"Authorization": "Bearer " + ROOT_KEY}, timeout=10)
    expect_eq("... but root's good key: 200", 200, r.status_code)
    r = s.post(THROTTLED + "/keyward/admin/api/session", json={"user": "root", "password": ROOT_PASSWORD}, timeout=10)
    expect_status("... and root's right password from this never-seen client: 429", r, 429, "too_many_requests")
    r = requests.get(THROTTLED + "/api/reports/x", headers={"Authorization": "Bearer kwk_AAAAAAAAAAAAAAAA_" + "E" * 38}, timeout=10)
    expect_eq("... a bad key at the gate: 429", 429, r.status_code)
    r = requests.get(THROTTLED + "/api/reports/x", headers={"Authorization": "Bearer " + ALICE_KEY}, timeout=10)
    expect_eq("... and alice's good key at the gate: 200", 200, r.status_code)


SCENARIOS = [document, unauthenticated, api_keys, sessions, self_service, crud, signed_requests, access_requests, audit, errors,
             throttle]


def main():
    started = time.time()
    for fn in SCENARIOS:
        note(f"---- {fn.__doc__}")
        try:
            fn()
        except Exception as e:
            notok(f"{fn.__name__} ran to the end", f"{type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stderr)
    finish("admin_api.py", started)


if __name__ == "__main__":
    main()
