#!/usr/bin/env python3
"""Lock-outs (issue 8, item 5) through nginx, driven by requests.

Run by Tests/EndToEnd/10-lockout.sh, which starts Keyward (default failure limit: 100 per 60 s;
--trusted-proxy 127.0.0.1/32, so each request's X-Forwarded-For is its client) behind nginx with
the repository's snippets, and passes:

    KW_BASE                    http://127.0.0.1:PORT of nginx (Keyward mounted at /keyward, /api/ protected)
    KW_ROOT_PASSWORD, KW_ALICE_PASSWORD
    KW_ROOT_KEY                root's API key (admin, use-api-key)
    KW_ALICE_KEY               alice's API key (scope /api/)
    KW_CLIENT_ID, KW_CLIENT_SECRET   an OAuth2 client of alice's

Every scenario uses addresses of its own, so their counts do not mix. Prints `ok - <check>` /
`not ok - <check> (detail)` lines; exit 1 if any check failed.
"""
import os
import random
import statistics
import threading
import time
import traceback
import zlib
from concurrent.futures import ThreadPoolExecutor

import requests

from tap import check, expect_eq, finish, note, notok

ENV = os.environ
BASE = ENV["KW_BASE"]
API = BASE + "/keyward/admin/api"
ROOT_PASSWORD, ALICE_PASSWORD = ENV["KW_ROOT_PASSWORD"], ENV["KW_ALICE_PASSWORD"]
ROOT_KEY, ALICE_KEY = ENV["KW_ROOT_KEY"], ENV["KW_ALICE_KEY"]
CLIENT_ID, CLIENT_SECRET = ENV["KW_CLIENT_ID"], ENV["KW_CLIENT_SECRET"]
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
API_KEY_TYPE = "urn:keyward:params:oauth:token-type:api-key"

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def b62(n, width):
    out = ""
    while True:
        out = B62[n % 62] + out
        n //= 62
        if n == 0:
            break
    return out.rjust(width, "0")


def rand62(n):
    return "".join(random.choice(B62) for _ in range(n))


def well_formed(prefix="kwk", public_id=None):
    """A secret of the right shape with a good CRC32: it reaches the lookup, and fails there."""
    body = f"{prefix}_{public_id or rand62(16)}_{rand62(32)}"
    return body + b62(zlib.crc32(body.encode()), 6)


def fresh():
    """A client that keeps nothing between requests (no cookies), and ignores proxy settings: loopback only."""
    s = requests.Session()
    s.trust_env = False
    return s


def xff(ip):
    return {"X-Forwarded-For": ip}


def gate(key, ip, s=None):
    return (s or fresh()).get(BASE + "/api/x", headers={"Authorization": "Bearer " + key, **xff(ip)}, timeout=10)


def me(key, ip):
    return fresh().get(API + "/me", headers={"Authorization": "Bearer " + key, **xff(ip)}, timeout=10)


def client_credentials(cid, secret, ip, path="/token", extra=None):
    data = {"grant_type": "client_credentials", **(extra or {})}
    return fresh().post(BASE + "/keyward" + path, data=data, auth=(cid, secret), headers=xff(ip), timeout=10)


def sign_in(user, password, ip, s=None):
    return (s or fresh()).post(API + "/session", json={"user": user, "password": password}, headers=xff(ip), timeout=20)


def retry_after(r):
    ra = r.headers.get("Retry-After", "")
    return int(ra) if ra.isdigit() else None


def expect_429(name, r, code_header=None, error=None):
    ra = retry_after(r)
    ok = r.status_code == 429 and ra is not None and 1 <= ra <= 60
    detail = f"status {r.status_code}, Retry-After {r.headers.get('Retry-After')!r}, body {r.text[:160]!r}"
    if ok and code_header:
        ok = r.headers.get("X-Auth-Error-Code") == code_header
    if ok and error:
        try:
            ok = r.json().get("error") == error
        except ValueError:
            ok = False
    return check(name, ok, detail)


# ---------------------------------------------------------------------------------------------
# (a) cheap credentials: keys, client secrets, tokens
# ---------------------------------------------------------------------------------------------
def cheap_credentials():
    """100+ bad keys from one address, then valid and bad credentials from it"""
    ip = "203.0.113.10"
    s = fresh()
    codes = [gate(well_formed() if i % 2 else f"kwk_garbage{i}", ip, s).status_code for i in range(100)]
    expect_eq("100 bad keys from one address (half well-formed, half garbage): 401 each", [401] * 100, codes)
    t0 = time.monotonic()
    r = gate(well_formed(), ip, s)
    expect_429("then a bad key: 429 with Retry-After through nginx's snippet, code too_many_failures", r, "too_many_failures")
    check("... and its body names too_many_failures", "too_many_failures" in r.text, r.text[:200])
    expect_429("then garbage (bad checksum, never looked up): 429", gate("kwk_garbage", ip, s), "too_many_failures")
    r = gate(ALICE_KEY, ip, s)
    check("a valid key from that address: 200, with its identity", r.status_code == 200 and r.json()["headers"].get("x-auth-user") == "alice",
          f"{r.status_code} {r.text[:200]}")
    r = me(ROOT_KEY, ip)
    check("the admin API key from that address: 200", r.status_code == 200 and r.json().get("credential", "").startswith("kwk_"),
          f"{r.status_code} {r.text[:200]}")
    r = client_credentials(CLIENT_ID, CLIENT_SECRET, ip)
    check("valid client credentials at /token from that address: 200 with a token",
          r.status_code == 200 and "access_token" in r.text, f"{r.status_code} {r.text[:200]}")
    token = r.json().get("access_token", "") if r.status_code == 200 else ""
    r = gate(token, ip, s)
    expect_eq("the access token at the check from that address: 200", 200, r.status_code)
    r = fresh().post(BASE + "/keyward/token", data={"grant_type": EXCHANGE, "subject_token": ALICE_KEY,
                                                     "subject_token_type": API_KEY_TYPE}, headers=xff(ip), timeout=10)
    expect_eq("token exchange with a valid key from that address: 200", 200, r.status_code)

    wrong = well_formed("kwc", CLIENT_ID[4:])
    r = client_credentials(CLIENT_ID, wrong, ip)
    expect_429("bad client credentials at /token: 429 with Retry-After (not invalid_client)", r, error="too_many_failures")
    expect_429("bad client credentials at /introspect: 429", client_credentials(CLIENT_ID, wrong, ip, "/introspect", {"token": "x"}))
    expect_429("bad client credentials at /revoke: 429", client_credentials(CLIENT_ID, wrong, ip, "/revoke", {"token": "x"}))
    r = fresh().post(BASE + "/keyward/token", data={"grant_type": EXCHANGE, "subject_token": well_formed(),
                                                     "subject_token_type": API_KEY_TYPE}, headers=xff(ip), timeout=10)
    expect_429("token exchange with a bad key: 429", r)
    expect_429("a bad key at the admin API: 429 too_many_requests with Retry-After", me(well_formed(), ip), error="too_many_requests")
    expect_429("a forged token at the check: 429", gate(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"), ip, s),
               "too_many_failures")
    note(f"after the limit: 13 requests in {time.monotonic() - t0:.2f} s")
    # Another client is not affected.
    expect_eq("a bad key from another address: 401", 401, gate(well_formed(), "203.0.113.11", s).status_code)


def canonical_addresses():
    """addresses count in canonical form: IPv6 per /64, IPv4-mapped as IPv4"""
    s = fresh()
    spellings = ["2001:DB8::5", "2001:db8:0::5", "2001:0db8::0005", "2001:db8::ffff:1"]
    codes = [gate(well_formed(), spellings[i % 4], s).status_code for i in range(100)]
    expect_eq("100 bad keys from 2001:DB8::5, 2001:db8:0::5, 2001:0db8::0005, 2001:db8::ffff:1: 401 each", [401] * 100, codes)
    expect_429("then a bad key from 2001:db8::abcd (the same /64): 429", gate(well_formed(), "2001:db8::abcd", s), "too_many_failures")
    expect_eq("a valid key from 2001:db8::abcd: 200", 200, gate(ALICE_KEY, "2001:db8::abcd", s).status_code)
    expect_eq("a bad key from 2001:db8:0:1::5 (the next /64): 401", 401, gate(well_formed(), "2001:db8:0:1::5", s).status_code)
    codes = [gate(well_formed(), "::ffff:198.51.100.5", s).status_code for _ in range(100)]
    expect_eq("100 bad keys from ::ffff:198.51.100.5: 401 each", [401] * 100, codes)
    expect_429("then a bad key from 198.51.100.5: 429", gate(well_formed(), "198.51.100.5", s), "too_many_failures")
    expect_429("and from ::FFFF:c633:6405: 429", gate(well_formed(), "::FFFF:c633:6405", s), "too_many_failures")
    expect_eq("a bad key from 198.51.100.6: 401", 401, gate(well_formed(), "198.51.100.6", s).status_code)


# ---------------------------------------------------------------------------------------------
# (b) passwords
# ---------------------------------------------------------------------------------------------
LAPTOP = fresh()      # root's browser: keeps the device cookie


def flood():
    """a flood of sign-ins for unknown users while root signs in correctly"""
    r = sign_in("root", ROOT_PASSWORD, "192.0.2.10", LAPTOP)
    check("root signs in from a laptop (idle): 201", r.status_code == 201, f"{r.status_code} {r.text[:200]}")
    check("... which keeps a keyward_device cookie", any(c.name == "keyward_device" for c in LAPTOP.cookies),
          f"Set-Cookie: {r.headers.get('Set-Cookie')!r}")
    idle_signin = []
    for _ in range(3):
        t = time.monotonic()
        sign_in("root", ROOT_PASSWORD, "192.0.2.10", LAPTOP)
        idle_signin.append(time.monotonic() - t)
    checks = fresh()
    idle_check = []
    for _ in range(30):
        t = time.monotonic()
        gate(ALICE_KEY, "192.0.2.200", checks)
        idle_check.append(time.monotonic() - t)

    stop = threading.Event()
    lock = threading.Lock()
    seen = {}

    def flooder(ip):
        s = fresh()
        while not stop.is_set():
            try:
                code = sign_in(f"ghost-{random.randrange(10**9)}", "guess", ip, s).status_code
            except requests.RequestException:
                code = "error"
            with lock:
                seen[code] = seen.get(code, 0) + 1

    threads = [threading.Thread(target=flooder, args=(f"10.77.0.{i % 3 + 1}",), daemon=True) for i in range(9)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    root_codes, root_times = [], []
    for _ in range(5):
        t = time.monotonic()
        root_codes.append(sign_in("root", ROOT_PASSWORD, "192.0.2.10", LAPTOP).status_code)
        root_times.append(time.monotonic() - t)
        time.sleep(0.2)
    # Never-seen clients of root's, a fresh address each: they compete with the flood as equals, so
    # they may be told 429 with Retry-After: 1 when every place is taken; they retry as told.
    fresh_codes, fresh_waits = [], []
    for i in range(3):
        t = time.monotonic()
        while True:
            r = sign_in("root", ROOT_PASSWORD, f"192.0.2.{30 + i}")
            if r.status_code != 429 or retry_after(r) != 1 or time.monotonic() - t > 8:
                break
            time.sleep(1)
        fresh_codes.append(r.status_code)
        fresh_waits.append(time.monotonic() - t)
    flood_check = []
    for _ in range(30):
        t = time.monotonic()
        code = gate(ALICE_KEY, "192.0.2.200", checks).status_code
        flood_check.append(time.monotonic() - t)
        if code != 200:
            flood_check.append(float("inf"))
    stop.set()
    for t in threads:
        t.join(timeout=30)
    expect_eq("during the flood, root's 5 sign-ins from the laptop (device cookie): 201 each", [201] * 5, root_codes)
    expect_eq("during the flood, root from 3 never-seen clients (honouring Retry-After: 1): 201 each", [201] * 3, fresh_codes)
    check("during the flood, checks keep answering 200", all(x != float("inf") for x in flood_check), f"{flood_check}")
    check("the flood got only 401 and 429, no 5xx or errors", set(seen) <= {401, 429} and seen.get(401, 0) > 0, f"{seen}")
    med = statistics.median
    note(f"flood: {sum(seen.values())} sign-ins for unknown users from 3 addresses, 9 at a time: {seen}")
    note(f"root's sign-in from the laptop: median {med(idle_signin) * 1000:.0f} ms idle, {med(root_times) * 1000:.0f} ms "
         f"during the flood (max {max(root_times) * 1000:.0f} ms)")
    note(f"root from never-seen clients during the flood: {', '.join(f'{w * 1000:.0f} ms' for w in fresh_waits)} to get in")
    note(f"a valid check: median {med(idle_check) * 1000:.1f} ms idle, {med(flood_check) * 1000:.1f} ms during the flood")


def distributed_guessing():
    """100 wrong passwords for root from 100 addresses; root still signs in from a proven client"""
    r = sign_in("root", ROOT_PASSWORD, "192.0.2.20")
    expect_eq("root signs in from a script at 192.0.2.20 (no cookies kept): 201", 201, r.status_code)
    t = time.monotonic()
    with ThreadPoolExecutor(2) as ex:
        codes = list(ex.map(lambda i: sign_in("root", f"guess number {i}", f"198.18.0.{i}").status_code, range(1, 101)))
    expect_eq("100 wrong passwords for root from 198.18.0.1-100: 401 each", [401] * 100, codes)
    note(f"100 wrong passwords: {time.monotonic() - t:.1f} s (one scrypt each, two at a time)")
    r = sign_in("root", ROOT_PASSWORD, "203.0.113.50", LAPTOP)
    check("then root from the laptop (device cookie), on a network never seen: 201", r.status_code == 201,
          f"{r.status_code} {r.text[:200]}")
    r = sign_in("root", ROOT_PASSWORD, "192.0.2.20")
    check("then root from the script's address, which signed in before: 201", r.status_code == 201,
          f"{r.status_code} {r.text[:200]}")
    right = sign_in("root", ROOT_PASSWORD, "198.51.100.99")
    wrong = sign_in("root", "yet another guess", "198.51.100.99")
    expect_429("root's right password from a never-seen client without a cookie: 429 until the window ends", right,
               error="too_many_requests")
    check("... answered exactly like a wrong password from it (nothing learnt)",
          wrong.status_code == 429 and wrong.text == right.text, f"{wrong.status_code} {wrong.text[:120]!r} vs {right.text[:120]!r}")
    note("a never-seen client is refused while the account is under attack: it cannot be told from the attacker's "
         "100 addresses, so letting it try would let them try; the owner gets in from any client that signed in "
         "before (device cookie or address), and everyone else when the window ends (Retry-After)")
    expect_eq("another account (alice) from a never-seen client: not affected (201)", 201,
              sign_in("alice", ALICE_PASSWORD, "198.51.100.98").status_code)


def unknown_users():
    """unknown users get the same answers, in comparable time"""
    known, unknown = [], []
    for i in range(1, 6):
        for user, out, net in (("alice", known, 5), (f"nobody-{random.randrange(10**6)}", unknown, 6)):
            t = time.monotonic()
            r = sign_in(user, "not the password", f"198.18.{net}.{i}")
            out.append((r.status_code, r.text, time.monotonic() - t))
    expect_eq("5 wrong passwords for alice: 401 each", [401] * 5, [c for c, _, _ in known])
    expect_eq("5 sign-ins for unknown users: the same statuses", [c for c, _, _ in known], [c for c, _, _ in unknown])
    expect_eq("... and the same bodies", {b for _, b, _ in known}, {b for _, b, _ in unknown})
    k = statistics.median(d for _, _, d in known)
    u = statistics.median(d for _, _, d in unknown)
    check(f"... in comparable time (median {k * 1000:.0f} ms known, {u * 1000:.0f} ms unknown)", 0.5 < u / k < 2.0, f"{k} {u}")


SCENARIOS = [cheap_credentials, canonical_addresses, flood, distributed_guessing, unknown_users]


def main():
    started = time.time()
    for scenario in SCENARIOS:
        note(f"---- {scenario.__name__}: {scenario.__doc__}")
        try:
            scenario()
        except Exception as e:  # a crash is a failed check, and the next scenario still runs
            notok(f"{scenario.__name__} ran to the end", f"{type(e).__name__}: {e}")
            traceback.print_exc()
    finish("lockout.py", started)


if __name__ == "__main__":
    main()
