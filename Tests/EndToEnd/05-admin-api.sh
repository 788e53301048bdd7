#!/usr/bin/env bash
# Keyward end-to-end: the admin JSON API (/keyward/admin/api/) through real nginx, driven by
# requests in Tests/EndToEnd/admin_api.py (session sign-in and CSRF, API keys, self-service, every
# resource kind, a signed-request credential signing at the gate while its secrets rotate, access
# requests with mail and the one-time reveal link, audit, explain, errors, paging, the shared
# failure throttle), then the OpenAPI
# document checked by openapi-spec-validator, a client generated from it by openapi-python-client
# (no warning) driven by Tests/EndToEnd/admin_client.py, and the running server fuzzed by
# schemathesis: no 5xx.
#
# nginx uses the repository's files unchanged, included by absolute path:
#   nginx/keyward.conf            the internal check location and the JSON error pages
#   nginx/keyward-endpoints.conf  /keyward/ (admin API included) -> Keyward as a FastCGI responder
#   nginx/keyward-protect.conf    inside the protected `location /api/`
#
# Keyward instances (one database):
#   main       --mount /keyward --failure-limit 0  (the API scenarios, the fuzzing), --config with a
#              capturing sendmail ($T/mail/N.eml) and public_url for reveal links
#   throttled  --mount /keyward --failure-limit 3  (failed sign-ins, bad keys and failed checks share one throttle)
# each behind its own nginx.
#
# Usage:  Tests/EndToEnd/05-admin-api.sh
# Env:    KEYWARD_BIN          keyward binary (default: <repo>/.build/debug/keyward)
#         KEYWARD_E2E_PORTS    LOW-HIGH loopback port range (default 18100-18999)
#         KEYWARD_E2E_FUZZ_EXAMPLES  schemathesis examples per operation (default 40: about a minute)
#         KEYWARD_E2E_FUZZ_CHECKS    schemathesis checks (default not_a_server_error; `all` also checks the
#                                    answers against the document)
#         KEYWARD_E2E_KEEP     1 = keep the temporary directory (it is always kept after a failure)
#         KEYWARD_E2E_VERBOSE  1 = show keyward / nginx log tails after a failure
#
# Output: `ok - <check>` / `not ok - <check> (detail)` per check, then `N passed, N failed`.

set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SUITE="admin API suite"

# ---------------------------------------------------------------------------------------------
# Prerequisites: fail loudly. The Python tools are installed here (pinned for Python 3.11).
# ---------------------------------------------------------------------------------------------
require_tools "apt-get install nginx python3 python3-pip curl; the Makefile does this" nginx python3 curl timeout
OPENAPI_CLIENT_VERSION=0.29.1
PY_PINS=(requests 'openapi-spec-validator==0.9.0' 'schemathesis==4.32.5' "openapi-python-client==$OPENAPI_CLIENT_VERSION")
python3 -c "import requests, openapi_spec_validator, schemathesis, openapi_python_client as gen; \
assert schemathesis.__version__ == '4.32.5' and gen.__version__ == '$OPENAPI_CLIENT_VERSION'" 2>/dev/null ||
    timeout 600 python3 -m pip install --quiet --disable-pip-version-check "${PY_PINS[@]}" ||
    bail "pip install ${PY_PINS[*]} failed for $(command -v python3) (PyPI unreachable, no pip, or an externally managed Python: use a venv)"
python3 -c "import requests, openapi_spec_validator, schemathesis, openapi_python_client, httpx, attrs" 2>/dev/null ||
    bail "python3 cannot import requests, openapi_spec_validator, schemathesis, openapi_python_client, httpx, attrs even after pip install"
# The generator runs ruff (one of its dependencies) from PATH on what it writes: pip's scripts first.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
command -v ruff >/dev/null || bail "ruff (installed with openapi-python-client) is not in $(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
SCHEMATHESIS=(python3 -m schemathesis.cli)
"${SCHEMATHESIS[@]}" --version >/dev/null 2>&1 || bail "schemathesis does not run: $("${SCHEMATHESIS[@]}" --version 2>&1 | tail -n 2)"
require_root "nginx starts as root and drops to www-data"
require_repo_files nginx/example-site.conf nginx/keyward.conf nginx/keyward-protect.conf nginx/keyward-endpoints.conf
[ -f "$REPO/docs/admin-openapi.json" ] || bail "missing $REPO/docs/admin-openapi.json"

make_tmpdir keyward-admin-api

read -r P_NGX P_THR P_BACKEND <<<"$(free_ports 3)"
[ -n "${P_BACKEND:-}" ] || bail "could not pick free ports"
BASE=http://127.0.0.1:$P_NGX

# ---------------------------------------------------------------------------------------------
# Database: an admin, a self-service user, a plain user, the fuzzer's admin, a resource
# ---------------------------------------------------------------------------------------------
kw_init
add_users root alice carol fuzz-admin-q7Zr2
ROOT_PASSWORD="root password $RANDOM$RANDOM"
ALICE_PASSWORD="alice password $RANDOM$RANDOM"
printf '%s\n' "$ROOT_PASSWORD" | must kw user passwd root --password-stdin
printf '%s\n' "$ALICE_PASSWORD" | must kw user passwd alice --password-stdin
add_admins root fuzz-admin-q7Zr2
add_self_service alice
must kw resource add reports --path /api/reports/ --audience user:alice

mkkey root --user root --name automation --expires never
mkkey alice --user alice --name bootstrap --scope /api/reports/ --scope /keyward/admin/api/
mkkey alice-api --user alice --name api-only --scope /api/reports/
mkkey carol --user carol --name carols --scope /api/
mkkey fuzz --user fuzz-admin-q7Zr2 --name fuzz --expires 1d

# A capturing sendmail (each message -> $T/mail/N.eml) and the config naming it, for access requests.
make_sendmail
mail_config "$T/keyward.conf" "public_url = $BASE/keyward"

# ---------------------------------------------------------------------------------------------
# Keyward, backend, nginx
# ---------------------------------------------------------------------------------------------
COMMON=(--socket-mode 0666 --threads 4 --mount /keyward)
start_keyward kw_main keyward-main "unix:$T/kw.sock" --config "$T/keyward.conf" "${COMMON[@]}" \
    --failure-limit 0 --issuer "$BASE/keyward"
start_keyward kw_thr keyward-throttled "unix:$T/kw-thr.sock" "${COMMON[@]}" \
    --failure-limit 3 --failure-window 5m --issuer "http://127.0.0.1:$P_THR/keyward"
wait_keywards
start_backend
start_nginx_site ngx_main "$T/nginx" "$P_NGX" "$T/kw.sock" --endpoints
start_nginx_site ngx_thr "$T/nginx-thr" "$P_THR" "$T/kw-thr.sock" --endpoints
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/keyward/admin/api/openapi.json")
expect_eq "nginx routes /keyward/admin/api/ to keyward through keyward-endpoints.conf" 200 "$code"

# ---------------------------------------------------------------------------------------------
# The scenarios: admin_api.py (requests)
# ---------------------------------------------------------------------------------------------
echo "# admin API scenarios (admin_api.py)"
NEW_SECRETS=$T/new-secrets.txt
KW_BIN=$KEYWARD_BIN KW_DB=$DB KW_FIXTURES=$T/cli KW_BASE=$BASE KW_THROTTLED_BASE=http://127.0.0.1:$P_THR \
KW_REPO=$REPO KW_MAIL=$T/mail KW_ROOT_PASSWORD=$ROOT_PASSWORD KW_ALICE_PASSWORD=$ALICE_PASSWORD KW_NEW_SECRETS=$NEW_SECRETS \
    timeout 300 python3 -u "$HERE/admin_api.py" 2>"$T/logs/admin-api-py.err" | tee "$T/logs/admin-api-py.out"
tap_tally "admin_api.py" "$T/logs/admin-api-py" "${PIPESTATUS[0]}"

# ---------------------------------------------------------------------------------------------
# The OpenAPI document: valid OpenAPI 3.1, as served and as kept in the repository
# ---------------------------------------------------------------------------------------------
echo "# ---- OpenAPI document"
curl -s --max-time 5 -o "$T/served-openapi.json" "$BASE/keyward/admin/api/openapi.json"
if cmp -s "$T/served-openapi.json" "$REPO/docs/admin-openapi.json"; then
    ok "the served /admin/api/openapi.json is docs/admin-openapi.json byte for byte"
else
    notok "the served document is docs/admin-openapi.json" "identical" "different ($(wc -c <"$T/served-openapi.json") bytes served)"
fi
if out=$(timeout 120 python3 -m openapi_spec_validator "$T/served-openapi.json" 2>&1); then
    ok "openapi-spec-validator accepts the served document ($(oneline "$out"))"
else
    notok "openapi-spec-validator accepts the served document" "OK" "$out"
fi
version=$(jget "$T/served-openapi.json" openapi)
expect_eq "the document is OpenAPI 3.1" 3.1.0 "$version"

# ---------------------------------------------------------------------------------------------
# A client generated from the document by openapi-python-client: no warning, and it works
# ---------------------------------------------------------------------------------------------
echo "# ---- a client generated by openapi-python-client $OPENAPI_CLIENT_VERSION (admin_client.py)"
GEN_OUT=$T/logs/openapi-python-client.out
(cd "$T" && timeout 120 python3 -m openapi_python_client generate --path "$REPO/docs/admin-openapi.json" \
    --output-path "$T/client" --overwrite) >"$GEN_OUT" 2>&1
gen_rc=$?
expect_eq "openapi-python-client generates a client from docs/admin-openapi.json (exit status)" 0 "$gen_rc"
warnings=$(grep -icE 'warning|error' "$GEN_OUT" || true)
if [ "$warnings" = 0 ] && [ -f "$T/client/keyward_admin_api_client/api/audit/export_audit.py" ]; then
    ok "openapi-python-client prints no warning, and generates every operation (audit/export too)"
else
    notok "openapi-python-client prints no warning" "no Warning/Error line, export_audit.py generated" \
        "$warnings such lines: $(grep -iE -A 3 'warning|error' "$GEN_OUT" | head -n 12 | tr '\n' ' ')"
fi
KW_CLIENT=$T/client KW_BASE=$BASE KW_FIXTURES=$T/cli KW_NEW_SECRETS=$NEW_SECRETS \
    timeout 120 python3 -u "$HERE/admin_client.py" 2>"$T/logs/admin-client-py.err" | tee "$T/logs/admin-client-py.out"
tap_tally "admin_client.py" "$T/logs/admin-client-py" "${PIPESTATUS[0]}"

# ---------------------------------------------------------------------------------------------
# schemathesis fuzzes the running server as an admin: no 5xx, whatever it sends
# ---------------------------------------------------------------------------------------------
echo "# ---- schemathesis (not_a_server_error)"
FUZZ_KEY=$(jget "$T/cli/key-fuzz.json" secret)
examples=${KEYWARD_E2E_FUZZ_EXAMPLES:-40}
checks=${KEYWARD_E2E_FUZZ_CHECKS:-not_a_server_error}
start_s=$SECONDS
FUZZ_KEY_ID=$(jget "$T/cli/key-fuzz.json" id)
# Run inside $T: schemathesis keeps a cache directory (.schemathesis/) in its working directory.
(cd "$T" && SCHEMATHESIS_HOOKS=$HERE/admin_api_hooks.py KW_FUZZ_KEY_ID=$FUZZ_KEY_ID KW_FUZZ_USER=fuzz-admin-q7Zr2 KW_FUZZ_ROLE=admins \
    timeout 600 "${SCHEMATHESIS[@]}" run "$BASE/keyward/admin/api/openapi.json" --url "$BASE/keyward" \
    -H "Authorization: Bearer $FUZZ_KEY" --checks "$checks" --max-examples "$examples" --seed 20261123 \
    --workers 1 --request-timeout 10 --phases examples,coverage,fuzzing,stateful --suppress-health-check all \
    --output-sanitize true --no-color >"$T/logs/schemathesis.out" 2>&1)
st_rc=$?
echo "# schemathesis: exit $st_rc after $((SECONDS - start_s)) s; test cases: $(grep -E '^ *[0-9]+ generated' "$T/logs/schemathesis.out" | tr -s ' ')"
if [ "$st_rc" = 0 ]; then
    ok "schemathesis finds no server error ($examples examples per operation; checks: $checks)"
else
    notok "schemathesis finds no server error" "exit 0" "exit $st_rc: $(grep -iE 'server error|5[0-9][0-9]|error' "$T/logs/schemathesis.out" | head -n 5 | tr '\n' ' ')"
fi
tested=$(grep -cE '^(GET|POST|PUT|PATCH|DELETE) /admin/api/' "$T/logs/schemathesis.out" || true)
fivexx=$(grep -c '" 5[0-9][0-9] ' "$T/nginx/logs/keyward-example.access.log" || true)
expect_eq "no 5xx in nginx's access log after fuzzing" 0 "$fivexx"
requests_made=$(grep -c '/keyward/admin/api/' "$T/nginx/logs/keyward-example.access.log" || true)
if [ "$requests_made" -gt 500 ]; then ok "schemathesis sent $requests_made requests"; else notok "schemathesis sent many requests" "> 500" "$requests_made ($tested lines)"; fi
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $FUZZ_KEY" "$BASE/keyward/admin/api/me")
expect_eq "the fuzzer's own key still works afterwards (it fuzzed authenticated throughout)" 200 "$code"
unauth=$(grep 'schemathesis' "$T/nginx/logs/keyward-example.access.log" | grep -c '" 401 ' || true)
echo "# $unauth of the fuzzer's requests were answered 401"
if grep -q 'KW0501' "$T/logs/keyward-main.log"; then
    notok "no admin API failure logged (KW0501)" "none" "$(grep -m 3 KW0501 "$T/logs/keyward-main.log" | tr '\n' ' ')"
else
    ok "no admin API failure logged (KW0501)"
fi

# ---------------------------------------------------------------------------------------------
# No key secret, password or session token in keyward's logs, the audit log or the listings
# ---------------------------------------------------------------------------------------------
echo "# ---- secrets stay out of logs"
kw audit list --json >"$T/audit.json" 2>>"$CLI_LOG" || kw audit list >"$T/audit.json" 2>>"$CLI_LOG"
kw key list --json >"$T/keys.json" 2>>"$CLI_LOG"
[ -f "$NEW_SECRETS" ] && mapfile -t -O "${#SECRETS[@]}" SECRETS <"$NEW_SECRETS"
leaks=""
for sec in "${SECRETS[@]}" "$ROOT_PASSWORD" "$ALICE_PASSWORD"; do
    [ ${#sec} -ge 20 ] || continue
    needle=${sec:${#sec}-16}
    grep -q -F -e "$needle" "$T"/logs/keyward-*.log "$T/audit.json" "$T/keys.json" "$CLI_LOG" && leaks="$leaks ${sec:0:8}..."
done
expect_eq "no key secret, password or session token (${#SECRETS[@]} checked) in logs, audit or key list" "" "$leaks"

# ---------------------------------------------------------------------------------------------
if [ "$FAIL" -gt 0 ]; then
    show_log "$T/logs/keyward-main.log"
    show_log "$T/nginx/logs/error.log"
    show_log "$T/logs/admin-api-py.err"
    show_log "$T/logs/openapi-python-client.out"
    show_log "$T/logs/admin-client-py.err"
    show_log "$T/logs/schemathesis.out"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
