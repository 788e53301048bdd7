#!/usr/bin/env python3
"""Keyward's services through nginx, Apache and lighttpd, with PyJWT minting the service JWTs.

Run by Tests/EndToEnd/13-services.sh, which creates the service `billing` (owner alice, scope
/api/), an API key `roll` of bob, starts Keyward behind the three servers and passes:

    KW_BIN, KW_DB            the keyward binary and database (rotation through the CLI mid-run)
    KW_FIXTURES              directory with service.json (service create --json) and key-roll.json
    KW_PASSWORD              alice's password (delete and reveal need it again)
    KW_SECRETS               file to append every secret made here to (for the leak checks)
    KW_NGX, KW_AP, KW_LT     http://127.0.0.1:PORT of nginx, Apache and lighttpd

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

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tap import check, expect_eq, finish, note, one

ENV = os.environ
BIN, DB, FIX, PASSWORD = ENV["KW_BIN"], ENV["KW_DB"], ENV["KW_FIXTURES"], ENV["KW_PASSWORD"]
SERVERS = [("nginx", ENV["KW_NGX"] + "/api/x"), ("apache", ENV["KW_AP"] + "/api/x"), ("lighttpd", ENV["KW_LT"] + "/api/echo.cgi")]
NGINX = SERVERS[0]

HTTP = requests.Session()
HTTP.trust_env = False


def load(name):
    with open(os.path.join(FIX, name)) as f:
        return json.load(f)


SERVICE = load("service.json")
KEY1 = SERVICE["service_key"]
KEY1_ID = KEY1[:20]
JWT1 = SERVICE["jwt_secret"]
JWT1_ID = SERVICE["jwt_secret_id"]
NARROW = load("service-narrow.json")


def remember(secret):
    with open(ENV["KW_SECRETS"], "a") as f:
        f.write(secret + "\n")


def cli(*args, stdin=None):
    """keyward --db DB args... -> (exit status, stdout, stderr)."""
    p = subprocess.run([BIN, "--db", DB, *args], capture_output=True, text=True, timeout=60, input=stdin)
    return p.returncode, p.stdout, p.stderr


def cli_ok(name, *args, stdin=None):
    rc, out, err = cli(*args, stdin=stdin)
    check(name, rc == 0, f"exit {rc}: {err.strip()}")
    return out


def get(url, bearer=None, api_key=None, query=None):
    headers = {}
    if bearer is not None:
        headers["Authorization"] = "Bearer " + bearer
    if api_key is not None:
        headers["X-API-Key"] = api_key
    return HTTP.get(url, headers=headers, params={"APIKey": query} if query else None, timeout=10)


def seen(server, r):
    """What the application saw: user, method, credential, service."""
    if server == "lighttpd":
        env = dict(line.split("=", 1) for line in r.text.splitlines() if "=" in line)
        return {"user": env.get("REMOTE_USER"), "method": env.get("AUTH_METHOD"),
                "credential": env.get("AUTH_CREDENTIAL"), "service": env.get("AUTH_SERVICE")}
    try:
        h = r.json()["headers"]
    except Exception:
        return {}
    return {"user": h.get("x-auth-user"), "method": h.get("x-auth-method"),
            "credential": h.get("x-auth-credential"), "service": h.get("x-auth-service")}


def secret_bytes(b64):
    return base64.b64decode(b64)


def mint(secret_b64, iss="billing", iat="now", exp="later", alg="HS256", extra=None):
    now = int(time.time())
    claims = {"iss": iss}
    if iat is not None:
        claims["iat"] = now if iat == "now" else iat
    if exp is not None:
        claims["exp"] = now + 300 if exp == "later" else exp
    claims.update(extra or {})
    return jwt.encode(claims, secret_bytes(secret_b64), algorithm=alg)


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header, claims, sign):
    """A compact JWS with any header, signed by `sign(signing_input) -> bytes`."""
    signing_input = b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())
    return signing_input + "." + b64u(sign(signing_input.encode()))


def allowed(name, server, url, method, credential, **kw):
    r = get(url, **kw)
    if not check(f"{server}: {name} -> 200", r.status_code == 200, f"{r.status_code} {one(r.text[:200])}"):
        return
    s = seen(server, r)
    expect_eq(f"{server}: {name} -> the application sees the owner", "alice", s.get("user"))
    expect_eq(f"{server}: {name} -> method {method}", method, s.get("method"))
    expect_eq(f"{server}: {name} -> the credential id", credential, s.get("credential"))
    expect_eq(f"{server}: {name} -> the service", "billing", s.get("service"))
    if server == "nginx":
        subject = r.json()["headers"].get("x-auth-subject")
        expect_eq(f"{server}: {name} -> X-Auth-Subject service:billing", "service:billing", subject)


def refused(name, server, url, code, status=401, **kw):
    r = get(url, **kw)
    got = (r.status_code, r.headers.get("X-Auth-Error-Code"))
    expect_eq(f"{server}: {name} -> {status} {code}", (status, code), got)


def main():
    started = time.time()
    now = int(time.time())

    note("service keys and service JWTs through the three servers")
    for server, url in SERVERS:
        allowed("service JWT (PyJWT, HS256, iss = name)", server, url, "service-jwt", JWT1_ID, bearer=mint(JWT1))
        allowed("service JWT with iss = the service key's id", server, url, "service-jwt", JWT1_ID, bearer=mint(JWT1, iss=KEY1_ID))
        allowed("service JWT without exp", server, url, "service-jwt", JWT1_ID, bearer=mint(JWT1, exp=None))
        allowed("service key in X-API-Key", server, url, "service-key", KEY1_ID, api_key=KEY1)
        allowed("service key as Bearer", server, url, "service-key", KEY1_ID, bearer=KEY1)
        allowed("service key in ?APIKey=", server, url, "service-key", KEY1_ID, query=KEY1)
        allowed("JWT and service key: the JWT decides", server, url, "service-jwt", JWT1_ID, bearer=mint(JWT1), api_key=KEY1)
        refused("a bad JWT beside a good service key: the JWT decides", server, url, "invalid_credential",
                bearer=mint(base64.b64encode(b"x" * 32).decode()), api_key=KEY1)
        # The service `narrow` may call /api/reports/ only: its own scopes bind its JWTs and keys.
        refused("a service JWT outside the service's scopes", server, url, "path_not_allowed", status=403,
                bearer=mint(NARROW["jwt_secret"], iss="narrow"))
        refused("a service key outside the service's scopes", server, url, "path_not_allowed", status=403,
                api_key=NARROW["service_key"])

    note("refusals, with their codes")
    secret = secret_bytes(JWT1)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    claims = {"iss": "billing", "iat": now, "exp": now + 300}
    hostile = [
        ("alg none (PyJWT)", jwt.encode(claims, None, algorithm="none"), "invalid_credential"),
        ("alg none, signed anyway", forged({"alg": "none", "typ": "JWT"}, claims, lambda m: hmac.new(secret, m, hashlib.sha256).digest()),
         "invalid_credential"),
        ("alg HS384 with the secret", jwt.encode(claims, secret, algorithm="HS384"), "invalid_credential"),
        ("alg HS512 with the secret", jwt.encode(claims, secret, algorithm="HS512"), "invalid_credential"),
        ("alg RS256 with the secret as the key", forged({"alg": "RS256", "typ": "JWT"}, claims,
                                                        lambda m: hmac.new(secret, m, hashlib.sha256).digest()), "invalid_credential"),
        ("alg RS256 with a real RSA key", jwt.encode(claims, rsa_key, algorithm="RS256"), "invalid_credential"),
        ("alg ES256", jwt.encode(claims, ec_key, algorithm="ES256"), "invalid_credential"),
        ("alg EdDSA", jwt.encode(claims, ed_key, algorithm="EdDSA"), "invalid_credential"),
        ("alg ES256 with the secret as an HMAC", forged({"alg": "ES256"}, claims, lambda m: hmac.new(secret, m, hashlib.sha256).digest()),
         "invalid_credential"),
        ("lifetime over 60 minutes", mint(JWT1, iat=now, exp=now + 3601), "invalid_credential"),
        ("missing iat", mint(JWT1, iat=None), "invalid_credential"),
        ("exp equal to iat", mint(JWT1, iat=now, exp=now), "invalid_credential"),
        ("iat in the future beyond the leeway", mint(JWT1, iat=now + 300, exp=now + 600), "invalid_credential"),
        ("unknown iss", mint(JWT1, iss="payroll"), "invalid_credential"),
        ("iss naming another user's key id", mint(JWT1, iss=load("key-roll.json")["id"]), "invalid_credential"),
        ("wrong secret", mint(base64.b64encode(os.urandom(32)).decode()), "invalid_credential"),
        ("expired", mint(JWT1, iat=now - 4000, exp=now - 3700), "token_expired"),
        ("expired without exp (iat + 60 minutes)", mint(JWT1, iat=now - 3700, exp=None), "token_expired"),
        ("tampered payload", (lambda t: t.split(".")[0] + "." + b64u(json.dumps({"iss": "billing", "iat": now, "exp": now + 3000}).encode())
                              + "." + t.split(".")[2])(mint(JWT1)), "invalid_credential"),
    ]
    for server, url in SERVERS:
        for name, token, code in hostile:
            refused(name, server, url, code, bearer=token)
        refused("a service key with one character changed", server, url, "invalid_credential",
                api_key=KEY1[:30] + ("A" if KEY1[30] != "A" else "B") + KEY1[31:])

    note("rotation: JWT secrets")
    out = cli_ok("service credential add jwt-secret", "--json", "service", "credential", "add", "billing", "jwt-secret")
    added = json.loads(out or "{}")
    JWT2, JWT2_ID = added.get("secret", ""), added.get("id", "")
    remember(JWT2)
    check("the second JWT secret is 32 bytes, base64", len(base64.b64decode(JWT2 or "")) == 32, JWT2_ID)
    old, new = mint(JWT1), mint(JWT2)
    for server, url in SERVERS:
        allowed("during the rotation, the old secret still verifies", server, url, "service-jwt", JWT1_ID, bearer=old)
        allowed("the client switched to the new secret", server, url, "service-jwt", JWT2_ID, bearer=new)
    rc, _, err = cli("service", "credential", "add", "billing", "jwt-secret")
    check("a third active JWT secret is refused (exit 1, the reason)", rc == 1 and "at most two active" in err, f"{rc} {err.strip()}")
    rc, _, err = cli("service", "credential", "delete", "billing", JWT1_ID, "--password-stdin", stdin=PASSWORD + "\n")
    check("an active JWT secret cannot be deleted (exit 1, the reason)", rc == 1 and "discard it first" in err, f"{rc} {err.strip()}")
    cli_ok("discard the first JWT secret", "service", "credential", "discard", "billing", JWT1_ID)
    for server, url in SERVERS:
        refused("the first JWT secret, on the next request", server, url, "credential_disabled", bearer=old)
        refused("a fresh JWT with the discarded secret", server, url, "credential_disabled", bearer=mint(JWT1, iat=int(time.time()) - 1))
        allowed("the new secret still verifies", server, url, "service-jwt", JWT2_ID, bearer=new)
    rc, _, err = cli("service", "credential", "discard", "billing", JWT2_ID)
    check("discarding the last active JWT secret is refused (exit 1, the reason)",
          rc == 1 and "at least one stays active" in err, f"{rc} {err.strip()}")
    cli_ok("reactivate the first JWT secret", "service", "credential", "reactivate", "billing", JWT1_ID)
    for server, url in SERVERS:
        allowed("reactivated, the first secret verifies again", server, url, "service-jwt", JWT1_ID, bearer=old)
    cli_ok("discard the first JWT secret again", "service", "credential", "discard", "billing", JWT1_ID)
    rc, _, err = cli("service", "credential", "discard", "billing", JWT2_ID)
    check("a second inactive is refused too (exit 1)", rc == 1 and ("at least one" in err or "at most one inactive" in err), err.strip())
    rc, _, err = cli("service", "credential", "delete", "billing", JWT1_ID, "--password-stdin", stdin="not the password\n")
    check("delete with a wrong password is refused (exit 1)", rc == 1 and "password" in err, f"{rc} {err.strip()}")
    rc, _, err = cli("service", "credential", "delete", "billing", JWT1_ID)
    check("delete without --password-stdin is bad usage (exit 2)", rc == 2, f"{rc} {err.strip()}")
    cli_ok("delete the inactive JWT secret with the owner's password", "service", "credential", "delete", "billing", JWT1_ID,
           "--password-stdin", stdin=PASSWORD + "\n")
    for server, url in SERVERS:
        refused("the deleted secret's JWT", server, url, "invalid_credential", bearer=old)
        allowed("the remaining secret's JWT", server, url, "service-jwt", JWT2_ID, bearer=new)
    shown = json.loads(cli_ok("reveal the JWT secret with the password", "--json", "service", "credential", "reveal", "billing", JWT2_ID,
                              "--password-stdin", stdin=PASSWORD + "\n") or "{}")
    expect_eq("reveal gives the secret that was shown once", JWT2, shown.get("secret"))
    rc, out, err = cli("service", "credential", "reveal", "billing", JWT2_ID, "--password-stdin", stdin="wrong\n")
    check("reveal with a wrong password is refused and shows nothing", rc == 1 and JWT2 not in out + err, f"{rc}")

    note("rotation: service keys")
    added = json.loads(cli_ok("service credential add service-key", "--json", "service", "credential", "add", "billing",
                              "service-key") or "{}")
    KEY2, KEY2_ID = added.get("secret", ""), added.get("id", "")
    remember(KEY2)
    for server, url in SERVERS:
        allowed("the second service key", server, url, "service-key", KEY2_ID, api_key=KEY2)
        allowed("the first service key, during the rotation", server, url, "service-key", KEY1_ID, api_key=KEY1)
    cli_ok("discard the first service key", "service", "credential", "discard", "billing", KEY1_ID)
    for server, url in SERVERS:
        refused("the first service key, on the next request", server, url, "credential_disabled", api_key=KEY1)
        refused("a JWT whose iss is the discarded key's id", server, url, "invalid_credential", bearer=mint(JWT2, iss=KEY1_ID))
        allowed("a JWT whose iss is the new key's id", server, url, "service-jwt", JWT2_ID, bearer=mint(JWT2, iss=KEY2_ID))
    cli_ok("reactivate the first service key", "service", "credential", "reactivate", "billing", KEY1_ID)
    allowed("reactivated, the first service key works again", *NGINX, "service-key", KEY1_ID, api_key=KEY1)
    cli_ok("discard the first service key again", "service", "credential", "discard", "billing", KEY1_ID)
    shown = json.loads(cli_ok("an inactive key can still be revealed", "--json", "service", "credential", "reveal", "billing", KEY1_ID,
                              "--password-stdin", stdin=PASSWORD + "\n") or "{}")
    expect_eq("reveal gives the first service key", KEY1, shown.get("secret"))
    cli_ok("delete the first service key with the password", "service", "credential", "delete", "billing", KEY1_ID,
           "--password-stdin", stdin=PASSWORD + "\n")
    for server, url in SERVERS:
        refused("the deleted service key", server, url, "invalid_credential", api_key=KEY1)
    listing = cli_ok("service show", "service", "show", "billing")
    check("service show lists the two remaining credentials, masked", KEY2_ID + "_••••" in listing and JWT2_ID + "_••••" in listing
          and KEY2[21:] not in listing, one(listing))

    uses = {}
    for _ in range(30):  # usage is written off the request path, about once a second
        shown = json.loads(cli("--json", "service", "show", "billing")[1] or "{}")
        uses = {c["id"]: c["use_count"] for c in shown.get("credentials", [])}
        if uses.get(KEY2_ID, 0) > 0 and uses.get(JWT2_ID, 0) > 0:
            break
        time.sleep(0.2)
    check("service show counts the uses of the service key and the JWT secret", uses.get(KEY2_ID, 0) > 0 and uses.get(JWT2_ID, 0) > 0,
          str(uses))

    note("key roll: the old secret works until the grace ends")
    roll = load("key-roll.json")
    rolled = json.loads(cli_ok("key roll --grace 3s", "--json", "key", "roll", roll["id"], "--grace", "3s") or "{}")
    new_secret = rolled.get("key", {}).get("secret", "")
    remember(new_secret)
    rc, _, err = cli("key", "roll", roll["id"], "--grace", "1h")
    check("a second roll during the grace is refused (exit 1, the reason)", rc == 1 and "at most two active" in err, f"{rc} {err.strip()}")
    for server, url in SERVERS:
        r = get(url.replace("/api/", "/api/"), api_key=roll["secret"])
        expect_eq(f"{server}: the old secret during the grace -> 200", 200, r.status_code)
        r = get(url, api_key=new_secret)
        expect_eq(f"{server}: the new secret -> 200", 200, r.status_code)
        expect_eq(f"{server}: a user's own key names no service", (None if server != "lighttpd" else ""), seen(server, r).get("service"))
    time.sleep(max(0.0, rolled.get("previous_valid_until", 0) - time.time()) + 1.2)
    for server, url in SERVERS:
        refused("the old secret after the grace", server, url, "invalid_credential", api_key=roll["secret"])
        r = get(url, api_key=new_secret)
        expect_eq(f"{server}: the new secret after the grace -> 200", 200, r.status_code)

    note("deleting the service needs the password")
    rc, _, err = cli("service", "delete", "billing", "--password-stdin", stdin="wrong\n")
    check("service delete with a wrong password is refused", rc == 1, f"{rc} {err.strip()}")
    cli_ok("service delete with the owner's password", "service", "delete", "billing", "--password-stdin", stdin=PASSWORD + "\n")
    for server, url in SERVERS:
        refused("the deleted service's JWT", server, url, "invalid_credential", bearer=new)
        refused("the deleted service's key", server, url, "invalid_credential", api_key=KEY2)

    finish("services.py", started)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is one failure, with the reason
        import traceback
        traceback.print_exc()
        print(f"not ok - services.py crashed ({one(e)})", flush=True)
        sys.exit(1)
