#!/usr/bin/env bash
# Keyward end-to-end: the service pages (issue 12, item 1) in headless Chromium (selenium, driven by
# Tests/EndToEnd/credential_pages.py) through nginx with the repository's files unchanged:
# nginx/example-site.conf (its /api/ behind keyward-protect.conf) + nginx/keyward-endpoints.conf,
# Keyward on a unix socket.
#
# The scenario: alice signs in, creates a service on /admin/services and reads its service key and
# JWT secret from the show-once page; the key (and a JWT minted with the secret) pass nginx's check
# on /api/ (200, X-Auth-Service at the backend); she adds a second key (Add is then disabled, with
# the rule beside it), discards the first (refused on the next request), sees Discard disabled with
# its reason on the now only active key, reactivates the first, discards and deletes it after a
# password prompt (a wrong password refused next to the field), reveals the second after entering
# her password again, and deletes the service. After each secret page, reload and back: the secret
# is nowhere in the DOM or the page source, nor in any URL. axe-core on every new page (no serious
# or critical violation), each fits 360 px. A POST without the CSRF token or from another Origin is
# refused (403 csrf_failed); carol, without manage-own-keys, has no Services in the navigation.
# Screenshots of the service page at 1440 and 360 px (service-1440.png, service-360.png).
#
# Usage:  Tests/EndToEnd/15-credential-pages.sh          (as root; about 30 s)
# Env:    KEYWARD_BIN, KEYWARD_E2E_KEEP, KEYWARD_E2E_VERBOSE, KEYWARD_E2E_PORTS (see 01-check.sh)
#         KEYWARD_E2E_SCREENSHOTS  directory for the screenshots (docs/screenshots to refresh the
#                                  README's; default $T/screenshots)
# Needs what 12-pages.sh installs: chromium, chromium-driver, pip selenium, axe-selenium-python,
# requests, and axe-core 4 from axe-playwright-python's wheel; PyJWT for the JWT step.
# Output: `ok - <check>` / `not ok - <check> (detail)`, then `N passed, N failed`.

set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SUITE="credential pages suite"

require_root "nginx starts as root and drops to www-data"
require_tools "apt-get install nginx-light python3 curl chromium chromium-driver (12-pages.sh installs the browser)" \
    nginx python3 curl timeout chromium chromedriver
python3 -c "import selenium, axe_selenium_python, requests, jwt" 2>/dev/null ||
    timeout 600 python3 -m pip install --quiet --disable-pip-version-check selenium axe-selenium-python requests pyjwt ||
    bail "pip install selenium axe-selenium-python requests pyjwt failed for $(command -v python3)"
python3 -c "import selenium, axe_selenium_python, requests, jwt" 2>/dev/null ||
    bail "python3 cannot import selenium, axe_selenium_python, requests, jwt even after pip install"
AXE_PIN=axe-playwright-python==0.1.8
axe_js() { python3 -c 'import importlib.util, os; s = importlib.util.find_spec("axe_playwright_python"); f = os.path.join(s.submodule_search_locations[0], "axe.min.js"); assert os.path.isfile(f); print(f)' 2>/dev/null; }
axe_js >/dev/null || timeout 600 python3 -m pip install --quiet --disable-pip-version-check --no-deps "$AXE_PIN" ||
    bail "pip install --no-deps $AXE_PIN failed (it carries axe-core 4's axe.min.js)"
head -c 20 "$(axe_js)" | grep -q 'axe v4' || bail "no axe-core 4 in $AXE_PIN ($(axe_js))"
require_repo_files nginx/example-site.conf nginx/keyward.conf nginx/keyward-protect.conf nginx/keyward-endpoints.conf

make_tmpdir keyward-credpages
read -r P_NGX P_BACKEND <<<"$(free_ports 2)"
[ -n "${P_BACKEND:-}" ] || bail "could not pick free ports"

# ---------------------------------------------------------------------------------------------
# Database: alice manages her own credentials and may call /api/; root is an admin; carol has
# no privilege at all.
# ---------------------------------------------------------------------------------------------
kw_init
add_users alice root carol
ALICE_PASSWORD="alice services $RANDOM$RANDOM"
CAROL_PASSWORD="carol services $RANDOM$RANDOM"
printf '%s\n' "$ALICE_PASSWORD" | must kw user passwd alice --password-stdin
printf '%s\n' "$CAROL_PASSWORD" | must kw user passwd carol --password-stdin
add_self_service alice
add_admins root
must kw resource add api --path /api/ --audience user:alice

# ---------------------------------------------------------------------------------------------
# Keyward, the backend, nginx
# ---------------------------------------------------------------------------------------------
SOCK=$T/kw.sock
start_keyward kw_unix keyward-unix "unix:$SOCK" --socket-mode 0666 --mount /keyward --failure-limit 0 --threads 4
wait_keywards
start_backend
start_nginx_site nginx "$T/nginx" "$P_NGX" "$SOCK" --endpoints
http "http://127.0.0.1:$P_NGX/keyward/admin/login"
expect_eq "nginx: GET /keyward/admin/login is the sign-in page" "200 text/html; charset=utf-8" "$CODE $(hdr Content-Type)"

# ---------------------------------------------------------------------------------------------
# The browser: credential_pages.py
# ---------------------------------------------------------------------------------------------
SHOTS=${KEYWARD_E2E_SCREENSHOTS:-$T/screenshots}
case $SHOTS in /*) ;; *) SHOTS=$REPO/$SHOTS ;; esac
mkdir -p "$SHOTS"
cat >"$T/pages.json" <<EOF
{
  "keyward": "$KEYWARD_BIN",
  "db": "$DB",
  "base": "http://127.0.0.1:$P_NGX/keyward",
  "nginx": "http://127.0.0.1:$P_NGX",
  "alice": ["alice", "$ALICE_PASSWORD"],
  "carol": ["carol", "$CAROL_PASSWORD"],
  "screenshots": "$SHOTS",
  "tmp": "$T"
}
EOF
echo "# the browser scenario (credential_pages.py)"
timeout 300 python3 -u "$HERE/credential_pages.py" "$T/pages.json" 2>"$T/logs/credential-pages.err" | tee "$T/logs/credential-pages.out"
tap_tally "credential_pages.py" "$T/logs/credential-pages" "${PIPESTATUS[0]}"

# ---------------------------------------------------------------------------------------------
# Afterwards: nothing broke, the audit has every step, no secret in a log or the audit
# ---------------------------------------------------------------------------------------------
fivexx=$(grep -c '" 5[0-9][0-9] ' "$T"/nginx/logs/*access*.log 2>/dev/null | awk -F: '{ s += $NF } END { print s + 0 }')
expect_eq "no 5xx in nginx's access logs" 0 "$fivexx"
errs=$(grep -h 'KW05\|KW03' "$T"/logs/keyward-*.log 2>/dev/null | head -n 3)
expect_eq "no internal error (KW03xx, KW05xx) in Keyward's logs" "" "$errs"
kw audit list --json >"$T/audit.json"
for action in service.create service.credential.add service.credential.discard service.credential.reactivate \
    service.credential.delete service.credential.reveal service.password.refused service.delete \
    hmac.create hmac.secret.add hmac.secret.discard hmac.secret.reactivate hmac.secret.delete hmac.secret.reveal \
    hmac.secret.roll hmac.password.refused; do
    expect_has "the audit has $action from the pages" "$(cat "$T/audit.json")" "\"$action\""
done
if [ -s "$T/new-secrets.txt" ]; then
    leaked=""
    while read -r s; do
        [ -n "$s" ] || continue
        for f in "$T"/logs/keyward-*.log "$T"/logs/backend.log "$T"/nginx/logs/* "$T/audit.json" "$CLI_LOG"; do
            [ -f "$f" ] && grep -qF -- "$s" "$f" && leaked="$leaked $f"
        done
    done <"$T/new-secrets.txt"
    expect_eq "no secret seen on the pages is in a log or the audit" "" "$leaked"
else
    notok "credential_pages.py recorded the secrets it saw" "a non-empty $T/new-secrets.txt" "none"
fi

if [ "$FAIL" -gt 0 ]; then
    show_log "$T/logs/keyward-unix.log"
    show_log "$T/nginx/logs/error.log"
    show_log "$T/logs/credential-pages.err"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
