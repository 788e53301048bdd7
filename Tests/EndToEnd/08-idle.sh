#!/usr/bin/env bash
# Keyward end-to-end: idle and kept-alive FastCGI connections never hold a worker (issue 8,
# item 4). Real nginx (nginx/example-site.conf unchanged but for its addresses) checks through a
# `keyward serve --threads 2` on a unix socket while Tests/EndToEnd/fcgi_idle.py, like any local
# user, holds on that socket 1,000 connections that send nothing, 20 that send half a request
# head, and 1,000 that send one check with FCGI_KEEP_CONN and go quiet; the same on the TCP
# listener Apache would use. Every check must keep its answer (200 with a key, 401 without,
# never 500), the silent and half-sent connections must be closed by the head timeout, and the
# kept-alive ones stay open (they cost a descriptor, not a worker).
#
# Usage:  Tests/EndToEnd/08-idle.sh     (env as for 01-check.sh: KEYWARD_BIN, KEYWARD_E2E_KEEP, ...)
# Output: `ok - ` / `not ok - ` per check, then `N passed, N failed`. Needs root, nginx, curl,
# python3; loopback only. About 20 s.

set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SUITE="idle-connection suite"

require_tools "apt-get install nginx curl python3; the Makefile does this" nginx curl python3 timeout
require_root "nginx starts as root and drops to www-data"
make_tmpdir keyward-idle
read -r P_NGX P_BACKEND P_KW_TCP <<<"$(free_ports 3)"
[ -n "${P_KW_TCP:-}" ] || bail "could not pick free ports"
ulimit -n 8192 2>/dev/null || bail "cannot raise the open-file limit to 8192 for the client"

kw_init
add_users alice
mkkey k --user alice --name k
KEY=${KSEC[k]}
start_keyward kw keyward "unix:$T/kw.sock" --socket-mode 0666 --threads 2 --failure-limit 0
start_keyward kw_tcp keyward-tcp "127.0.0.1:$P_KW_TCP" --threads 2 --failure-limit 0
wait_keywards
start_backend
start_nginx_site nginx "$T/nginx" "$P_NGX" "$T/kw.sock"
BASE=http://127.0.0.1:$P_NGX

checks() { # label rounds: a check with the key and one without, `rounds` times; tallies codes
    local label=$1 i codes=""
    local t0=$EPOCHREALTIME
    for ((i = 0; i < $2; i++)); do
        codes+=" $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $KEY" "$BASE/api/x")"
        codes+=" $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/api/x")"
    done
    local ms=$(python3 -c "import sys; print(round((float(sys.argv[2]) - float(sys.argv[1])) * 1000 / (2 * $2), 1))" "$t0" "$EPOCHREALTIME")
    local want="" 
    for ((i = 0; i < $2; i++)); do want+=" 200 401"; done
    expect_eq "$label: $2 checks with a key answer 200 and $2 without answer 401 (${ms} ms a check)" "$want" "$codes"
    LAST_MS=$ms
}

checks "before" 20
BEFORE_MS=$LAST_MS
expect_eq "a kept-alive connection answers its next check after a 16 KiB request head" "200 200" \
    "$(python3 "$HERE/fcgi_idle.py" "unix:$T/kw.sock" --reuse "Bearer $KEY" 2>&1)"

echo "# holding 1000 silent, 20 half-sent and 1000 kept-alive connections on the unix socket, 500 + 500 on TCP"
python3 "$HERE/fcgi_idle.py" "unix:$T/kw.sock" --idle 1000 --partial 20 --keep 1000 --key "$KEY" --hold 9 \
    --ready "$T/held-unix" >"$T/idle-unix.out" 2>"$T/logs/idle-unix.err" &
IDLE_UNIX=$!
python3 "$HERE/fcgi_idle.py" "127.0.0.1:$P_KW_TCP" --idle 500 --keep 500 --key "$KEY" --hold 9 \
    --ready "$T/held-tcp" >"$T/idle-tcp.out" 2>"$T/logs/idle-tcp.err" &
IDLE_TCP=$!
for ((i = 0; i < 100; i++)); do
    [ -s "$T/held-unix" ] && [ -s "$T/held-tcp" ] && break
    sleep 0.1
done
held=$(cat "$T/held-unix" 2>/dev/null)
expect_has "the unix-socket connections are open" "$held" "held 2020"
keeps=$(tr ',' '\n' <<<"${held#*keep-answers }" | sort | uniq -c | tr -s ' ' | sed 's/^ //')
expect_eq "each of the 1000 kept-alive connections got its check answered (200)" "1000 200" "$keeps"
expect_has "the TCP connections are open" "$(cat "$T/held-tcp" 2>/dev/null)" "held 1000"

checks "while held" 20
expect_eq "a check straight over the TCP listener while it holds 1000 connections" 200 \
    "$(python3 "$HERE/fcgi_idle.py" "127.0.0.1:$P_KW_TCP" --check "Bearer $KEY" 2>&1)"
sleep 3   # past the head timeout: the silent and half-sent connections are gone now
checks "after the head timeout, kept-alive ones still held" 20
DURING_MS=$LAST_MS

wait "$IDLE_UNIX" "$IDLE_TCP"
closed=$(cat "$T/idle-unix.out")
expect_eq "Keyward closed the 1020 silent and half-sent unix connections, not the kept-alive ones" "closed 1020 of 2020" "$closed"
expect_eq "Keyward closed the 500 silent TCP connections, not the kept-alive ones" "closed 500 of 1000" "$(cat "$T/idle-tcp.out")"
grep -q 'no request within the timeout' "$T/logs/keyward.log" && ok "the dropped connections are logged (KW0404)" ||
    notok "the dropped connections are logged (KW0404)" "a KW0404 line" "$(tail -n 2 "$T/logs/keyward.log")"
checks "after" 10
codes=$(awk '{print $9}' "$T/nginx/logs/keyward-example.access.log" | sort | uniq -c | tr -s ' ' | tr '\n' ';')
expect_lacks "nginx answered no 500 at all" "$codes" " 500"
echo "# check latency through nginx: ${BEFORE_MS} ms before, ${DURING_MS} ms with 1000 kept-alive connections held (bench/idle.sh measures it properly)"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
