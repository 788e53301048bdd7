#!/usr/bin/env bash
# Keyward end-to-end: the admin pages in a real browser (headless Chromium driven by selenium,
# Tests/EndToEnd/pages_browser.py), the same scenario through every place they run, each with the
# repository's files unchanged:
#
#   nginx        nginx/example-site.conf + nginx/keyward-endpoints.conf (Keyward on a unix socket)
#   apache-fcgi  apache/keyward.conf, example-site.conf + apache/keyward-admin.conf (mod_proxy_fcgi,
#                Keyward on TCP)
#   apache-cgi   apache/keyward.conf, example-site.conf + apache/keyward-cgi.conf (the binary run
#                as a CGI program by mod_cgid, a process per request, mount from SCRIPT_NAME, its
#                config from KEYWARD_CGI_CONFIG)
#   lighttpd     lighttpd/keyward-server.conf + lighttpd/keyward-endpoints.conf (FastCGI responder)
#
# The scenario (issue 11, item 8): sign in; create a key on the page; read it from the show-once
# page; use it with curl through nginx on /api/ (keyward-protect.conf) -> 200; reload, go back and
# open the list: the secret is nowhere in the DOM or the page source; disable -> 401, enable,
# renew, regenerate (new secret 200, old 401), delete; names with <script>, "><img onerror> and
# quotes render as text; a POST without the CSRF token or with a foreign Origin -> 403
# csrf_failed; sign-out ends the session on the server. axe-core (axe-selenium-python) on every
# page: no serious or critical violation. Bad input (item 9, requests): 413, 400 (invalid UTF-8,
# duplicate fields, missing fields with the error next to the field), 415, 404 with a stable code,
# and the key list unchanged after each. A Keyward with --session-lifetime 3s behind a second
# nginx: an expired session is sent to sign-in. Screenshots of sign-in, My keys, the new-key form
# and the show-once page at 1440 and 360 px (into $T/screenshots, or KEYWARD_E2E_SCREENSHOTS).
#
# Then root opens every admin page (axe on each) and makes one change on each: a user added, their
# password and e-mail set, disabled and enabled; a group with a member added and removed; a role
# granted to it and revoked, then both deleted; a resource added, edited (methods, anonymous on and
# off, checked through nginx) and deleted; the signing key rotated; a client whose secret, read
# from its show-once page, gets a token (signed by the new key) until it is disabled; a second
# browser's session ended; explain allowed and refused; the audit filtered by user and action
# finds each change, the chain verifying. A consumer (not admin) gets the 403 page on every admin
# section and sees none in the navigation; asks for two of alice's resources with a note (alice
# is mailed), alice approves one for 7 days and rejects the other (the consumer is mailed), the
# consumer collects the key once (200 through nginx on the resource's path; a second tab's Collect
# and the mailed link: gone, 410). Markup in e-mails and client names is text; in group and
# resource names it is refused and shown back as text. Everything through nginx; the changes
# shared between Apache mod_proxy_fcgi and CGI (pages_browser.py's TOUR); lighttpd the key pages.
#
# Installs what it needs when missing (fails loudly otherwise): Debian chromium and
# chromium-driver (apt-get), pip selenium, axe-selenium-python and requests, and axe-core 4.12
# (the axe.min.js in axe-playwright-python's wheel, installed with --no-deps).
#
# Usage:  Tests/EndToEnd/12-pages.sh            (as root; about two minutes)
# Env:    KEYWARD_BIN                keyward binary (default: <repo>/.build/debug/keyward)
#         KEYWARD_E2E_PORTS          LOW-HIGH loopback port range (default 18100-18999)
#         KEYWARD_E2E_SCREENSHOTS    directory for the screenshots (docs/screenshots to refresh
#                                    the README's; default $T/screenshots)
#         KEYWARD_E2E_VARIANTS       a subset, e.g. "nginx apache-cgi" (default: all four)
#         KEYWARD_E2E_KEEP / KEYWARD_E2E_VERBOSE  as in every suite
#
# Output: `ok - <check>` / `not ok - <check> (detail)` per check, then `N passed, N failed`.

set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SUITE="admin pages suite"

# ---------------------------------------------------------------------------------------------
# Prerequisites: installed when missing, else fail loudly.
# ---------------------------------------------------------------------------------------------
require_root "the servers start as root and drop to www-data; apt-get installs chromium"
require_tools "apt-get install nginx-light apache2 lighttpd python3 python3-pip curl; the Makefile does this" \
    nginx apache2 lighttpd python3 curl timeout runuser
missing=()
for p in chromium chromium-driver; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "# installing Debian packages: ${missing[*]}"
    { timeout 600 apt-get -o DPkg::Lock::Timeout=300 update -qq &&
        DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"; } \
        >/tmp/keyward-pages-apt.log 2>&1 ||
        bail "apt-get install ${missing[*]} failed (see /tmp/keyward-pages-apt.log): $(tail -n 3 /tmp/keyward-pages-apt.log)"
fi
require_tools "apt-get install chromium chromium-driver" chromium chromedriver
python3 -c "import selenium, axe_selenium_python, requests" 2>/dev/null ||
    timeout 600 python3 -m pip install --quiet --disable-pip-version-check selenium axe-selenium-python requests ||
    bail "pip install selenium axe-selenium-python requests failed for $(command -v python3) (PyPI unreachable, no pip, or an externally managed Python: use a venv)"
python3 -c "import selenium, axe_selenium_python, requests" 2>/dev/null ||
    bail "python3 cannot import selenium, axe_selenium_python, requests even after pip install"
# axe-selenium-python runs the axe-core it is given; its own is 3.1 (2018). axe-core 4.12 comes in
# axe-playwright-python's wheel: installed without its dependencies (no Playwright), for that file.
AXE_PIN=axe-playwright-python==0.1.8
axe_js() { python3 -c 'import importlib.util, os; s = importlib.util.find_spec("axe_playwright_python"); f = os.path.join(s.submodule_search_locations[0], "axe.min.js"); assert os.path.isfile(f); print(f)' 2>/dev/null; }
axe_js >/dev/null || timeout 600 python3 -m pip install --quiet --disable-pip-version-check --no-deps "$AXE_PIN" ||
    bail "pip install --no-deps $AXE_PIN failed (it carries axe-core 4.12's axe.min.js)"
head -c 20 "$(axe_js)" | grep -q 'axe v4' || bail "no axe-core 4 in $AXE_PIN ($(axe_js))"
require_repo_files nginx/example-site.conf nginx/keyward.conf nginx/keyward-protect.conf nginx/keyward-endpoints.conf \
    apache/keyward.conf apache/example-site.conf apache/keyward-protect.conf apache/keyward-admin.conf apache/keyward-cgi.conf \
    lighttpd/keyward-server.conf lighttpd/keyward-endpoints.conf
runuser -u www-data -- "$KEYWARD_BIN" --help </dev/null >/dev/null 2>&1 ||
    bail "www-data cannot run $KEYWARD_BIN (Apache runs it as a CGI program as www-data): put it where www-data can reach it"

make_tmpdir keyward-pages

read -r P_NGX P_SHORT P_AP P_CGI P_LT P_KW P_BACKEND <<<"$(free_ports 7)"
[ -n "${P_BACKEND:-}" ] || bail "could not pick free ports"

# ---------------------------------------------------------------------------------------------
# Database: alice manages her own keys for /api/; root is an admin. Apache runs the CGI program as
# www-data, so www-data owns the database (its directory too: SQLite makes -wal and -shm there);
# the other Keyward processes run as root and share it.
# ---------------------------------------------------------------------------------------------
mkdir -p "$T/db"
DB=$T/db/keyward.db
kw_init
add_users alice root
ALICE_PASSWORD="alice pages $RANDOM$RANDOM"
ROOT_PASSWORD="root pages $RANDOM$RANDOM"
printf '%s\n' "$ALICE_PASSWORD" | must kw user passwd alice --password-stdin
printf '%s\n' "$ROOT_PASSWORD" | must kw user passwd root --password-stdin
add_self_service alice
add_admins root
must kw resource add api --path /api/ --audience user:alice
# alice owns the resources the admin tour adds for access requests: she is mailed the requests.
must kw user email alice alice@example.test
# Two keys made with the CLI, so the list in the screenshots is not a lone row.
mkkey ci --user alice --name ci-deploy --scope /api/ --expires 30d
mkkey grafana --user alice --name grafana-dashboards --scope /api/ --expires 90d
chown -R www-data:www-data "$T/db"
chmod 700 "$T/db"
# Mail: the sendmail stub writes each message into $T/mail (the CGI program, as www-data, too);
# public_url names nginx, where the mailed one-time links are opened.
make_sendmail
chown www-data:www-data "$T/mail"
mail_config "$T/mail.conf" "public_url = http://127.0.0.1:$P_NGX/keyward"
chmod 644 "$T/mail.conf"

# ---------------------------------------------------------------------------------------------
# Keyward, the backend, the servers
# ---------------------------------------------------------------------------------------------
SOCK=$T/kw.sock
SOCK_SHORT=$T/kw-short.sock
COMMON=(--mount /keyward --failure-limit 0 --threads 4 --config "$T/mail.conf")
start_keyward kw_unix keyward-unix "unix:$SOCK" --socket-mode 0666 "${COMMON[@]}"
start_keyward kw_tcp keyward-tcp "127.0.0.1:$P_KW" "${COMMON[@]}"
start_keyward kw_short keyward-short "unix:$SOCK_SHORT" --socket-mode 0666 "${COMMON[@]}" --session-lifetime 3s
wait_keywards
start_backend

# nginx: example-site.conf (its /api/ protected by keyward-protect.conf) + keyward-endpoints.conf.
start_nginx_site nginx "$T/nginx" "$P_NGX" "$SOCK" --endpoints
start_nginx_site nginx_short "$T/nginx-short" "$P_SHORT" "$SOCK_SHORT" --endpoints

# Apache with mod_proxy_fcgi: apache/keyward-admin.conf after keyward.conf and example-site.conf.
printf '# generated by %s: the shipped file, unchanged\nInclude %s/apache/keyward-admin.conf\n' "$E2E_SCRIPT" "$REPO" >"$T/apache-admin.conf"
start_apache_site apache "$T/apache" "$P_AP" "$P_KW" --module proxy_fcgi --module alias --after "$T/apache-admin.conf"

# Apache running the binary as CGI (mod_cgid): apache/keyward-cgi.conf, with its two Defines.
{
    printf '# generated by %s: the shipped file, unchanged, after its Defines\n' "$E2E_SCRIPT"
    printf 'Define KEYWARD_BIN %s\nDefine KEYWARD_CGI_DB %s\nDefine KEYWARD_CGI_CONFIG %s\nInclude %s/apache/keyward-cgi.conf\n' \
        "$KEYWARD_BIN" "$DB" "$T/mail.conf" "$REPO"
} >"$T/apache-cgi.conf"
start_apache_site apache_cgi "$T/apache-cgi" "$P_CGI" "$P_KW" --cgi --module env --after "$T/apache-cgi.conf"

# lighttpd: keyward-server.conf (start_lighttpd_site), then keyward-endpoints.conf on the socket.
printf '# generated by %s: the shipped file, unchanged\nvar.keyward_socket = "%s"\ninclude "%s/lighttpd/keyward-endpoints.conf"\n' \
    "$E2E_SCRIPT" "$SOCK" "$REPO" >"$T/lighttpd-endpoints.conf"
start_lighttpd_site lighttpd "$T/lighttpd" "$P_LT" --after "$T/lighttpd-endpoints.conf"

for v in "nginx $P_NGX" "apache-fcgi $P_AP" "apache-cgi $P_CGI" "lighttpd $P_LT" "nginx-short $P_SHORT"; do
    set -- $v
    http "http://127.0.0.1:$2/keyward/admin/login"
    expect_eq "$1: GET /keyward/admin/login is the sign-in page" "200 text/html; charset=utf-8" "$CODE $(hdr Content-Type)"
done
http -X POST -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/x-www-form-urlencoded' --data-binary 'user=alice' \
    "http://127.0.0.1:$P_AP/keyward/admin/login"
expect_eq "apache-fcgi: keyward-admin.conf answers a chunked body 411 (mod_proxy_fcgi would spool it)" 411 "$CODE"
http "http://127.0.0.1:$P_CGI/keyward/admin/"
expect_eq "apache-cgi: the mount comes from SCRIPT_NAME (redirect to /keyward/admin/login)" \
    "303 /keyward/admin/login?next=%2Fkeyward%2Fadmin%2F" "$CODE $(hdr Location)"

# ---------------------------------------------------------------------------------------------
# The browser: pages_browser.py
# ---------------------------------------------------------------------------------------------
SHOTS=${KEYWARD_E2E_SCREENSHOTS:-$T/screenshots}
case $SHOTS in /*) ;; *) SHOTS=$REPO/$SHOTS ;; esac
mkdir -p "$SHOTS"
cat >"$T/pages.json" <<EOF
{
  "keyward": "$KEYWARD_BIN",
  "db": "$DB",
  "check": "http://127.0.0.1:$P_NGX/api/pages-check",
  "alice": ["alice", "$ALICE_PASSWORD"],
  "root": ["root", "$ROOT_PASSWORD"],
  "screenshots": "$SHOTS",
  "tmp": "$T",
  "mail": "$T/mail",
  "nginx": "http://127.0.0.1:$P_NGX",
  "variants": [
    {"name": "nginx", "base": "http://127.0.0.1:$P_NGX/keyward", "token": "http://127.0.0.1:$P_NGX/keyward/token", "screenshots": true},
    {"name": "apache-fcgi", "base": "http://127.0.0.1:$P_AP/keyward", "token": "http://127.0.0.1:$P_NGX/keyward/token"},
    {"name": "apache-cgi", "base": "http://127.0.0.1:$P_CGI/keyward", "token": "http://127.0.0.1:$P_CGI/keyward/token"},
    {"name": "lighttpd", "base": "http://127.0.0.1:$P_LT/keyward"}
  ],
  "only": "${KEYWARD_E2E_VARIANTS:-}",
  "short": {"name": "nginx-short", "base": "http://127.0.0.1:$P_SHORT/keyward", "lifetime": 3}
}
EOF
echo "# the browser scenario (pages_browser.py)"
timeout 600 python3 -u "$HERE/pages_browser.py" "$T/pages.json" 2>"$T/logs/pages-browser.err" | tee "$T/logs/pages-browser.out"
tap_tally "pages_browser.py" "$T/logs/pages-browser" "${PIPESTATUS[0]}"

# ---------------------------------------------------------------------------------------------
# Afterwards: nothing broke on the way, and no secret was written anywhere it should not be
# ---------------------------------------------------------------------------------------------
fivexx=$(cat "$T"/nginx/logs/*access*.log "$T"/nginx-short/logs/*access*.log 2>/dev/null | grep -c '" 5[0-9][0-9] ' || true)
expect_eq "no 5xx in nginx's access logs" 0 "$fivexx"
errs=$(grep -h 'KW05\|KW03' "$T"/logs/keyward-*.log "$T"/apache-cgi/logs/error.log 2>/dev/null | head -n 3)
expect_eq "no internal error (KW03xx, KW05xx) in Keyward's logs or the CGI's stderr" "" "$errs"
if [ -s "$T/new-secrets.txt" ]; then
    leaked=""
    while read -r s; do
        [ -n "$s" ] || continue
        # (logs/chromedriver.log is the test's own browser, which reads the page.)
        for f in "$T"/logs/keyward-*.log "$T"/logs/backend.log "$T"/nginx*/logs/* "$T"/apache*/logs/* "$T"/lighttpd/logs/*; do
            [ -f "$f" ] && grep -qF -- "$s" "$f" && leaked="$leaked $f"
        done
        kw audit list --json 2>/dev/null | grep -qF -- "$s" && leaked="$leaked audit"
    done <"$T/new-secrets.txt"
    expect_eq "no secret made on the pages is in a log or the audit" "" "$leaked"
else
    notok "pages_browser.py recorded the secrets it saw" "a non-empty $T/new-secrets.txt" "none"
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
