#!/usr/bin/env bash
# Keyward end-to-end: strict OAuth and JOSE clients, unmodified, over TLS, through nginx and
# through Apache with the repository's files (issue 10). Tests/EndToEnd/strict_clients.py drives
# each server; this script sets up a throwaway CA, the servers and one fresh Keyward per server.
#
# nginx (https://127.0.0.1:$P_NGX): nginx/example-site.conf itself (its addresses moved, `listen
# ... ssl` and the test certificate added: start_nginx_site --tls), which includes keyward-log.conf,
# keyward.conf and keyward-protect.conf, plus keyward-endpoints.conf; all unchanged.
# Apache (https://127.0.0.1:$P_AP): apache/keyward.conf at server level, and example-site.conf
# (keyward-protect.conf) and keyward-endpoints.conf inside a mod_ssl <VirtualHost>; all unchanged.
#
# Keyward: one instance per server, each on its own database right after `keyward init` (a fresh
# install: its first signing key), --mount /keyward, --issuer https://127.0.0.1:PORT/keyward,
# --audience keyward-e2e. nginx reaches its Keyward on a unix socket, Apache on TCP (responder and
# authorizer on the one socket). Each server has a TLS twin in front of a second Keyward on the same
# database whose --issuer is http: there a Secure cookie can only come from the HTTPS param.
#
# Per server, strict_clients.py: RFC 8414 metadata validated by authlib and idpyoidc on both
# discovery addresses (every URL https under the issuer); a fresh install's token verified by
# PyJWT, joserfc, jwcrypto and authlib with default settings, and after `signing-key rotate` to
# ES256, RS256, EdDSA and Ed25519 the library/alg matrix; requests-oauthlib fetching a token and
# calling /api/ (identity at the backend); oauthlib's revocation request; RFC 8693 errors,
# audience, resource and down-scoping; a client revoking another client's token (refused);
# Authorization reaching Keyward (Basic at /token, Bearer at the admin API and the compatibility
# route); the admin session cookie Secure. Here, with curl: the body caps, an absolute-form
# request target, and both discovery addresses.
#
# Usage:  Tests/EndToEnd/11-strict-clients.sh
# Env:    KEYWARD_BIN         keyward binary (default: <repo>/.build/debug/keyward)
#         KEYWARD_E2E_KEEP    1 = keep the temporary directory (it is always kept after a failure)
#         KEYWARD_E2E_VERBOSE 1 = show keyward / server log tails after a failure
#         KEYWARD_E2E_PORTS   LOW-HIGH port range (default 18100-18999)
#
# Output: `ok - <check>` / `not ok - <check> (detail)` per check, then `N passed, N failed`.
# Exit 1 when any check failed or the suite could not run. Needs root (the servers drop to
# www-data), nginx, apache2 (mod_ssl, mod_proxy_fcgi), openssl, curl, python3 with the libraries
# below (pip-installed when missing); loopback only. About 10 s.

set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SUITE="strict clients suite"

# ---------------------------------------------------------------------------------------------
# Prerequisites: fail loudly. The Python client libraries are the one thing installed here.
# ---------------------------------------------------------------------------------------------
require_tools "apt-get install nginx apache2 openssl python3 python3-pip curl; the Makefile does this" \
    nginx apache2 openssl python3 curl timeout
OPENAPI_CLIENT_VERSION=0.29.1   # as in 05-admin-api.sh
PY_IMPORTS="import authlib, joserfc, jwcrypto, jwt, idpyoidc, requests_oauthlib, oauthlib, requests, cryptography, openapi_python_client"
python3 -c "$PY_IMPORTS" 2>/dev/null ||
    timeout 600 python3 -m pip install --quiet --disable-pip-version-check \
        authlib joserfc jwcrypto 'pyjwt[crypto]' idpyoidc requests-oauthlib oauthlib requests \
        "openapi-python-client==$OPENAPI_CLIENT_VERSION" ||
    bail "pip install authlib joserfc jwcrypto pyjwt[crypto] idpyoidc requests-oauthlib oauthlib requests failed for $(command -v python3) (PyPI unreachable, no pip, or an externally managed Python: use a venv)"
python3 -c "$PY_IMPORTS" 2>/dev/null ||
    bail "python3 cannot import authlib, joserfc, jwcrypto, jwt, idpyoidc, requests_oauthlib, oauthlib, requests even after pip install"
require_root "nginx and Apache start as root and drop to www-data"
for m in ssl socache_shmcb proxy_fcgi alias; do
    [ -f "/usr/lib/apache2/modules/mod_$m.so" ] || bail "Apache has no mod_$m (/usr/lib/apache2/modules/mod_$m.so)"
done
require_repo_files nginx/example-site.conf nginx/keyward.conf nginx/keyward-protect.conf nginx/keyward-endpoints.conf \
    apache/keyward.conf apache/keyward-protect.conf apache/example-site.conf apache/keyward-endpoints.conf
# oauthlib's refusal of plain http is what these clients are about: never switch it off here.
unset OAUTHLIB_INSECURE_TRANSPORT

# ---------------------------------------------------------------------------------------------
# Temporary directory, ports, the throwaway CA and the certificate for 127.0.0.1
# ---------------------------------------------------------------------------------------------
make_tmpdir keyward-strict
read -r P_NGX P_NGX2 P_AP P_AP2 P_KW_AP P_KW_AP2 P_BACKEND <<<"$(free_ports 7)"
[ -n "${P_BACKEND:-}" ] || bail "could not pick free ports"
make_tls "$T/tls"
ok "openssl made a throwaway CA and a certificate for 127.0.0.1 (IP SAN)"

AUDIENCE=keyward-e2e
ADMIN_PASSWORD="admin password $RANDOM$RANDOM"

# ---------------------------------------------------------------------------------------------
# One fresh Keyward per server: database, users, clients, keys, resources
# ---------------------------------------------------------------------------------------------
mkclient() { # label, then client create arguments: $T/cli/client-<label>.json
    local label=$1 out
    shift
    out=$(kw client create "$@" --json) || bail "keyward client create $* failed: $(tail -n 3 "$CLI_LOG")"
    printf '%s' "$out" >"$T/cli/client-$label.json"
    [ -n "$(jget "$T/cli/client-$label.json" client_secret)" ] || bail "client create --json gave no client_secret: $out"
}
setup_keyward() { # site: $T/<site>/keyward.db, fixtures labelled <site>-*
    local site=$1
    mkdir -p "$T/$site"
    DB=$T/$site/keyward.db
    ROLE_ADMINS=""
    kw_init
    add_users alice admin root
    add_admins admin root
    mkkey "$site-root" --user root --name automation --expires never
    mkdir -p "$T/cli-$site" && cp "$T/cli/key-$site-root.json" "$T/cli-$site/key-root.json"
    printf '%s\n' "$ADMIN_PASSWORD" | must kw user passwd admin --password-stdin
    mkclient "$site-a" --user alice --name client-a --scope /api/
    mkclient "$site-b" --user alice --name client-b --scope /api/
    mkkey "$site-alice" --user alice --name alice
    mkkey "$site-admin" --user admin --name admin
    # Resources Keyward protects: RFC 8693 resource=https://<origin>/api/ and audience=reports.
    must kw resource add api --path /api/ --owner alice
    must kw resource add reports --path /api/reports/ --owner alice
}
COMMON=(--threads 4 --mount /keyward --failure-limit 0 --audience "$AUDIENCE" --token-lifetime 5m)

# Per server a second instance on the same database whose --issuer is http, behind a second TLS
# server: Keyward marks cookies Secure when its issuer is https, so only there does a Secure
# cookie show that the server passed the HTTPS param.
setup_keyward nginx
start_keyward kw_nginx keyward-nginx "unix:$T/nginx/kw.sock" --socket-mode 0666 "${COMMON[@]}" \
    --issuer "https://127.0.0.1:$P_NGX/keyward"
start_keyward kw_nginx_http_issuer keyward-nginx-http-issuer "unix:$T/nginx/kw-http-issuer.sock" --socket-mode 0666 \
    "${COMMON[@]}" --issuer "http://127.0.0.1:$P_NGX2/keyward"
setup_keyward apache
start_keyward kw_apache keyward-apache "127.0.0.1:$P_KW_AP" "${COMMON[@]}" \
    --issuer "https://127.0.0.1:$P_AP/keyward"
start_keyward kw_apache_http_issuer keyward-apache-http-issuer "127.0.0.1:$P_KW_AP2" "${COMMON[@]}" \
    --issuer "http://127.0.0.1:$P_AP2/keyward"
wait_keywards
start_backend

start_nginx_site ngx "$T/nginx-site" "$P_NGX" "$T/nginx/kw.sock" --endpoints --tls "$TLS_CERT" "$TLS_KEY"
start_nginx_site ngx2 "$T/nginx-site2" "$P_NGX2" "$T/nginx/kw-http-issuer.sock" --endpoints --tls "$TLS_CERT" "$TLS_KEY"
ok "nginx -t accepts example-site.conf + keyward-endpoints.conf with listen ... ssl"
start_apache_site apache "$T/apache-site" "$P_AP" "$P_KW_AP" --endpoints --tls "$TLS_CERT" "$TLS_KEY"
start_apache_site apache2 "$T/apache-site2" "$P_AP2" "$P_KW_AP2" --endpoints --tls "$TLS_CERT" "$TLS_KEY"
ok "apache2 -t accepts keyward.conf + example-site.conf + keyward-endpoints.conf in a mod_ssl VirtualHost"

# ---------------------------------------------------------------------------------------------
# What curl shows better than a client library
# ---------------------------------------------------------------------------------------------
head -c 70000 /dev/zero | tr '\0' 'a' >"$T/body-70k"
for s in "nginx+TLS:$P_NGX" "Apache+TLS:$P_AP"; do
    site=${s%%:*} port=${s##*:}
    base=https://127.0.0.1:$port
    echo "# ---- $site: the endpoints with curl"
    http --cacert "$TLS_CA" "$base/keyward/healthz"
    expect_eq "$site: GET /keyward/healthz over TLS -> 200" 200 "$CODE"
    http --cacert "$TLS_CA" "$base/.well-known/oauth-authorization-server/keyward"
    expect_eq "$site: GET /.well-known/oauth-authorization-server/keyward -> 200" 200 "$CODE"
    expect_eq "$site: its issuer is https://127.0.0.1:$port/keyward" "https://127.0.0.1:$port/keyward" "$(jget "$T/r.body" issuer)"
    http --cacert "$TLS_CA" "$base/.well-known/oauth-authorization-server/keywardx"
    expect_eq "$site: /.well-known/oauth-authorization-server/keywardx is not the discovery address" "" "$(jget "$T/r.body" issuer)"
    # RFC 9112 §3.2.2: a server must accept the absolute form; Apache passes it on as REQUEST_URI.
    http --cacert "$TLS_CA" --request-target "$base/keyward/healthz" "$base/"
    expect_eq "$site: GET $base/keyward/healthz in absolute form -> 200" 200 "$CODE"
    http --cacert "$TLS_CA" --data-binary @"$T/body-70k" "$base/keyward/token"
    expect_eq "$site: a 70,000-byte body at /keyward/token -> 413 (Keyward's 64 KiB cap; the server lets 1 MiB through)" 413 "$CODE"
    http --cacert "$TLS_CA" -d grant_type=client_credentials "$base/keyward/token"
    expect_eq "$site: a small form without client credentials reaches Keyward -> 401" 401 "$CODE"
done
http --cacert "$TLS_CA" -H 'Transfer-Encoding: chunked' --data-binary @"$T/body-70k" "https://127.0.0.1:$P_NGX/keyward/token"
expect_eq "nginx+TLS: a chunked 70,000-byte body -> 413 (Keyward's cap, read up to the limit)" 413 "$CODE"
http --cacert "$TLS_CA" -H 'Transfer-Encoding: chunked' -d grant_type=client_credentials "https://127.0.0.1:$P_AP/keyward/token"
expect_eq "Apache+TLS: a chunked body -> 411 (keyward-endpoints.conf wants a Content-Length)" 411 "$CODE"

# ---------------------------------------------------------------------------------------------
# The clients: strict_clients.py, once per server
# ---------------------------------------------------------------------------------------------
run_clients() { # site label port port-of-the-http-issuer-instance
    local site=$1 label=$2 port=$3 port2=$4 out=$T/logs/strict-$2.out
    echo "# strict clients through $site (strict_clients.py)"
    KW_SITE=$site KW_LABEL=$label KW_BIN=$KEYWARD_BIN KW_DB=$T/$label/keyward.db KW_FIXTURES=$T/cli \
    KW_BASE=https://127.0.0.1:$port KW_ISSUER=https://127.0.0.1:$port/keyward KW_AUDIENCE=$AUDIENCE \
    KW_HTTP_ISSUER_BASE=https://127.0.0.1:$port2 \
    KW_CA=$TLS_CA REQUESTS_CA_BUNDLE=$TLS_CA KW_PASSWORD=$ADMIN_PASSWORD NO_PROXY=127.0.0.1,localhost \
        timeout 300 python3 -u "$HERE/strict_clients.py" 2>"$T/logs/strict-$label.err" | tee "$out"
    tap_tally "strict_clients.py ($site)" "$T/logs/strict-$label" "${PIPESTATUS[0]}"
}
run_clients "nginx+TLS" nginx "$P_NGX" "$P_NGX2"
run_clients "Apache+TLS" apache "$P_AP" "$P_AP2"

# ---------------------------------------------------------------------------------------------
# The admin API through both servers, by the client openapi-python-client generates from
# docs/admin-openapi.json (05-admin-api.sh checks the generation prints no warning)
# ---------------------------------------------------------------------------------------------
(cd "$T" && timeout 120 python3 -m openapi_python_client generate --path "$REPO/docs/admin-openapi.json" \
    --output-path "$T/client" --overwrite) >"$T/logs/openapi-python-client.out" 2>&1 ||
    bail "openapi-python-client could not generate a client: $(tail -n 3 "$T/logs/openapi-python-client.out")"
for pair in "nginx+TLS nginx $P_NGX" "Apache+TLS apache $P_AP"; do
    read -r site label port <<<"$pair"
    echo "# ---- $site: the admin API by the generated client (admin_client.py)"
    out=$T/logs/admin-client-$label.out
    KW_CLIENT=$T/client KW_BASE=https://127.0.0.1:$port KW_FIXTURES=$T/cli-$label KW_NEW_SECRETS=$T/new-secrets \
    KW_CA=$TLS_CA NO_PROXY=127.0.0.1,localhost \
        timeout 120 python3 -u "$HERE/admin_client.py" 2>"$T/logs/admin-client-$label.err" | sed "s/^\(not \)\{0,1\}ok - /&$site: /" | tee "$out"
    n_ok=$(grep -c '^ok - ' "$out")
    n_notok=$(grep -c '^not ok - ' "$out")
    PASS=$((PASS + n_ok))
    FAIL=$((FAIL + n_notok))
    [ "$n_ok" -gt 0 ] || notok "admin_client.py ($site) ran its checks" "ok lines" "none: $(tail -n 5 "$T/logs/admin-client-$label.err")"
done

# ---------------------------------------------------------------------------------------------
if [ "$FAIL" -gt 0 ]; then
    show_log "$T/logs/keyward-nginx.log"
    show_log "$T/logs/keyward-apache.log"
    show_log "$T/nginx-site/logs/error.log"
    show_log "$T/apache-site/logs/error.log"
    show_log "$T/logs/strict-nginx.err"
    show_log "$T/logs/strict-apache.err"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
