#!/usr/bin/env bash
# Keyward end-to-end: the access model (groups, roles, resources, IP rules, trusted proxies,
# explain) through real nginx and real Apache httpd (mod_authnz_fcgi), using the repository's
# configuration files unchanged:
#   nginx/keyward.conf, nginx/keyward-protect.conf    included by the generated nginx.conf
#   apache/keyward.conf, apache/example-site.conf,
#   apache/keyward-protect.conf                        included by the generated httpd.conf
# Every access change is made with the `keyward` CLI while the servers run, and checked on the very
# next request (no sleep). One consumer approval (`keyward access request` / `approve`, mail through
# a capturing sendmail script, the secret inline) issues a key that is then tried through both.
#
# Keyward instances (one database):
#   plain  serve without --trusted-proxy: X-Forwarded-For / X-Real-IP are ignored
#   tp     serve --trusted-proxy 127.0.0.1: a client at 127.0.0.1 may name the client address in
#          X-Forwarded-For (the default --real-ip-header; X-Real-IP is then ignored)
# each behind its own nginx and its own Apache (the snippets name `upstream keyward` and the
# provider `Keyward`, so one Keyward per server instance). nginx and Apache listen on 127.0.0.1
# and on ::1, so IPv6 rules are tested with a real IPv6 client address.
#
# Usage:  Tests/EndToEnd/03-access.sh
# Env:    KEYWARD_BIN         keyward binary (default: <repo>/.build/debug/keyward)
#         KEYWARD_E2E_KEEP    1 = keep the temporary directory (it is always kept after a failure)
#         KEYWARD_E2E_VERBOSE 1 = show keyward / server log tails after a failure
#         KEYWARD_E2E_PORTS   LOW-HIGH port range (default 18100-18999)
#
# Output: `ok - <check>` / `not ok - <check> (expected X got Y)` per check, then
# `N passed, N failed`. Exit 1 when any check failed or the suite could not run.
# Needs root (nginx and Apache drop to www-data), nginx, apache2, curl, python3. About 15 s.

set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SUITE="access suite"

require_tools "apt-get install nginx apache2 curl python3; the Makefile does this" nginx apache2 curl python3 timeout
require_root "nginx and Apache start as root and drop to www-data"
for mod in authnz_fcgi authn_core authz_core authz_user setenvif headers proxy proxy_http alias cgid mime mpm_event; do
    [ -f "/usr/lib/apache2/modules/mod_$mod.so" ] || bail "Apache module mod_$mod.so missing (apt-get install apache2)"
done

make_tmpdir keyward-access

read -r P_NGX P_NGX_TP P_AP P_AP_TP P_BACKEND P_KW P_KW_TP <<<"$(free_ports 7)"
[ -n "${P_KW_TP:-}" ] || bail "could not pick free ports"

# IPv6 loopback: required; without it the IPv6 checks fail (loudly) and the rest still runs.
V6=0
python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null && V6=1

# ---------------------------------------------------------------------------------------------
# HTTP helpers beside lib.sh's http and hdr
# ---------------------------------------------------------------------------------------------
body() { cat "$T/r.body"; }
wait_http() { # url tries
    local i c
    for ((i = 0; i < $2; i++)); do
        c=$(curl -s -g -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null)
        [ -n "$c" ] && [ "$c" != 000 ] && return 0
        sleep 0.2
    done
    return 1
}

# allowed S NAME USER METHOD  -- a 200 that reached the backend as USER, authenticated by METHOD
allowed() {
    local s=$1 name=$2 user=$3 method=$4
    expect_eq "$s: $name -> 200" 200 "$CODE"
    [ "$CODE" = 200 ] || { show_log "$T/logs/keyward-plain.log"; return; }
    expect_eq "$s: $name -> backend sees X-Auth-User $user" "$user" "$(jget "$T/r.body" headers.x-auth-user)"
    expect_eq "$s: $name -> backend sees X-Auth-Method $method" "$method" "$(jget "$T/r.body" headers.x-auth-method)"
}
# denied S NAME STATUS CODE  -- Keyward's refusal, with its code in the header and the JSON body
denied() {
    local s=$1 name=$2 status=$3 code=$4
    expect_eq "$s: $name -> $status" "$status" "$CODE"
    [ "$CODE" = "$status" ] || return
    expect_eq "$s: $name -> X-Auth-Error-Code $code" "$code" "$(hdr X-Auth-Error-Code)"
    expect_eq "$s: $name -> JSON body code $code" "$code" "$(jget "$T/r.body" code)"
}
# status_is S NAME EXPECTED  -- for the many "and now it is allowed / refused again" steps
status_is() { expect_eq "$1: $2 -> $3" "$3" "$CODE"; }

# ---------------------------------------------------------------------------------------------
# Keyward: users, groups, roles, resources, keys -- all through the CLI
# ---------------------------------------------------------------------------------------------
kw_init
add_users alice bob carol dave erin
must kw group add team
must kw group member add team carol
must kw group add finance
must kw group member add finance dave
must kw resource add pub --path /api/pub/ --anonymous
must kw resource add priv --path /api/priv/ --audience user:alice
must kw resource add team --path /api/team/ --audience user:bob --audience group:team
must kw resource add billing --path /api/billing/
must kw role add biller --privilege access:billing
must kw resource add a --path /api/a/ --audience user:alice
must kw resource add b --path /api/b/ --audience user:alice
must kw resource add ro --path /api/ro/ --method GET --audience user:alice
must kw resource add v4 --path /api/v4/ --anonymous --allow-ip 127.0.0.0/8
must kw resource add v6 --path /api/v6/ --anonymous --allow-ip ::1/128
must kw resource add net --path /api/net/ --audience user:alice --allow-ip 127.0.0.1/32
must kw resource add xff --path /api/xff/ --audience user:alice --allow-ip 192.0.2.0/24
must kw resource add cgi --path /cgi/ --anonymous

for u in alice bob carol dave erin; do mkkey "$u" --user "$u" --name main; done
mkkey alice_a --user alice --name only-a --scope /api/a/
mkkey alice_v4 --user alice --name v4-only --allow-ip 127.0.0.0/8
mkkey alice_v6 --user alice --name v6-only --allow-ip ::1/128
mkkey alice_doc --user alice --name doc-net --allow-ip 198.51.100.0/24
WRONG=${KSEC[alice]:0:21}$(printf 'x%.0s' $(seq 1 38))      # a well-formed id, a wrong secret and checksum

# ---------------------------------------------------------------------------------------------
# Keyward servers, backend, nginx and Apache
# ---------------------------------------------------------------------------------------------
SOCK=$T/keyward.sock
SOCK_TP=$T/keyward-tp.sock
NOTHROTTLE=(--failure-limit 0)
start_keyward kw_plain keyward-plain "unix:$SOCK" --socket-mode 0666 --threads 2 "${NOTHROTTLE[@]}"
start_keyward kw_plain_tcp keyward-plain-tcp "127.0.0.1:$P_KW" --threads 2 "${NOTHROTTLE[@]}"
start_keyward kw_tp keyward-tp "unix:$SOCK_TP" --socket-mode 0666 --threads 2 "${NOTHROTTLE[@]}" --trusted-proxy 127.0.0.1
start_keyward kw_tp_tcp keyward-tp-tcp "127.0.0.1:$P_KW_TP" --threads 2 "${NOTHROTTLE[@]}" --trusted-proxy 127.0.0.1/32
wait_keywards

start_backend

V6OPT=()
[ "$V6" = 1 ] && V6OPT=(--v6)
start_nginx_site nginx "$T/nginx" "$P_NGX" "$SOCK" "${V6OPT[@]}"
start_nginx_site nginx_tp "$T/nginx-tp" "$P_NGX_TP" "$SOCK_TP" "${V6OPT[@]}"
start_apache_site apache "$T/apache" "$P_AP" "$P_KW" --cgi "${V6OPT[@]}"
start_apache_site apache_tp "$T/apache-tp" "$P_AP_TP" "$P_KW_TP" --cgi "${V6OPT[@]}"

declare -A BASE BASE6 BASE_TP BASE_TP6
BASE[nginx]=http://127.0.0.1:$P_NGX;  BASE6[nginx]=http://[::1]:$P_NGX
BASE_TP[nginx]=http://127.0.0.1:$P_NGX_TP; BASE_TP6[nginx]=http://[::1]:$P_NGX_TP
BASE[apache]=http://127.0.0.1:$P_AP;  BASE6[apache]=http://[::1]:$P_AP
BASE_TP[apache]=http://127.0.0.1:$P_AP_TP; BASE_TP6[apache]=http://[::1]:$P_AP_TP
for s in nginx apache; do
    for u in "${BASE[$s]}" "${BASE_TP[$s]}"; do
        wait_http "$u/" 75 || bail "$s did not start on $u: $(tail -n 5 "$T"/logs/$s*.out "$T"/$s*/logs/error.log)"
    done
done

# ---------------------------------------------------------------------------------------------
# The scenarios, each through nginx and through Apache
# ---------------------------------------------------------------------------------------------
bearer() { echo "Authorization: Bearer ${KSEC[$1]}"; }

scenario() {
    local s=$1 b=${BASE[$1]} b6=${BASE6[$1]} tp=${BASE_TP[$1]} tp6=${BASE_TP6[$1]}
    echo "# ---- $s"

    # Anonymous resources
    http "$b/api/pub/x"
    allowed "$s" "anonymous resource without a credential" anonymous anonymous
    http -X POST "$b/api/pub/x"
    status_is "$s" "anonymous resource, POST without a credential" 200
    http "$b/api/priv/x"
    denied "$s" "non-anonymous resource without a credential" 401 missing_credential
    http -H "Authorization: Bearer $WRONG" "$b/api/pub/x"
    denied "$s" "anonymous resource with an invalid credential" 401 invalid_credential
    http -H "$(bearer bob)" "$b/api/pub/x"
    allowed "$s" "anonymous resource with a valid key" bob api-key

    # Audience: user and group
    http -H "$(bearer bob)" "$b/api/team/x"
    allowed "$s" "audience user:bob admits bob" bob api-key
    http -H "$(bearer carol)" "$b/api/team/x"
    allowed "$s" "audience group:team admits member carol" carol api-key
    http -H "$(bearer erin)" "$b/api/team/x"
    denied "$s" "erin, outside the audience" 403 resource_not_allowed
    http -H "$(bearer alice)" "$b/api/priv/x"
    allowed "$s" "audience user:alice admits alice" alice api-key

    # Group membership, on the very next request
    kw group member add team erin >/dev/null
    http -H "$(bearer erin)" "$b/api/team/x"
    status_is "$s" "erin added to group team, next request" 200
    kw group member remove team erin >/dev/null
    http -H "$(bearer erin)" "$b/api/team/x"
    denied "$s" "erin removed from group team, next request" 403 resource_not_allowed

    # A role with access:billing granted to and revoked from a group, then a user
    http -H "$(bearer dave)" "$b/api/billing/x"
    denied "$s" "dave before any grant" 403 resource_not_allowed
    kw role grant biller --group finance >/dev/null
    http -H "$(bearer dave)" "$b/api/billing/x"
    allowed "$s" "role biller granted to group finance (dave's), next request" dave api-key
    http -H "$(bearer erin)" "$b/api/billing/x"
    denied "$s" "erin, not in finance" 403 resource_not_allowed
    kw role revoke biller --group finance >/dev/null
    http -H "$(bearer dave)" "$b/api/billing/x"
    denied "$s" "role biller revoked from group finance, next request" 403 resource_not_allowed
    kw role grant biller --user erin >/dev/null
    http -H "$(bearer erin)" "$b/api/billing/x"
    status_is "$s" "role biller granted to user erin, next request" 200
    kw role revoke biller --user erin >/dev/null
    http -H "$(bearer erin)" "$b/api/billing/x"
    status_is "$s" "role biller revoked from user erin, next request" 403

    # The audience replaced, on the very next request
    kw resource update team --audience user:erin >/dev/null
    http -H "$(bearer erin)" "$b/api/team/x"
    status_is "$s" "audience replaced by user:erin: erin, next request" 200
    http -H "$(bearer bob)" "$b/api/team/x"
    denied "$s" "audience replaced: bob, next request" 403 resource_not_allowed
    kw resource update team --audience user:bob --audience group:team >/dev/null
    http -H "$(bearer bob)" "$b/api/team/x"
    status_is "$s" "audience restored: bob, next request" 200
    http -H "$(bearer erin)" "$b/api/team/x"
    status_is "$s" "audience restored: erin, next request" 403

    # anonymous switched off and on again
    kw resource update pub --no-anonymous >/dev/null
    http "$b/api/pub/x"
    denied "$s" "resource update --no-anonymous, next request without a credential" 401 missing_credential
    kw resource update pub --anonymous >/dev/null
    http "$b/api/pub/x"
    status_is "$s" "resource update --anonymous, next request without a credential" 200

    # Key scopes ∩ the user's access
    http -H "$(bearer alice_a)" "$b/api/a/x"
    allowed "$s" "key scoped to /api/a/ on resource a" alice api-key
    http -H "$(bearer alice_a)" "$b/api/b/x"
    denied "$s" "key scoped to /api/a/ on resource b, which alice may call" 403 path_not_allowed
    http -H "$(bearer alice)" "$b/api/b/x"
    status_is "$s" "alice's unscoped key on resource b" 200

    # Resource methods
    http -H "$(bearer alice)" "$b/api/ro/x"
    status_is "$s" "resource --method GET: GET" 200
    http -I -H "$(bearer alice)" "$b/api/ro/x"
    status_is "$s" "resource --method GET: HEAD" 200
    http -X POST -H "$(bearer alice)" "$b/api/ro/x"
    denied "$s" "resource --method GET: POST" 403 method_not_allowed
    http -X DELETE -H "$(bearer alice)" "$b/api/ro/x"
    denied "$s" "resource --method GET: DELETE" 403 method_not_allowed

    # Resource --allow-ip, IPv4 and IPv6 (anonymous and with a credential)
    http "$b/api/v4/x"
    status_is "$s" "anonymous resource --allow-ip 127.0.0.0/8 from 127.0.0.1" 200
    http "$b/api/v6/x"
    denied "$s" "anonymous resource --allow-ip ::1/128 from 127.0.0.1" 403 ip_not_allowed
    http -H "$(bearer alice)" "$b/api/net/x"
    status_is "$s" "resource --allow-ip 127.0.0.1/32, alice from 127.0.0.1" 200
    if [ "$V6" = 1 ]; then
        http "$b6/api/v6/x"
        allowed "$s" "anonymous resource --allow-ip ::1/128 from ::1" anonymous anonymous
        http "$b6/api/v4/x"
        denied "$s" "anonymous resource --allow-ip 127.0.0.0/8 from ::1" 403 ip_not_allowed
        http -H "$(bearer alice)" "$b6/api/net/x"
        denied "$s" "resource --allow-ip 127.0.0.1/32, alice from ::1" 403 ip_not_allowed
    fi

    # Key --allow-ip, IPv4 and IPv6
    http -H "$(bearer alice_v4)" "$b/api/priv/x"
    status_is "$s" "key --allow-ip 127.0.0.0/8 from 127.0.0.1" 200
    http -H "$(bearer alice_v6)" "$b/api/priv/x"
    denied "$s" "key --allow-ip ::1/128 from 127.0.0.1" 403 ip_not_allowed
    if [ "$V6" = 1 ]; then
        http -H "$(bearer alice_v6)" "$b6/api/priv/x"
        status_is "$s" "key --allow-ip ::1/128 from ::1" 200
        http -H "$(bearer alice_v4)" "$b6/api/priv/x"
        denied "$s" "key --allow-ip 127.0.0.0/8 from ::1" 403 ip_not_allowed
    fi

    # Trusted proxies: the client address from X-Forwarded-For / X-Real-IP only via --trusted-proxy
    http -H "$(bearer alice)" -H "X-Forwarded-For: 192.0.2.7" "$b/api/xff/x"
    denied "$s" "no --trusted-proxy: X-Forwarded-For 192.0.2.7 is ignored" 403 ip_not_allowed
    http -H "$(bearer alice)" -H "X-Real-IP: 192.0.2.7" "$b/api/xff/x"
    denied "$s" "no --trusted-proxy: X-Real-IP 192.0.2.7 is ignored" 403 ip_not_allowed
    http -H "$(bearer alice)" -H "X-Forwarded-For: 192.0.2.7" "$tp/api/xff/x"
    status_is "$s" "--trusted-proxy 127.0.0.1: X-Forwarded-For 192.0.2.7 is the client (resource --allow-ip 192.0.2.0/24)" 200
    http -H "$(bearer alice)" -H "X-Forwarded-For: 192.0.2.7, 127.0.0.1" "$tp/api/xff/x"
    status_is "$s" "--trusted-proxy 127.0.0.1: X-Forwarded-For 192.0.2.7, 127.0.0.1 (a trusted hop skipped)" 200
    http -H "$(bearer alice)" -H "X-Forwarded-For: 192.0.2.7, 203.0.113.9" "$tp/api/xff/x"
    denied "$s" "--trusted-proxy: the rightmost untrusted hop (203.0.113.9) decides" 403 ip_not_allowed
    http -H "$(bearer alice)" -H "X-Real-IP: 192.0.2.7" "$tp/api/xff/x"
    denied "$s" "--trusted-proxy with the default --real-ip-header X-Forwarded-For: X-Real-IP is ignored" 403 ip_not_allowed
    http -H "$(bearer alice)" -H "X-Forwarded-For: 192.0.2.7:5555" "$tp/api/xff/x"
    status_is "$s" "--trusted-proxy: X-Forwarded-For 192.0.2.7:5555 (with a port) is 192.0.2.7" 200
    http -H "$(bearer alice)" -H "X-Forwarded-For: 192.0.2.7, garbage" "$tp/api/xff/x"
    denied "$s" "--trusted-proxy: a garbled X-Forwarded-For is no address (never the proxy's own)" 403 ip_not_allowed
    http -H "$(bearer alice)" "$tp/api/xff/x"
    denied "$s" "--trusted-proxy without X-Forwarded-For: 127.0.0.1 is the client" 403 ip_not_allowed
    http -H "$(bearer alice_doc)" -H "X-Forwarded-For: 198.51.100.20" "$tp/api/priv/x"
    status_is "$s" "--trusted-proxy: key --allow-ip 198.51.100.0/24 with X-Forwarded-For 198.51.100.20" 200
    http -H "$(bearer alice_doc)" -H "X-Forwarded-For: 198.51.100.20" "$b/api/priv/x"
    denied "$s" "no --trusted-proxy: key --allow-ip 198.51.100.0/24 with X-Forwarded-For 198.51.100.20" 403 ip_not_allowed
    if [ "$V6" = 1 ]; then
        http -H "$(bearer alice)" -H "X-Forwarded-For: 192.0.2.7" "$tp6/api/xff/x"
        denied "$s" "--trusted-proxy 127.0.0.1: X-Forwarded-For from ::1 (not a trusted proxy) is ignored" 403 ip_not_allowed
    fi
}

scenario nginx
scenario apache

echo "# ---- server-specific checks"
# Apache: the CGI behind apache/keyward-protect.conf sees the authorizer's variables.
http "${BASE[apache]}/cgi/echo.cgi"
expect_eq "apache: anonymous resource /cgi/ -> 200" 200 "$CODE"
expect_has "apache: CGI env AUTH_METHOD=anonymous" "$(body)" "AUTH_METHOD=anonymous"
expect_has "apache: CGI env REMOTE_USER=anonymous" "$(body)" "REMOTE_USER=anonymous"
kw resource update cgi --no-anonymous >/dev/null
http "${BASE[apache]}/cgi/echo.cgi"
expect_eq "apache: /cgi/ no longer anonymous -> 401" 401 "$CODE"
# nginx: an anonymous allow carries no credential id, and the user name anonymous.
http "${BASE[nginx]}/api/pub/x"
expect_eq "nginx: anonymous allow -> X-Auth-Credential empty" "" "$(jget "$T/r.body" headers.x-auth-credential)"
expect_eq "nginx: anonymous allow -> X-Auth-Scopes is the resource" "/api/pub/" "$(jget "$T/r.body" headers.x-auth-scopes)"
# The user name `anonymous` is reserved, so X-Auth-User: anonymous never names a real user.
kw user add anonymous >/dev/null
expect_eq "keyward user add anonymous is refused (exit 1)" 1 "$?"

# ---------------------------------------------------------------------------------------------
# Consumer approval: one request and one approval (CLI, sendmail captured), the issued key then
# checked through nginx and through Apache. The secret comes inline in the mail
# (mail_secret_inline = true): the one-time reveal link needs the responder route, which these
# servers do not have; 04-approval.sh tests the link through nginx.
# ---------------------------------------------------------------------------------------------
echo "# ---- approval"
make_sendmail
mail_config "$T/mail.conf" "mail_secret_inline = true"

must kw user add owen --email owen@example.test
must kw user add rita --email rita@example.test
must kw resource add orders --path /api/orders/ --owner owen
mkkey rita --user rita --name main
mkkey rita_orders --user rita --name orders-scope --scope /api/orders/
for s in nginx apache; do
    http -H "$(bearer rita)" "${BASE[$s]}/api/orders/x"
    denied "$s" "before approval: rita's unscoped key on resource orders" 403 resource_not_allowed
    http -H "$(bearer rita_orders)" "${BASE[$s]}/api/orders/x"
    denied "$s" "before approval: rita's key scoped to /api/orders/ on resource orders" 403 resource_not_allowed
done

kw --config "$T/mail.conf" access request --user rita --resource orders --json >"$T/request.json"
expect_eq "access request exits 0" 0 "$?"
expect_eq "the request mails the owner: one mail, to owen" "1 owen@example.test" "$(mails) $(mail_header 1 To)"
http -H "$(bearer rita)" "${BASE[nginx]}/api/orders/x"
denied nginx "a pending request grants nothing" 403 resource_not_allowed
kw --config "$T/mail.conf" access approve "$(jget "$T/request.json" request.id)" --expires 1d --json >"$T/approve.json"
expect_eq "access approve --expires 1d exits 0" 0 "$?"
KID[rita_ok]=$(jget "$T/approve.json" request.key_id)
expect_eq "exactly two mails for the approval" 3 "$(mails)"
expect_eq "mail 2 goes to the requester" rita@example.test "$(mail_header 2 To)"
expect_eq "mail 3 goes to the owner" owen@example.test "$(mail_header 3 To)"
expect_eq "sendmail runs with -t -i" "-t -i" "$(mail_args 2)"
KSEC[rita_ok]=$(grep -oE 'kwk_[0-9A-Za-z]{16}_[0-9A-Za-z]{38}' "$T/mail/2.eml" | head -n 1)
expect_eq "the requester's mail carries the secret of the issued key" "${KID[rita_ok]}" "${KSEC[rita_ok]:0:20}"
expect_has "the requester's mail names the key id" "$(cat "$T/mail/2.eml")" "API key   ${KID[rita_ok]}"
expect_has "the requester's mail names the expiry" "$(cat "$T/mail/2.eml")" \
    "expires   $(date -u -d @"$(jget "$T/approve.json" request.expires_at)" +%Y-%m-%dT%H:%M:%SZ)"
expect_has "the owner's confirmation names the key id" "$(cat "$T/mail/3.eml")" "${KID[rita_ok]}"
expect_lacks "the owner's confirmation carries no secret" "$(cat "$T/mail/3.eml")" "${KSEC[rita_ok]:21}"

for s in nginx apache; do
    # On Apache X-Auth-User is REMOTE_USER (apache/example-site.conf), as in every check above.
    http -H "$(bearer rita_ok)" "${BASE[$s]}/api/orders/x"
    allowed "$s" "the approved key from the mail on resource orders" rita api-key
    expect_eq "$s: the approved key -> backend sees X-Auth-Credential ${KID[rita_ok]}" "${KID[rita_ok]}" \
        "$(jget "$T/r.body" headers.x-auth-credential)"
    http -H "$(bearer rita_ok)" "${BASE[$s]}/api/priv/x"
    denied "$s" "the approved key on another resource (priv)" 403 path_not_allowed
    http -H "$(bearer rita)" "${BASE[$s]}/api/priv/x"
    denied "$s" "rita's unscoped key on resource priv, outside its audience" 403 resource_not_allowed
done

# ---------------------------------------------------------------------------------------------
# keyward explain
# ---------------------------------------------------------------------------------------------
echo "# ---- explain"
out=$(kw explain --credential "${KID[bob]}" --path /api/team/x --ip 127.0.0.1)
rc=$?
expect_eq "explain allowed: exit 0" 0 "$rc"
expect_has "explain allowed: names the resource" "$out" "resource team"
expect_has "explain allowed: names the credential" "$out" "credential ${KID[bob]}"
expect_has "explain allowed: names the grant" "$out" "audience user:bob of resource team"
expect_has "explain allowed: the decision" "$out" "decision: allow (200)"
out=$(kw explain --credential "${KID[alice_a]}" --path /api/a/x --method GET --ip 127.0.0.1)
expect_has "explain allowed: names the key's scope" "$out" "scope /api/a/ allows GET /api/a/x"
kw explain --credential "${KID[erin]}" --path /api/team/x --ip 127.0.0.1 --json >"$T/explain-deny.json"
rc=$?
expect_eq "explain denied: exit 1" 1 "$rc"
expect_eq "explain denied --json: allowed" False "$(jget "$T/explain-deny.json" allowed)"
expect_eq "explain denied --json: status" 403 "$(jget "$T/explain-deny.json" status)"
expect_eq "explain denied --json: code" resource_not_allowed "$(jget "$T/explain-deny.json" code)"
expect_has "explain denied --json: steps name the resource" "$(jget "$T/explain-deny.json" steps)" "resource team"
expect_has "explain denied --json: steps name the audience" "$(jget "$T/explain-deny.json" steps)" "not in its audience"
out=$(kw explain --credential "${KID[alice_a]}" --path /api/b/x --ip 127.0.0.1)
expect_eq "explain key scope outside: exit 1" 1 "$?"
expect_has "explain key scope outside: names the scope" "$out" "no scope of /api/a/ covers /api/b/x"
expect_has "explain key scope outside: the decision" "$out" "decision: deny (403 path_not_allowed)"
out=$(kw explain --path /api/pub/x)
expect_eq "explain anonymous: exit 0" 0 "$?"
expect_has "explain anonymous: allowed anonymously" "$out" "allowed anonymously"
kw explain --credential "${KID[alice]}" --path /api/xff/x --ip 192.0.2.7 --json >"$T/explain-ip.json"
expect_eq "explain --ip inside the resource's network: allowed" True "$(jget "$T/explain-ip.json" allowed)"

# ---------------------------------------------------------------------------------------------
if [ "$V6" != 1 ]; then
    notok "IPv6 checks" "an IPv6 loopback (::1) for nginx and Apache to listen on" "none: the IPv6 checks did not run"
fi
if [ "$FAIL" -gt 0 ]; then
    show_log "$T/logs/keyward-plain.log"
    show_log "$T/logs/keyward-plain-tcp.log"
    show_log "$T/nginx/logs/error.log"
    show_log "$T/apache/logs/error.log"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
