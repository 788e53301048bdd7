#!/usr/bin/env bash
# Keyward end-to-end: services (issue 12) through real nginx, Apache and lighttpd, all three with
# the repository's own files, driven by Tests/EndToEnd/services.py: service JWTs minted by PyJWT
# (and hostile ones built by hand), service keys in every key location, the refusals with their
# codes, rotation end to end (add a second JWT secret and service key, switch the client, discard
# the first, first refused on the next request, reactivate, delete with the password), the CLI's
# refused transitions (exit 1 with the reason), reveal, and `key roll --grace`.
#
#   nginx     nginx/example-site.conf (keyward.conf, keyward-protect.conf), unix socket
#   Apache    apache/keyward.conf, apache/example-site.conf (keyward-protect.conf), TCP
#   lighttpd  lighttpd/keyward-server.conf, lighttpd/keyward.conf on /api/ (a CGI shows the
#             authorizer's variables), unix socket
# One database, two `keyward serve` (a unix socket for nginx and lighttpd, TCP for Apache).
#
# Usage:  Tests/EndToEnd/13-services.sh
# Env:    KEYWARD_BIN, KEYWARD_E2E_KEEP, KEYWARD_E2E_VERBOSE (see 01-check.sh)
# Output: `ok - <check>` / `not ok - <check> (detail)`, then `N passed, N failed`; exit 1 on any
# failure. Needs root (the servers drop to www-data), python3 with PyJWT[crypto] and requests
# (pip-installed when missing), loopback only. About 20 s.

set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SUITE="services suite"

require_tools "apt-get install nginx apache2 lighttpd curl python3 python3-pip; the Makefile does this" \
    nginx apache2 lighttpd curl python3 timeout
python3 -c "import jwt, requests, cryptography" 2>/dev/null ||
    timeout 600 python3 -m pip install --quiet --disable-pip-version-check 'pyjwt[crypto]' requests ||
    bail "pip install pyjwt[crypto] requests failed for $(command -v python3) (PyPI unreachable, no pip, or an externally managed Python: use a venv or apt-get install python3-jwt python3-requests)"
python3 -c "import jwt, requests, cryptography" 2>/dev/null ||
    bail "python3 cannot import jwt, requests, cryptography even after pip install"
require_root "nginx, Apache and lighttpd start as root and drop to www-data"
require_repo_files nginx/example-site.conf nginx/keyward.conf nginx/keyward-protect.conf \
    apache/keyward.conf apache/example-site.conf apache/keyward-protect.conf \
    lighttpd/keyward-server.conf lighttpd/keyward.conf

make_tmpdir keyward-services
read -r P_NGX P_AP P_LT P_KW_TCP P_BACKEND <<<"$(free_ports 5)"
[ -n "${P_BACKEND:-}" ] || bail "could not pick free ports"
PASSWORD="alice's long password"

# ---------------------------------------------------------------------------------------------
# Keyward: users, a service, an API key to roll
# ---------------------------------------------------------------------------------------------
kw_init
add_users alice bob
printf '%s\n' "$PASSWORD" | kw user passwd alice --password-stdin >/dev/null || bail "user passwd failed: $(tail -n 3 "$CLI_LOG")"
kw service create billing --owner alice --scope /api/ --json >"$T/cli/service.json" ||
    bail "service create failed: $(tail -n 3 "$CLI_LOG")"
SKEY=$(jget "$T/cli/service.json" service_key)
JSEC=$(jget "$T/cli/service.json" jwt_secret)
[[ $SKEY =~ ^kws_[0-9A-Za-z]{16}_[0-9A-Za-z]{38}$ ]] && ok "service create prints a kws_ service key" || notok "service key shape" "kws_<16>_<38>" "${#SKEY} chars"
[ "$(printf '%s' "$JSEC" | base64 -d 2>/dev/null | wc -c)" = 32 ] && ok "service create prints a 32-byte base64 JWT secret" ||
    notok "JWT secret is 32 bytes base64" 32 "$(printf '%s' "$JSEC" | base64 -d 2>/dev/null | wc -c)"
SECRETS+=("$SKEY" "$JSEC")
out=$(kw service list)
expect_has "service list masks the service key" "$out" "${SKEY:0:20}_••••"
expect_lacks "service list shows no service key" "$out" "${SKEY:21}"
expect_lacks "service list shows no JWT secret" "$out" "$JSEC"
out=$(kw service show billing --json)
expect_lacks "service show --json shows no secret" "$out" "${SKEY:21}"
expect_has "service show --json has the masked form" "$out" '"masked"'
kw service create narrow --owner alice --scope /api/reports/ --json >"$T/cli/service-narrow.json" ||
    bail "service create failed: $(tail -n 3 "$CLI_LOG")"
SECRETS+=("$(jget "$T/cli/service-narrow.json" service_key)" "$(jget "$T/cli/service-narrow.json" jwt_secret)")
mkkey roll --user bob --name rolled --expires never

# ---------------------------------------------------------------------------------------------
# Keyward servers, backend, the three web servers
# ---------------------------------------------------------------------------------------------
SOCK=$T/kw.sock
start_keyward kw_unix keyward-unix "unix:$SOCK" --socket-mode 0666 --threads 4 --failure-limit 0
start_keyward kw_tcp keyward-tcp "127.0.0.1:$P_KW_TCP" --threads 4 --failure-limit 0
wait_keywards
start_backend
start_nginx_site nginx "$T/nginx" "$P_NGX" "$SOCK"
start_apache_site apache "$T/apache" "$P_AP" "$P_KW_TCP"
L=$T/lighttpd
mkdir -p "$L/www/api"
cp "$HERE/echo.cgi" "$L/www/api/echo.cgi"
chmod 755 "$L/www/api/echo.cgi"
printf 'server.modules += ( "mod_cgi" )\ncgi.assign = ( ".cgi" => "" )\n' >"$L/cgi.conf"
start_lighttpd_site lighttpd "$L" "$P_LT" --protect "$SOCK" /api/ --after "$L/cgi.conf"

# ---------------------------------------------------------------------------------------------
# The clients: services.py
# ---------------------------------------------------------------------------------------------
echo "# service scenarios (services.py)"
KW_BIN=$KEYWARD_BIN KW_DB=$DB KW_FIXTURES=$T/cli KW_PASSWORD=$PASSWORD KW_SECRETS=$T/secrets.txt \
KW_NGX=http://127.0.0.1:$P_NGX KW_AP=http://127.0.0.1:$P_AP KW_LT=http://127.0.0.1:$P_LT \
    timeout 300 python3 -u "$HERE/services.py" 2>"$T/logs/services-py.err" | tee "$T/logs/services-py.out"
tap_tally "services.py" "$T/logs/services-py" "${PIPESTATUS[0]}"

# ---------------------------------------------------------------------------------------------
# No secret in keyward's logs, the audit log or the listings
# ---------------------------------------------------------------------------------------------
echo "# ---- secrets stay out of logs"
[ -f "$T/secrets.txt" ] && mapfile -t -O "${#SECRETS[@]}" SECRETS <"$T/secrets.txt"
kw audit list --json >"$T/audit.json"
kw service list --json >"$T/services.json"
leaks=""
for sec in "${SECRETS[@]}"; do
    [ ${#sec} -ge 20 ] || continue
    grep -q -F -e "${sec: -20}" "$T"/logs/keyward-*.log "$T/audit.json" "$T/services.json" "$CLI_LOG" && leaks="$leaks ${sec:0:8}..."
done
expect_eq "no service key, JWT secret or API key in keyward's logs, audit or listings" "" "$leaks"
expect_has "the audit names every rotation step" "$(cat "$T/audit.json")" "service.credential.reactivate"
expect_has "the audit names the reveals" "$(cat "$T/audit.json")" "service.credential.reveal"

if [ "$FAIL" -gt 0 ]; then
    show_log "$T/logs/keyward-unix.log"
    show_log "$T/nginx/logs/error.log"
    show_log "$T/apache/logs/error.log"
    show_log "$T/logs/services-py.err"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
