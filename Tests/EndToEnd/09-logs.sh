#!/usr/bin/env bash
# Keyward end-to-end: ?APIKey= secrets stay out of the logs (issue 8, item 6). Real nginx, Apache
# and lighttpd log with the shipped settings, included unchanged:
#   nginx/example-site.conf, run live (only its addresses and log directory substituted), with
#     nginx/keyward-log.conf (`keyward` log format), keyward.conf, keyward-protect.conf
#   apache/keyward.conf (LogFormat `keyward`), apache/example-site.conf (KEYWARD_ACCESS_LOG,
#     apache/keyward-log.conf: the error-log format)
#   lighttpd/keyward-log.conf, lighttpd/keyward-server.conf, lighttpd/keyward.conf
# Keys go in the query as APIKey, api_key, apikey, API_KEY and under another name, valid and
# invalid, allowed, refused and throttled, and in a Referer; then again while Keyward is stopped,
# when nginx and lighttpd would name the request target in their error logs and Apache the Referer.
# No secret may appear in any file the servers or Keyward log to (every *.log, error logs at
# `info`); the access logs must show the requests, nginx's with the other query parameters, and
# the error logs must show they were written.
#
# Usage:  Tests/EndToEnd/09-logs.sh     (env as for 01-check.sh: KEYWARD_BIN, KEYWARD_E2E_KEEP, ...)
# Output: `ok - ` / `not ok - ` per check, then `N passed, N failed`. Needs root, nginx, apache2,
# lighttpd, curl, python3; loopback only. About 15 s.

set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SUITE="log suite"

require_tools "apt-get install nginx apache2 lighttpd curl python3; the Makefile does this" nginx apache2 lighttpd curl python3 timeout
require_root "the web servers start as root and drop to www-data"
make_tmpdir keyward-logs
read -r P_NGX P_AP P_LT P_KW_TCP P_BACKEND <<<"$(free_ports 5)"
[ -n "${P_BACKEND:-}" ] || bail "could not pick free ports"

kw_init
add_users alice
for i in 1 2 3 4 5; do mkkey "k$i" --user alice --name "k$i"; done
mkkey scoped --user alice --name scoped --scope /api/elsewhere/
SCOPED=${KSEC[scoped]}   # valid, refused (403) on /api/x
WRONG=${SECRETS[0]:0:21}$(printf 'x%.0s' $(seq 38))   # the right id with a wrong secret
SERVE=(--socket-mode 0666 --threads 2 --failure-limit 4)
start_keyward kw keyward "unix:$T/kw.sock" "${SERVE[@]}"
start_keyward kw_tcp keyward-tcp "127.0.0.1:$P_KW_TCP" "${SERVE[@]}"
wait_keywards
start_backend

# nginx: nginx/example-site.conf itself, its addresses and /var/log/nginx/ pointed into $T; the
# main error log at info (more lines for a secret to leak into), an http-level combined access log
# (which the example's own access_log must override).
N=$T/nginx
start_nginx_site nginx "$N" "$P_NGX" "$T/kw.sock" --log-level info

# Apache: keyward.conf's LogFormat through example-site.conf's KEYWARD_ACCESS_LOG, and the
# error-log format of keyward-log.conf (example-site.conf includes it)
A=$T/apache
start_apache_site apache "$A" "$P_AP" "$P_KW_TCP" --access-log --log-level info

# lighttpd: keyward-log.conf for the access log and for the error log of requests with query keys
L=$T/lighttpd
mkdir -p "$L/www/api"
echo hello >"$L/www/api/x"
start_lighttpd_site lighttpd "$L" "$P_LT" --log --protect "$T/kw.sock" /api/

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
traffic() { # label base: the query credential in every spelling and outcome
    local s=$1 base=$2 codes="" q
    codes+=" $(code "$base/api/x?APIKey=${SECRETS[0]}")"                              # allowed
    codes+=" $(code "$base/api/x?x=1&api_key=${SECRETS[1]}&y=2")"                     # allowed
    codes+=" $(code "$base/api/x?api_key=$SCOPED")"                                   # refused: scope
    codes+=" $(code -e "http://app.example/page?api_key=${SECRETS[4]}&tab=2" "$base/api/x?APIKey=${SECRETS[0]}")"
    for q in "apikey=${SECRETS[2]}" "API_KEY=${SECRETS[2]}" "token=${SECRETS[3]}" "APIKey=$WRONG" "APIKey=$WRONG" \
             "api_key=$WRONG" "APIKey=$WRONG" "APIKey=$WRONG" "APIKey=${SECRETS[0]}&api_key=${SECRETS[1]}"; do
        codes+=" $(code "$base/api/x?$q")"
    done
    case $codes in
    " 200 200 403 200 "*) ok "$s: query keys are served, refused out of scope, wrong ones refused ($codes)" ;;
    *) notok "$s: query keys are served, refused out of scope" "200 200 403 200 ..." "$codes" ;;
    esac
}
traffic nginx "http://127.0.0.1:$P_NGX"
traffic apache "http://127.0.0.1:$P_AP"
traffic lighttpd "http://127.0.0.1:$P_LT"

echo "# Keyward stopped"
kill -TERM "$PID_kw" "$PID_kw_tcp" 2>/dev/null
for ((i = 0; i < 50; i++)); do kill -0 "$PID_kw" 2>/dev/null || kill -0 "$PID_kw_tcp" 2>/dev/null || break; sleep 0.1; done
sleep 0.5
for base in "http://127.0.0.1:$P_NGX" "http://127.0.0.1:$P_AP" "http://127.0.0.1:$P_LT"; do
    c=$(code "$base/api/x?APIKey=${SECRETS[0]}")
    c+=" $(code -e "http://app.example/page?api_key=${SECRETS[4]}" "$base/api/x?api_key=${SECRETS[1]}")"
    case $c in *2??*) notok "$base refuses while Keyward is down" "error statuses" "$c" ;; *) ok "$base refuses while Keyward is down ($c)" ;; esac
done
# lighttpd logs a failed backend once and then skips it for a while: a request without a key in
# its query, after the window, shows that its error log still takes the lines of other requests.
sleep 5.5
code "http://127.0.0.1:$P_LT/api/x?page=down" >/dev/null
kill -HUP "$(cat "$L/lighttpd.pid")" 2>/dev/null   # lighttpd buffers its access log; HUP flushes it
sleep 0.5

leaks() { # file... -> the number of lines carrying any secret (the 38 characters after the id)
    local n=0 sec f
    for f in "$@"; do
        [ -f "$f" ] || continue
        for sec in "${SECRETS[@]}" "$WRONG"; do
            n=$((n + $(grep -c -F -- "${sec:21}" "$f" 2>/dev/null || true)))
        done
    done
    echo "$n"
}
# Every log of the servers and of Keyward. Not the backend's: the servers forward the query, key
# and all, to the application behind them (README: Secrets in server logs).
for f in "$N"/logs/*.log "$A"/logs/*.log "$L"/logs/*.log "$T"/logs/*; do
    [ "$f" = "$T/logs/backend.log" ] && continue
    expect_eq "${f#"$T"/}: no secret" 0 "$(leaks "$f")"
done
echo "# note: the backend's own log has $(leaks "$T/logs/backend.log") line(s) with a query secret: the application receives the query as sent"
all() { cat "$@" 2>/dev/null; }
for f in "$N/logs/keyward-example.access.log" "$A/logs/access.log" "$L/logs/access.log"; do
    expect_has "${f#"$T"/}: the requests are logged" "$(all "$f")" "/api/x"
done
expect_has "nginx's access log keeps the other query parameters" "$(all "$N/logs/keyward-example.access.log")" "/api/x?x=1&api_key=[redacted]&y=2 "
expect_eq "nginx's access log writes a missing Referer as \"-\", like combined" 1 \
    "$(grep -c -E '"GET /api/x\?apikey=\[redacted\] HTTP/1.1" [0-9]+ [0-9]+ "-" ' "$N/logs/keyward-example.access.log")"
expect_has "nginx's access log keeps the Referer, redacted" "$(all "$N/logs/keyward-example.access.log")" "\"http://app.example/page?api_key=[redacted]&tab=2\""
expect_has "nginx's access log shows the failed checks (500)" "$(all "$N/logs/keyward-example.access.log")" "\" 500 "
expect_has "nginx's error log is written" "$(all "$N/logs/error.log")" "start worker process"
expect_has "Apache's error log is written (Keyward unreachable)" "$(all "$A/logs/error.log")" "AH02495"
expect_has "lighttpd's error log is written (Keyward unreachable)" "$(all "$L/logs/error.log")" "/api/x?page=down"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
