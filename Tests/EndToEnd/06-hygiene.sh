#!/usr/bin/env bash
# Keyward end-to-end: what a credential, a name or a path says is what everyone reads from it
# (issue 8, items 3, 7, 8, 9 and 10), through real nginx with the repository's own files:
#   nginx/keyward.conf, nginx/keyward-endpoints.conf, nginx/keyward-protect.conf   (unchanged)
# and Tests/EndToEnd/backend.py as the protected application (it echoes the headers it got).
#
#   3  a scope that would read as two ("/api/self/ /admin/", commas, tabs, C1) is refused by the
#      admin API and the CLI; the backend sees exactly the one scope a key has
#   8  C1 controls and bidi overrides: refused in key names; a request path carrying them is
#      refused (C1) or reaches the audit, and every listing shows it escaped
#   9  user names `.` and `..` are refused (they would reach backends as REMOTE_USER)
#  10  a token exchanged right after `key regenerate`, in the same second, works at the check;
#      the token of the old secret does not
#   7  under umask 022 the database, WAL, SHM, generation and key files are 0600; `serve` refuses
#      a world-readable database and `init` takes the others' permissions off
#
# Usage:  Tests/EndToEnd/06-hygiene.sh      (env as for 01-check.sh: KEYWARD_BIN, KEYWARD_E2E_KEEP, ...)
# Output: `ok - ` / `not ok - ` per check, then `N passed, N failed`. Needs root, nginx, curl,
# python3; loopback only. About 10 s.

set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SUITE="hygiene suite"

require_tools "apt-get install nginx curl python3; the Makefile does this" nginx curl python3 timeout
require_root "nginx starts as root and drops to www-data"
make_tmpdir keyward-hygiene
read -r P_NGX P_BACKEND <<<"$(free_ports 2)"
[ -n "${P_BACKEND:-}" ] || bail "could not pick free ports"

# ---------------------------------------------------------------------------------------------
# Keyward: an admin, a self-service user with one resource, keys
# ---------------------------------------------------------------------------------------------
kw_init
add_users root alice
add_admins root
add_self_service alice
must kw resource add self --path /api/self/ --audience user:alice
mkkey root --user root --name automation
mkkey alice --user alice --name bootstrap --scope /api/self/ --scope /keyward/admin/api/
mkkey regen --user alice --name regen --scope /api/self/
ROOT=${KSEC[root]}
ALICE=${KSEC[alice]}
REGEN_ID=${KID[regen]}

start_keyward kw keyward "unix:$T/kw.sock" --socket-mode 0666 --threads 2 --mount /keyward --failure-limit 0
wait_keywards
start_backend
start_nginx_site nginx "$T/nginx" "$P_NGX" "$T/kw.sock" --endpoints
BASE=http://127.0.0.1:$P_NGX

# ---------------------------------------------------------------------------------------------
# 3: one scope is one scope
# ---------------------------------------------------------------------------------------------
echo "# item 3: scopes that would read as two"
create_key() { # json-scope-array -> $CODE, $T/r.body
    http -X POST -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' \
        --data "{\"name\":\"k$RANDOM\",\"expires\":\"7d\",\"scopes\":$1}" "$BASE/keyward/admin/api/keys"
}
for scope in '"/api/self/ /admin/"' '"/api/self/,/admin/"' '"/api/self/\t/admin/"' '"/api/self/\u0085/admin/"' '"/api/self/\u2028x"'; do
    create_key "[$scope]"
    expect_eq "admin API refuses the scope $scope (400)" 400 "$CODE"
    expect_eq "admin API refuses the scope $scope: code" invalid_argument "$(jget "$T/r.body" error)"
done
kw key create --user alice --name two --scope "/api/self/ /admin/" >/dev/null 2>&1
rc=$?
[ $rc -ne 0 ] && ok "key create --scope '/api/self/ /admin/' is refused (exit $rc)" ||
    notok "key create --scope '/api/self/ /admin/' is refused" "non-zero exit" 0
create_key '["/api/self/"]'
expect_eq "admin API creates a key with the one scope /api/self/" 201 "$CODE"
NEW=$(jget "$T/r.body" secret)
http -H "Authorization: Bearer $NEW" "$BASE/api/self/x"
expect_eq "the new key reaches /api/self/x" 200 "$CODE"
expect_eq "the backend reads exactly one scope" /api/self/ "$(jget "$T/r.body" headers.x-auth-scopes)"
http -H "Authorization: Bearer $NEW" "$BASE/api/admin/x"
expect_eq "the new key does not reach /api/admin/x" 403 "$CODE"

# ---------------------------------------------------------------------------------------------
# 8: C1 controls and bidi overrides
# ---------------------------------------------------------------------------------------------
echo "# item 8: control and format characters"
for what in 'U+0085 NEL' 'U+009B CSI' 'U+202E RLO' 'U+200B ZWSP'; do
    name="key$(python3 -c 'import sys; print(chr(int(sys.argv[1], 16)), end="")' "${what:2:4}")name"
    kw key create --user alice --name "$name" >/dev/null 2>&1
    rc=$?
    expect_eq "key create refuses a name with $what (exit 1)" 1 "$rc"
done
http -X POST -H "Authorization: Bearer $ROOT" -H 'Content-Type: application/json' \
    --data '{"user":"alice","name":"evil\u202egnp.exe"}' "$BASE/keyward/admin/api/keys"
expect_eq "admin API refuses a key name with U+202E (400)" 400 "$CODE"
http -H "Authorization: Bearer $ROOT" "$BASE/api/self/%C2%9B2Jx"
expect_eq "a path with a C1 control (CSI) is refused" 403 "$CODE"
expect_eq "a path with a C1 control: code" path_rejected "$(hdr X-Auth-Error-Code)"
http -H "Authorization: Bearer kwk_nope" "$BASE/api/self/%E2%80%AEexe.txt"
expect_eq "a refused request with U+202E in its path (401)" 401 "$CODE"
sleep 1.5   # the check's audit rows are written once a second
listing=$(kw audit list)
has_raw() { python3 -c 'import sys; t=sys.stdin.read(); sys.exit(0 if any(c in t for c in "\u0085\u009b\u202e\u200b") else 1)'; }
printf '%s' "$listing" | has_raw && notok "audit list shows no raw control or bidi character" "none" "one" ||
    ok "audit list shows no raw control or bidi character"
expect_has "audit list shows the path's U+202E escaped" "$listing" '/api/self/\u{202e}exe.txt'
json=$(kw audit list --json)
printf '%s' "$json" | has_raw && notok "audit list --json shows no raw control or bidi character" "none" "one" ||
    ok "audit list --json shows no raw control or bidi character"
expect_has "audit list --json escapes U+202E as \\u202e" "$json" '\u202e'
printf '%s' "$json" | python3 -c 'import json,sys; sys.exit(0 if any("\u202e" in (r.get("detail") or "") for r in json.load(sys.stdin)) else 1)' &&
    ok "audit list --json still means the same string" || notok "audit list --json still means the same string" "U+202E after decoding" "none"
http -H "Authorization: Bearer $ROOT" "$BASE/keyward/admin/api/audit?limit=50"
printf '%s' "$(cat "$T/r.body")" | has_raw && notok "admin API audit shows no raw control or bidi character" "none" "one" ||
    ok "admin API audit shows no raw control or bidi character ($CODE)"

# ---------------------------------------------------------------------------------------------
# 9: names that are dots
# ---------------------------------------------------------------------------------------------
echo "# item 9: names . and .."
for name in . .. ...; do
    kw user add "$name" >/dev/null 2>&1
    expect_eq "user add '$name' is refused (exit 1)" 1 "$?"
done
http -X POST -H "Authorization: Bearer $ROOT" -H 'Content-Type: application/json' --data '{"name":".."}' "$BASE/keyward/admin/api/users"
expect_eq "admin API refuses the user name .. (400)" 400 "$CODE"
kw user add a.b >/dev/null 2>&1
expect_eq "user add 'a.b' is still fine" 0 "$?"

# ---------------------------------------------------------------------------------------------
# 10: a token exchanged in the second of a regenerate
# ---------------------------------------------------------------------------------------------
echo "# item 10: key regenerate, then token exchange in the same second"
exchange() { # secret -> token on stdout ("" when refused)
    curl -s --max-time 5 -X POST -H "Authorization: Bearer $1" "$BASE/keyward/api/ApiToken/GenerateAccessTokenFromApiToken" |
        python3 -c 'import json,sys
try: print(json.load(sys.stdin).get("access_token", ""))
except Exception: print("")'
}
OLD_TOKEN=$(exchange "$(jget "$T/cli/key-regen.json" secret)")
[ -n "$OLD_TOKEN" ] || bail "no token for the regen key before regenerating"
same=0 works=0 tries=6
for ((i = 0; i < tries; i++)); do
    before=$(date +%s)
    secret=$(kw key regenerate "$REGEN_ID" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
    token=$(exchange "$secret")
    after=$(date +%s)
    [ "$before" = "$after" ] && same=$((same + 1))
    [ -n "$token" ] || { notok "token exchange right after regenerate #$i" "a token" "none"; continue; }
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $token" "$BASE/api/self/x")
    [ "$code" = 200 ] && works=$((works + 1))
done
expect_eq "every token exchanged right after a regenerate works at the check ($same of $tries in the same second)" "$tries" "$works"
[ "$same" -gt 0 ] && ok "at least one regenerate and exchange fell in the same second ($same)" ||
    notok "at least one regenerate and exchange fell in the same second" ">0" 0
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $OLD_TOKEN" "$BASE/api/self/x")
expect_eq "the old secret's token is refused after the regenerate" 401 "$code"

# ---------------------------------------------------------------------------------------------
# 7: the database's files are the owner's, whatever the umask
# ---------------------------------------------------------------------------------------------
echo "# item 7: file modes"
M=$T/modes
mkdir -p "$M"
(umask 022 && "$KEYWARD_BIN" --db "$M/k.db" init >/dev/null 2>>"$CLI_LOG")
# The WAL and its index exist while a connection is open: a running serve holds one.
(umask 022 && exec "$KEYWARD_BIN" --db "$M/k.db" serve --listen "unix:$M/kw.sock" >"$T/logs/keyward-modes.log" 2>&1) &
MODES_PID=$!
wait_unix "$M/kw.sock" 75 || bail "keyward did not listen: $(tail -n 3 "$T/logs/keyward-modes.log")"
(umask 022 && "$KEYWARD_BIN" --db "$M/k.db" user add u >/dev/null 2>>"$CLI_LOG")
for f in k.db k.db-wal k.db-shm k.db.generation k.db.key; do
    expect_eq "under umask 022, $f is 600" 600 "$(stat -c %a "$M/$f" 2>&1)"
done
kill -TERM "$MODES_PID"
wait "$MODES_PID"
chmod 644 "$M/k.db"
out=$(timeout 10 "$KEYWARD_BIN" --db "$M/k.db" serve --listen "unix:$M/kw.sock" 2>&1)
rc=$?
expect_eq "serve refuses a world-readable database (exit 1)" 1 "$rc"
expect_has "serve says why" "$out" "open to other users"
"$KEYWARD_BIN" --db "$M/k.db" init >/dev/null 2>>"$CLI_LOG"
expect_eq "keyward init takes the others' permissions off again" 600 "$(stat -c %a "$M/k.db")"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
