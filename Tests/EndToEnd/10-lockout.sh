#!/usr/bin/env bash
# Keyward end-to-end: lock-outs (issue 8, item 5) through real nginx, driven by requests in
# Tests/EndToEnd/lockout.py.
#
#   (a) 100+ bad keys from one address: a valid key, the admin API key and valid client credentials
#       at /token from that address are still served; a bad key gets 429 with Retry-After (nginx turns
#       Keyward's 403 + X-Auth-Status: 429 into a real 429 through the shipped snippet), /token,
#       /introspect, /revoke and the admin API 429 for bad credentials. Addresses count in canonical
#       form: 2001:DB8::5, 2001:db8:0::5 and the rest of that /64 are one client, ::ffff:198.51.100.5
#       and 198.51.100.5 too.
#   (b) 100 wrong passwords for root from 100 addresses: root still signs in from a client that has
#       signed in before (its device cookie, or its address); a never-seen client is refused (429)
#       until the window ends, right password or wrong. Unknown users are answered like known ones.
#       A flood of sign-ins for unknown users does not make correct sign-ins fail.
#
# nginx uses the repository's files unchanged, included by absolute path:
#   nginx/keyward.conf            the internal check location and the JSON error pages (the 429)
#   nginx/keyward-endpoints.conf  /keyward/ -> Keyward as a FastCGI responder (--mount /keyward)
#   nginx/keyward-protect.conf    inside the protected `location /api/`
# Keyward runs with the default failure limit (100 per 60 s) and --trusted-proxy 127.0.0.1/32, so
# the driver plays many clients with X-Forwarded-For, all over loopback.
#
# Usage:  Tests/EndToEnd/10-lockout.sh
# Env:    KEYWARD_BIN          keyward binary (default: <repo>/.build/debug/keyward)
#         KEYWARD_E2E_PORTS    LOW-HIGH loopback port range (default 18100-18999)
#         KEYWARD_E2E_KEEP     1 = keep the temporary directory (it is always kept after a failure)
#         KEYWARD_E2E_VERBOSE  1 = show keyward / nginx log tails after a failure
#
# Output: `ok - <check>` / `not ok - <check> (detail)` per check, then `N passed, N failed`.
# Exit 1 when any check failed or the suite could not run. Needs root (nginx drops to www-data),
# nginx, curl, python3 with requests (pip-installed when missing). About 40 s, most of it scrypt:
# the 100 wrong passwords and the flood.

set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SUITE="lock-out suite"

require_tools "apt-get install nginx python3 python3-pip curl; the Makefile does this" nginx python3 curl timeout
python3 -c "import requests" 2>/dev/null ||
    timeout 600 python3 -m pip install --quiet --disable-pip-version-check requests ||
    bail "pip install requests failed for $(command -v python3) (or apt-get install python3-requests)"
python3 -c "import requests" 2>/dev/null || bail "python3 cannot import requests even after pip install"
require_root "nginx starts as root and drops to www-data"
require_repo_files nginx/example-site.conf nginx/keyward.conf nginx/keyward-protect.conf nginx/keyward-endpoints.conf

make_tmpdir keyward-lockout
read -r P_NGX P_BACKEND <<<"$(free_ports 2)"
[ -n "${P_BACKEND:-}" ] || bail "could not pick free ports"
BASE=http://127.0.0.1:$P_NGX

# ---------------------------------------------------------------------------------------------
# Database: an admin with a password and an API key, a user with a key, a client and a password
# ---------------------------------------------------------------------------------------------
kw_init
add_users root alice
ROOT_PASSWORD="root password $RANDOM$RANDOM"
ALICE_PASSWORD="alice password $RANDOM$RANDOM"
printf '%s\n' "$ROOT_PASSWORD" | must kw user passwd root --password-stdin
printf '%s\n' "$ALICE_PASSWORD" | must kw user passwd alice --password-stdin
add_admins root
mkkey root --user root --name automation --expires never
mkkey alice --user alice --name app --scope /api/
kw client create --user alice --name service --json >"$T/cli/client.json" || bail "client create failed"
ROOT_KEY=${KSEC[root]}
ALICE_KEY=${KSEC[alice]}
CLIENT_ID=$(jget "$T/cli/client.json" client_id)
CLIENT_SECRET=$(jget "$T/cli/client.json" client_secret)
[ -n "$ROOT_KEY" ] && [ -n "$ALICE_KEY" ] && [ -n "$CLIENT_ID" ] && [ -n "$CLIENT_SECRET" ] || bail "could not read the credentials"

# ---------------------------------------------------------------------------------------------
# Keyward (default failure limit), backend, nginx
# ---------------------------------------------------------------------------------------------
start_keyward kw keyward "unix:$T/kw.sock" --socket-mode 0666 --threads 8 \
    --mount /keyward --issuer "$BASE/keyward" --trusted-proxy 127.0.0.1/32
wait_keywards
start_backend
start_nginx_site ngx "$T/nginx" "$P_NGX" "$T/kw.sock" --endpoints
http -H "Authorization: Bearer $ALICE_KEY" "$BASE/api/x"
expect_eq "nginx and keyward are up: alice's key at /api/x" 200 "$CODE"

# ---------------------------------------------------------------------------------------------
# The scenarios: lockout.py (requests)
# ---------------------------------------------------------------------------------------------
echo "# lock-out scenarios (lockout.py)"
KW_BASE=$BASE KW_ROOT_PASSWORD=$ROOT_PASSWORD KW_ALICE_PASSWORD=$ALICE_PASSWORD KW_ROOT_KEY=$ROOT_KEY \
KW_ALICE_KEY=$ALICE_KEY KW_CLIENT_ID=$CLIENT_ID KW_CLIENT_SECRET=$CLIENT_SECRET \
    timeout 240 python3 -u "$HERE/lockout.py" 2>"$T/logs/lockout-py.err" | tee "$T/logs/lockout-py.out"
tap_tally "lockout.py" "$T/logs/lockout-py" "${PIPESTATUS[0]}"

# ---------------------------------------------------------------------------------------------
# Nothing crashed; the refusals are in the audit log
# ---------------------------------------------------------------------------------------------
if kill -0 "$PID_kw" 2>/dev/null; then ok "keyward is still running"; else notok "keyward is still running" running exited; fi
sleep 1.5                                   # audit events are written about once a second
kw audit list --json --since 1h --limit 100000 >"$T/audit.json"
# Past its limit a client's refusals are audited at the 1st, 2nd, 4th, 8th... of its window, whichever
# endpoint refused it: 203.0.113.10 (cheap_credentials) was refused 8 times after its 100 failures.
python3 - "$T/audit.json" >"$T/audit-check.txt" <<'PY'
import json, re, sys
events = [e for e in json.load(open(sys.argv[1])) if e.get("reason") == "too_many_failures"]
def n(e):
    m = re.search(r"refusal (\d+) of the window", e.get("detail") or "")
    return int(m.group(1)) if m else -1
for action in ("check.deny", "token.deny", "session.deny"):
    print(f"{action}_events", "ok" if any(e["action"] == action for e in events) else "none")
print("every_refusal_audited_at_a_doubling", "ok" if events and all(n(e) > 0 and n(e) & (n(e) - 1) == 0 for e in events)
      else [e.get("detail") for e in events][:5])
mine = sorted(n(e) for e in events if e.get("source_ip") == "203.0.113.10")
print("203.0.113.10_refusals_1_2_4_8", "ok" if mine == [1, 2, 4, 8] else mine)
PY
while read -r what res; do
    expect_eq "audit: too_many_failures $what" ok "$res"
done <"$T/audit-check.txt"
[ -s "$T/audit-check.txt" ] || notok "audit: too_many_failures events" "a report" "none"
if grep -q 'KW0[0-9]*.*failed' "$T/logs/keyward.log"; then
    notok "keyward logged no infrastructure failure" "none" "$(grep 'failed' "$T/logs/keyward.log" | head -n 2)"
else
    ok "keyward logged no infrastructure failure"
fi
[ "$FAIL" = 0 ] || { show_log "$T/logs/keyward.log"; show_log "$T/nginx/logs/error.log"; }
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
