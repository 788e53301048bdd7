#!/usr/bin/env bash
# Keyward end-to-end: the token service (OAuth2 client credentials, token exchange, JWKS, RFC 8414
# metadata, introspection, revocation, signing-key rotation) through real nginx, driven by real
# client libraries (authlib, requests, PyJWT) in Tests/EndToEnd/tokens.py.
#
# nginx uses the repository's files unchanged, included by absolute path:
#   nginx/keyward.conf            the internal check location and the JSON error pages
#   nginx/keyward-endpoints.conf  /keyward/ -> Keyward as a FastCGI responder (--mount /keyward)
#   nginx/keyward-protect.conf    inside the protected `location /api/`
#
# Keyward instances (one database, so one set of signing keys):
#   main   --issuer http://127.0.0.1:$P_NGX/keyward --audience keyward-e2e --token-lifetime 5m
#   short  same issuer and audience, --token-lifetime 2s       (expiry at the main check)
#   aud    same issuer, --audience another-audience             (aud confusion, RFC 8725 §3.9)
#   iss    its own issuer, same audience                        (iss confusion, RFC 8725 §3.8)
# each behind its own nginx (the snippets name `upstream keyward`, so one Keyward per nginx).
#
# Usage:  Tests/EndToEnd/02-tokens.sh
# Env:    KEYWARD_BIN         keyward binary (default: <repo>/.build/debug/keyward)
#         KEYWARD_E2E_KEEP    1 = keep the temporary directory (it is always kept after a failure)
#         KEYWARD_E2E_VERBOSE 1 = show keyward / nginx log tails after a failure
#
# Output: `ok - <check>` / `not ok - <check> (detail)` per check, then `N passed, N failed`.
# Exit 1 when any check failed or the suite could not run. Needs root (nginx drops to www-data),
# nginx, python3 (authlib, PyJWT[crypto] and requests are pip-installed when missing), loopback only.
# About 75 s, most of it waiting: for the 2 s token to pass exp plus the verifier's clock-skew
# leeway, and for a key rotated out with --retire-after 2s to leave every worker's key ring.

set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SUITE="token suite"

# ---------------------------------------------------------------------------------------------
# Prerequisites: fail loudly. The Python client libraries are the one thing installed here.
# ---------------------------------------------------------------------------------------------
require_tools "apt-get install nginx python3 python3-pip curl; the Makefile does this" nginx python3 curl timeout pgrep
python3 -c "import authlib, jwt, requests, cryptography" 2>/dev/null ||
    timeout 600 python3 -m pip install --quiet --disable-pip-version-check authlib 'pyjwt[crypto]' requests ||
    bail "pip install authlib pyjwt[crypto] requests failed for $(command -v python3) (PyPI unreachable, no pip, or an externally managed Python: use a venv or apt-get install python3-authlib python3-jwt python3-requests)"
python3 -c "import authlib, jwt, requests, cryptography" 2>/dev/null ||
    bail "python3 cannot import authlib, jwt, requests, cryptography even after pip install"
require_root "nginx starts as root and drops to www-data"
require_repo_files nginx/example-site.conf nginx/keyward.conf nginx/keyward-protect.conf nginx/keyward-endpoints.conf

# ---------------------------------------------------------------------------------------------
# Temporary directory (removed on exit unless a check failed or KEYWARD_E2E_KEEP=1)
# ---------------------------------------------------------------------------------------------
make_tmpdir keyward-tokens

# Free loopback ports in 18100-18999: four nginx servers and the backend.
read -r P_NGX P_SHORT P_AUD P_ISS P_BACKEND <<<"$(free_ports 5)"
[ -n "${P_BACKEND:-}" ] || bail "could not pick free ports"

ISSUER=http://127.0.0.1:$P_NGX/keyward
AUDIENCE=keyward-e2e
ISS_OTHER=http://127.0.0.1:$P_ISS/keyward
AUD_OTHER=another-audience

# ---------------------------------------------------------------------------------------------
# Keyward: database, signing key, users, clients, keys (the CLI side of the contract)
# ---------------------------------------------------------------------------------------------
kw_init

kw signing-key list --json >"$T/cli/signing-keys-0.json" || bail "signing-key list --json failed: $(tail -n 3 "$CLI_LOG")"
count_keys() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d) if isinstance(d, list) else "not-a-list")' "$1" 2>/dev/null || echo unreadable; }
expect_eq "keyward init creates one signing key" 1 "$(count_keys "$T/cli/signing-keys-0.json")"
expect_eq "the first signing key is ES256" ES256 "$(jget "$T/cli/signing-keys-0.json" 0.alg)"
expect_eq "the first signing key is active" active "$(jget "$T/cli/signing-keys-0.json" 0.status)"
KID0=$(jget "$T/cli/signing-keys-0.json" 0.kid)
[ -n "$KID0" ] && ok "the first signing key has a kid" || notok "the first signing key has a kid" "a kid" "none"
kw init >/dev/null || notok "keyward init again exits 0" 0 "$?"
kw signing-key list --json >"$T/cli/signing-keys-1.json"
expect_eq "keyward init again adds no signing key (idempotent)" 1 "$(count_keys "$T/cli/signing-keys-1.json")"

add_users alice bob carol

SECRETS=()   # every client secret and API key, for the leak checks at the end
mkclient() { # label, then client create arguments
    local label=$1 out
    shift
    out=$(kw client create "$@" --json) || bail "keyward client create $* failed: $(tail -n 3 "$CLI_LOG")"
    printf '%s' "$out" >"$T/cli/client-$label.json"
    local id sec
    id=$(jget "$T/cli/client-$label.json" client_id)
    sec=$(jget "$T/cli/client-$label.json" client_secret)
    [ -n "$id" ] && [ -n "$sec" ] || bail "client create --json gave no client_id/client_secret: $out"
    SECRETS+=("$sec")
}
# Clients (labels are what tokens.py reads: $T/cli/client-<label>.json)
mkclient reports --user alice --name reports --scope /api/reports/ --scope /api/data/
mkclient all     --user alice --name all --scope /api/
mkclient doomed  --user alice --name doomed --scope /api/
mkclient carol   --user carol --name carol --scope /api/
mkclient regen   --user bob --name regen --scope /api/
mkclient gone    --user bob --name gone --scope /api/
mkclient bob     --user bob --name bob --scope /api/
mkclient brief   --user alice --name brief --scope /api/ --expires 2m
# API keys for token exchange
mkkey x        --user alice --name exchange
mkkey xscoped  --user alice --name exchange-scoped --scope /api/reports/
mkkey xdoomed  --user alice --name exchange-doomed
mkkey carol    --user carol --name carol
mkkey brief    --user alice --name brief --expires 2m

id=$(jget "$T/cli/client-reports.json" client_id)
sec=$(jget "$T/cli/client-reports.json" client_secret)
if [[ $id =~ ^kwc_[0-9A-Za-z]{16}$ ]]; then ok "client_id has the kwc_<16 base62> shape"; else notok "client_id shape" "kwc_<16>" "$id"; fi
if [[ $sec =~ ^kwc_[0-9A-Za-z]{16}_[0-9A-Za-z]{38}$ ]]; then ok "client_secret has the kwc_<16>_<38> shape"; else notok "client_secret shape" "kwc_<16>_<38>" "${#sec} chars"; fi
expect_eq "client_secret starts with its client_id" "$id" "${sec:0:20}"
out=$(kw client list --json)
case $out in *"$id"*) ok "client list --json names the client" ;; *) notok "client list --json names the client" "$id" "$out" ;; esac
expect_lacks "client list --json shows no secret" "$out" "${sec:21}"
kw client show "$id" --json >"$T/cli/client-show.json" || notok "client show exits 0" 0 "$?"
expect_eq "client show --json names the client" "$id" "$(jget "$T/cli/client-show.json" client_id)"
expect_lacks "client show --json shows no secret" "$(cat "$T/cli/client-show.json")" "${sec:21}"

# ---------------------------------------------------------------------------------------------
# Keyward servers, backend, nginx
# ---------------------------------------------------------------------------------------------
# --failure-limit 0: the attack checks make dozens of 401s from 127.0.0.1 on purpose.
COMMON=(--socket-mode 0666 --threads 4 --mount /keyward --failure-limit 0)
start_keyward kw_main keyward-main "unix:$T/kw.sock" "${COMMON[@]}" \
    --issuer "$ISSUER" --audience "$AUDIENCE" --token-lifetime 5m
start_keyward kw_short keyward-short "unix:$T/kw-short.sock" "${COMMON[@]}" \
    --issuer "$ISSUER" --audience "$AUDIENCE" --token-lifetime 2s
start_keyward kw_aud keyward-aud "unix:$T/kw-aud.sock" "${COMMON[@]}" \
    --issuer "$ISSUER" --audience "$AUD_OTHER" --token-lifetime 5m
start_keyward kw_iss keyward-iss "unix:$T/kw-iss.sock" "${COMMON[@]}" \
    --issuer "$ISS_OTHER" --audience "$AUDIENCE" --token-lifetime 5m
wait_keywards

start_backend

# What the check decided, shown to the client for the test: server-level add_header, inherited by
# the example's `location /api/` (which has none of its own).
cat >"$T/seen.conf" <<'EOF'
add_header X-Seen-User        $keyward_user always;
add_header X-Seen-Method      $keyward_method always;
add_header X-Seen-Credential  $keyward_credential always;
add_header X-Seen-Scopes      $keyward_scopes always;
EOF
for n in nginx:"$P_NGX":kw nginx-short:"$P_SHORT":kw-short nginx-aud:"$P_AUD":kw-aud nginx-iss:"$P_ISS":kw-iss; do
    IFS=: read -r d p s <<<"$n"
    start_nginx_site "ngx_${d//-/_}" "$T/$d" "$p" "$T/$s.sock" --endpoints --server "$T/seen.conf"
done
ok "nginx -t accepts keyward.conf + keyward-endpoints.conf + keyward-protect.conf"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$P_NGX/keyward/healthz")
expect_eq "nginx reaches keyward through keyward-endpoints.conf (/keyward/healthz)" 200 "$code"

# ---------------------------------------------------------------------------------------------
# The clients: tokens.py (authlib, requests, PyJWT)
# ---------------------------------------------------------------------------------------------
echo "# token service scenarios (tokens.py)"
ISSUED=$T/issued-tokens.txt
KW_BIN=$KEYWARD_BIN KW_DB=$DB KW_FIXTURES=$T/cli KW_ISSUED=$ISSUED \
KW_BASE=http://127.0.0.1:$P_NGX KW_ISSUER=$ISSUER KW_AUDIENCE=$AUDIENCE \
KW_SHORT_BASE=http://127.0.0.1:$P_SHORT KW_AUD_BASE=http://127.0.0.1:$P_AUD KW_AUD_OTHER=$AUD_OTHER \
KW_ISS_BASE=http://127.0.0.1:$P_ISS KW_ISS_OTHER=$ISS_OTHER \
    timeout 300 python3 -u "$HERE/tokens.py" 2>"$T/logs/tokens-py.err" | tee "$T/logs/tokens-py.out"
tap_tally "tokens.py" "$T/logs/tokens-py" "${PIPESTATUS[0]}"

# ---------------------------------------------------------------------------------------------
# No secret and no access token in keyward's logs, the audit log or the listings
# ---------------------------------------------------------------------------------------------
echo "# ---- secrets stay out of logs"
kw audit list --json >"$T/audit.json" 2>>"$CLI_LOG" || kw audit list >"$T/audit.json" 2>>"$CLI_LOG"
kw client list --json >"$T/clients.json"
leaks=""
for sec in "${SECRETS[@]}"; do
    grep -q -F -e "${sec:21}" "$T"/logs/keyward-*.log "$T/audit.json" "$T/clients.json" "$CLI_LOG" && leaks="$leaks ${sec:0:20}"
done
expect_eq "no client secret or API key in keyward's logs, audit or client list" "" "$leaks"
leaks=""
if [ -s "$ISSUED" ]; then
    while read -r tok; do
        sig=${tok##*.}
        [ ${#sig} -ge 16 ] || continue
        grep -q -F -e "$sig" "$T"/logs/keyward-*.log "$T/audit.json" && leaks="$leaks ${tok:0:12}..."
    done <"$ISSUED"
    expect_eq "no issued access token in keyward's logs or audit" "" "$(oneline "$leaks")"
else
    notok "tokens.py recorded the tokens it was issued" "$ISSUED" "empty or missing"
fi

# ---------------------------------------------------------------------------------------------
if [ "$FAIL" -gt 0 ]; then
    show_log "$T/logs/keyward-main.log"
    show_log "$T/nginx/logs/error.log"
    show_log "$T/logs/tokens-py.err"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
