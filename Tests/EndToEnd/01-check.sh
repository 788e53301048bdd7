#!/usr/bin/env bash
# Keyward end-to-end suite: real nginx, Apache httpd and lighttpd in front of real `keyward serve`
# processes, using the repository's own configuration files unchanged:
#   nginx/keyward.conf, nginx/keyward-protect.conf   included by the generated nginx.conf
#   nginx/example-site.conf                           checked with `nginx -t`
#   apache/keyward.conf, apache/example-site.conf,
#   apache/keyward-protect.conf                       included by the generated httpd.conf
#   lighttpd/keyward.conf                             included by the generated lighttpd.conf
#   systemd/keyward.{socket,service}                  checked with `systemd-analyze verify`
#
# Usage:  Tests/EndToEnd/01-check.sh
# Env:    KEYWARD_BIN       keyward binary (default: <repo>/.build/debug/keyward)
#         KEYWARD_E2E_KEEP  1 = keep the temporary directory (it is always kept after a failure)
#         KEYWARD_E2E_VERBOSE 1 = show web server / keyward log tails after a failure
#         KEYWARD_E2E_TRACE 1 = write every response (headers + start of body) to logs/trace.txt
#
# Output: one line per check, `ok - <name>` or `not ok - <name> (expected X got Y)`, then
# `N passed, N failed`. Exit 1 when any check failed or the suite could not run.
# Needs root (nginx/Apache/lighttpd start as root and drop to www-data), loopback only.

set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------------------------------------
# Prerequisites: fail loudly, never install anything here (the Makefile does that).
# ---------------------------------------------------------------------------------------------
require_tools "apt-get install nginx apache2 lighttpd curl python3; the Makefile does this" \
    nginx apache2 lighttpd curl python3 timeout runuser pgrep
require_root "nginx, Apache and lighttpd start as root and drop to www-data"
for mod in authnz_fcgi authn_core authz_core authz_user setenvif headers proxy proxy_http alias cgid mime env mpm_event; do
    [ -f "/usr/lib/apache2/modules/mod_$mod.so" ] || bail "Apache module mod_$mod.so missing (apt-get install apache2)"
done

# ---------------------------------------------------------------------------------------------
# Temporary directory (removed on exit unless a check failed or KEYWARD_E2E_KEEP=1)
# ---------------------------------------------------------------------------------------------
make_tmpdir keyward-e2e

# ---------------------------------------------------------------------------------------------
# HTTP helpers beside lib.sh's http and hdr
# ---------------------------------------------------------------------------------------------
hdr_count() {
    awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" '
        { sub(/\r$/, ""); i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) c++ }
        END { print c + 0 }' "$T/r.hdr"
}
body() { cat "$T/r.body"; }

# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------
# (start, wait_unix, wait_tcp and show_log are in lib.sh)
child_of() { # the process that `timeout` runs (found by its parent pid)
    pgrep -P "$1" | head -n 1
}

# Free loopback ports in 18100-18999.
read -r P_NGX P_NGX2 P_AP P_AP2 P_LT P_BACKEND P_KW_TCP P_KW_THR_AP <<<"$(free_ports 8)"
[ -n "${P_KW_THR_AP:-}" ] || bail "could not pick free ports"

# ---------------------------------------------------------------------------------------------
# Static checks of the shipped configuration (no processes needed)
# ---------------------------------------------------------------------------------------------
echo "# static configuration checks"
# nginx/example-site.conf, unchanged: its includes are relative to the conf dir, so link the
# repo's nginx/ directory in as keyward/ beside a minimal main config.
mkdir -p "$T/nginx-example/logs"
ln -s "$REPO/nginx" "$T/nginx-example/keyward"
cat >"$T/nginx-example/nginx.conf" <<EOF
pid $T/nginx-example/nginx.pid;
error_log $T/nginx-example/logs/error.log;
events { }
http {
    access_log off;
    include $REPO/nginx/example-site.conf;
}
EOF
if out=$(nginx_t "$T/nginx-example"); then
    ok "nginx -t accepts nginx/example-site.conf"
else
    notok "nginx -t accepts nginx/example-site.conf" "syntax ok" "$out"
fi

# systemd units: INI shape, binary, socket settings, then systemd-analyze verify in a private root.
for u in keyward.socket keyward.service; do
    f=$REPO/systemd/$u
    if python3 - "$f" <<'EOF'
import configparser, sys
p = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
p.optionxform = str
p.read_string(open(sys.argv[1]).read())
assert p.sections(), "no sections"
EOF
    then ok "systemd/$u parses as INI"; else notok "systemd/$u parses as INI" "INI" "parse error"; fi
done
svc=$(cat "$REPO/systemd/keyward.service")
sock=$(cat "$REPO/systemd/keyward.socket")
expect_has "keyward.service runs /usr/local/bin/keyward serve" "$svc" "ExecStart=/usr/local/bin/keyward serve --config /etc/keyward/keyward.conf"
expect_has "keyward.service takes the socket on stdin" "$svc" "StandardInput=socket"
expect_has "keyward.service runs as user keyward" "$svc" "User=keyward"
expect_has "keyward.service is hardened (NoNewPrivileges)" "$svc" "NoNewPrivileges=yes"
expect_has "keyward.service is hardened (ProtectSystem)" "$svc" "ProtectSystem=strict"
expect_has "keyward.socket listens on /run/keyward/keyward.sock" "$sock" "ListenStream=/run/keyward/keyward.sock"
expect_has "keyward.socket mode 0660" "$sock" "SocketMode=0660"
expect_has "keyward.socket group www-data" "$sock" "SocketGroup=www-data"
if command -v systemd-analyze >/dev/null 2>&1 && [ -d /lib/systemd/system ]; then
    R=$T/systemd-root
    mkdir -p "$R/usr/local/bin" "$R/etc/systemd/system" "$R/usr/lib/systemd"
    cp -a /lib/systemd/system "$R/usr/lib/systemd/"
    printf '#!/bin/sh\nexit 0\n' >"$R/usr/local/bin/keyward"
    chmod 755 "$R/usr/local/bin/keyward"
    cp "$REPO/systemd/keyward.socket" "$REPO/systemd/keyward.service" "$R/etc/systemd/system/"
    out=$(systemd-analyze verify --root="$R" keyward.socket keyward.service 2>&1)
    rc=$?
    if [ $rc = 0 ] && [ -z "$out" ]; then
        ok "systemd-analyze verify: no errors or warnings"
    else
        notok "systemd-analyze verify: no errors or warnings" "rc 0 and no output" "rc $rc: $out"
    fi
else
    notok "systemd-analyze verify" "systemd-analyze and /lib/systemd/system (apt-get install systemd; make deps does)" "not installed"
fi

# ---------------------------------------------------------------------------------------------
# Keyward: database, users, keys
# ---------------------------------------------------------------------------------------------
kw_init
[ -f "$DB.key" ] && ok "keyward init creates the database and $DB.key" || notok "keyward init creates the database and key file" "$DB.key" "missing"

add_users alice bob lc_nginx lc_apache lc_lighttpd

mkkey main --user alice --name main
mkkey exp --user alice --name short --expires 1s
EXP_CREATED=$SECONDS
mkkey scoped --user alice --name scoped --scope /api/limited/
mkkey ro --user bob --name readonly --scope GET:/api/ro/
mkkey ipno --user alice --name ten-net --allow-ip 10.0.0.0/8
mkkey ipyes --user alice --name loopback --allow-ip 127.0.0.0/8
mkkey regen --user bob --name regen
for s in nginx apache lighttpd; do mkkey "lc_$s" --user "lc_$s" --name lifecycle; done

# Shapes
if [[ ${KSEC[main]} =~ ^kwk_[0-9A-Za-z]{16}_[0-9A-Za-z]{38}$ ]]; then ok "key secret has the kwk_<16>_<32+6> shape"; else notok "key secret shape" "kwk_<16>_<38> (59 chars)" "${#KSEC[main]} chars"; fi
expect_eq "key id is the secret's kwk_<public id> prefix" "${KSEC[main]:0:20}" "${KID[main]}"

# Regenerate: same id, new secret; the old secret becomes a well-formed wrong secret.
OLD_REGEN=${KSEC[regen]}
out=$(kw key regenerate "${KID[regen]}" --json) || bail "key regenerate failed: $(tail -n 3 "$CLI_LOG")"
printf '%s' "$out" >"$T/key-regen2.json"
KSEC[regen]=$(jget "$T/key-regen2.json" secret)
SECRETS+=("${KSEC[regen]}")
expect_eq "key regenerate keeps the id" "${KID[regen]}" "${KSEC[regen]:0:20}"
if [ -n "${KSEC[regen]}" ] && [ "${KSEC[regen]}" != "$OLD_REGEN" ]; then ok "key regenerate issues a new secret"; else notok "key regenerate issues a new secret" "a different secret" "same or empty"; fi

# Hand-made credentials with valid checksums (CRC32 of the body, 6 base62 symbols).
read -r UNKNOWN_KEY WRONG_SECRET BAD_CHECKSUM <<<"$(python3 - "${KSEC[main]}" <<'EOF'
import random, sys, zlib
A = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
def b62(v, w):
    s = ""
    while True:
        s = A[v % 62] + s
        v //= 62
        if v == 0:
            break
    return s.rjust(w, "0")
def mk(pub, sec):
    body = "kwk_%s_%s" % (pub, sec)
    return body + b62(zlib.crc32(body.encode()), 6)
rnd = lambda n: "".join(random.choice(A) for _ in range(n))
main = sys.argv[1]
unknown = mk(rnd(16), rnd(32))
wrong = mk(main[4:20], rnd(32))
last = main[-1]
bad = main[:-1] + ("0" if last != "0" else "1")
print(unknown, wrong, bad)
EOF
)"
[ -n "$BAD_CHECKSUM" ] || bail "could not make test credentials"

# ---------------------------------------------------------------------------------------------
# Keyward servers
# ---------------------------------------------------------------------------------------------
SOCK=$T/keyward.sock
SOCK_THR_NGX=$T/keyward-throttle-nginx.sock
SOCK_THR_LT=$T/keyward-throttle-lighttpd.sock
NOTHROTTLE=(--failure-limit 0)                 # 0 turns the failure throttle off
THROTTLE=(--failure-limit 3 --failure-window 60s)
start_keyward kw_unix keyward-unix "unix:$SOCK" --socket-mode 0666 --threads 4 "${NOTHROTTLE[@]}"
start_keyward kw_tcp keyward-tcp "127.0.0.1:$P_KW_TCP" --threads 4 "${NOTHROTTLE[@]}"
start_keyward kw_thr_ngx keyward-throttle-nginx "unix:$SOCK_THR_NGX" --socket-mode 0666 --threads 2 "${THROTTLE[@]}"
start_keyward kw_thr_lt keyward-throttle-lighttpd "unix:$SOCK_THR_LT" --socket-mode 0666 --threads 2 "${THROTTLE[@]}"
start_keyward kw_thr_ap keyward-throttle-apache "127.0.0.1:$P_KW_THR_AP" --threads 2 "${THROTTLE[@]}"
SOCK_VICTIM=$T/keyward-victim.sock        # for FastCGI input that may take a server down
start_keyward kw_victim keyward-victim "unix:$SOCK_VICTIM" --socket-mode 0600 --threads 2 "${NOTHROTTLE[@]}"
wait_keywards
mode=$(stat -c %a "$SOCK")
expect_eq "keyward serve --socket-mode 0666 sets the socket mode" "666" "$mode"

# ---------------------------------------------------------------------------------------------
# Backend and web servers
# ---------------------------------------------------------------------------------------------
start_backend

# nginx: nginx/example-site.conf itself, a main instance (all scenarios) and a second one whose
# `upstream keyward` is the throttling Keyward (the 429 path through @keyward_403).
start_nginx_site nginx "$T/nginx" "$P_NGX" "$SOCK" --workers 2
start_nginx_site nginx_throttle "$T/nginx-throttle" "$P_NGX2" "$SOCK_THR_NGX" --workers 2

# Apache: includes apache/keyward.conf, apache/example-site.conf (/api/ -> backend) and
# apache/keyward-protect.conf (a CGI location), all unchanged; a second Apache, the same against
# the throttling Keyward (the 429s).
A=$T/apache
mkdir -p "$A/kwcgi"
# CGI mode of the keyward binary itself (nice-to-have): only if www-data can run it.
KW_CGI=0
runuser -u www-data -- "$KEYWARD_BIN" --help </dev/null >/dev/null 2>&1
case $? in
126 | 127) ;;                                   # not executable, or libraries unreachable, as www-data
*) ln -s "$KEYWARD_BIN" "$A/kwcgi/keyward"
   # As a CGI program Keyward runs as www-data, so it gets a database www-data owns.
   mkdir -p "$A/kwcgi-db" && chown www-data:www-data "$A/kwcgi-db"
   runuser -u www-data -- "$KEYWARD_BIN" --db "$A/kwcgi-db/keyward.db" init </dev/null >/dev/null 2>>"$CLI_LOG" && KW_CGI=1 ;;
esac
cat >"$A/more.conf" <<EOF
LogFormat "%h user=%u credential=%{AUTH_CREDENTIAL}e \"%r\" %>s" e2e
CustomLog $A/logs/access.log e2e

# The keyward binary run as a plain CGI program.
ScriptAlias /kwcgi/ "$A/kwcgi/"
<Location "/kwcgi/">
    SetEnv KEYWARD_DB $A/kwcgi-db/keyward.db
</Location>
EOF
start_apache_site apache "$A" "$P_AP" "$P_KW_TCP" --threads 50 --cgi --module env --after "$A/more.conf"
start_apache_site apache_throttle "$T/apache-throttle" "$P_AP2" "$P_KW_THR_AP"

# lighttpd: includes lighttpd/keyward-server.conf and lighttpd/keyward.conf twice (main and
# throttling Keyward), unchanged.
L=$T/lighttpd
mkdir -p "$L/www/api/limited" "$L/www/api/ro" "$L/www/throttled"
for d in api api/limited api/ro throttled; do
    cp "$HERE/echo.cgi" "$L/www/$d/echo.cgi"
    chmod 755 "$L/www/$d/echo.cgi"
done
cat >"$L/cgi.conf" <<EOF
server.modules      += ( "mod_cgi", "mod_accesslog" )
accesslog.filename   = "$L/logs/access.log"
accesslog.format     = "%h user=%u credential=%{AUTH_CREDENTIAL}e \"%r\" %>s"
cgi.assign           = ( ".cgi" => "" )
EOF
start_lighttpd_site lighttpd "$L" "$P_LT" --protect "$SOCK" /api/ --protect "$SOCK_THR_LT" /throttled/ --after "$L/cgi.conf"

NGX=http://127.0.0.1:$P_NGX
NGX2=http://127.0.0.1:$P_NGX2
AP=http://127.0.0.1:$P_AP
AP2=http://127.0.0.1:$P_AP2
LT=http://127.0.0.1:$P_LT

# ---------------------------------------------------------------------------------------------
# Scenario helpers
# ---------------------------------------------------------------------------------------------
# identity S KEYLABEL USER CONTEXT  -- after a 200: what reached the application
identity() {
    local s=$1 label=$2 user=$3 c=$4
    case $s in
    lighttpd)
        expect_has "$s: $c -> CGI sees REMOTE_USER" "$(body)" "REMOTE_USER=$user"
        expect_has "$s: $c -> CGI sees AUTH_CREDENTIAL" "$(body)" "AUTH_CREDENTIAL=${KID[$label]}"
        expect_has "$s: $c -> CGI sees AUTH_METHOD" "$(body)" "AUTH_METHOD=api-key"
        ;;
    *)
        expect_eq "$s: $c -> backend sees X-Auth-User" "$user" "$(jget "$T/r.body" headers.x-auth-user)"
        expect_eq "$s: $c -> backend sees X-Auth-Credential" "${KID[$label]}" "$(jget "$T/r.body" headers.x-auth-credential)"
        expect_eq "$s: $c -> backend sees X-Auth-Method" "api-key" "$(jget "$T/r.body" headers.x-auth-method)"
        expect_eq "$s: $c -> backend does not see the key (Authorization)" "" "$(jget "$T/r.body" headers.authorization)"
        expect_eq "$s: $c -> backend does not see the key (X-API-Key)" "" "$(jget "$T/r.body" headers.x-api-key)"
        ;;
    esac
}

# deny S NAME STATUS CODE MESSAGE [OAUTH_ERROR]  -- checks the response in $T/r.*
deny() {
    local s=$1 name=$2 status=$3 code=$4 msg=$5 oauth=${6:-}
    expect_eq "$s: $name -> $status" "$status" "$CODE"
    [ "$CODE" = "$status" ] || { show_log "$T/logs/keyward-unix.log"; return; }
    expect_eq "$s: $name -> X-Auth-Error-Code $code" "$code" "$(hdr X-Auth-Error-Code)"
    if [ "$code" = missing_credential ]; then
        # RFC 6750 §3.1: no credential, no error code, in the body as in the challenge.
        expect_eq "$s: $name -> no error member in the body" "" "$(jget "$T/r.body" error)"
        expect_eq "$s: $name -> the body's code" "missing_credential" "$(jget "$T/r.body" code)"
    fi
    if [ -n "$msg" ]; then
        expect_has "$s: $name -> message in body" "$(body)" "$msg"
        expect_eq "$s: $name -> X-Auth-Error header" "$msg" "$(hdr X-Auth-Error)"
    else
        if [ -n "$(hdr X-Auth-Error)" ]; then ok "$s: $name -> X-Auth-Error header present"; else notok "$s: $name -> X-Auth-Error header present" "a message" "none"; fi
        if [ -n "$(body)" ]; then ok "$s: $name -> body present"; else notok "$s: $name -> body present" "a body" "empty"; fi
    fi
    if [ "$status" = 401 ]; then
        local wa
        wa=$(hdr WWW-Authenticate)
        case $wa in 'Bearer realm="keyward"'*) ok "$s: $name -> WWW-Authenticate Bearer realm=\"keyward\"" ;;
        *) notok "$s: $name -> WWW-Authenticate Bearer realm=\"keyward\"" 'Bearer realm="keyward"...' "$wa" ;; esac
        expect_eq "$s: $name -> exactly one WWW-Authenticate" 1 "$(hdr_count WWW-Authenticate)"
        if [ -n "$oauth" ]; then
            expect_has "$s: $name -> WWW-Authenticate error=\"$oauth\"" "$wa" "error=\"$oauth\""
        else
            expect_lacks "$s: $name -> WWW-Authenticate has no error=" "$wa" "error="
        fi
    fi
    if [ "$status" = 403 ] && [ -n "$oauth" ] && [ "$s" != nginx ]; then
        # nginx copies WWW-Authenticate only from a 401 check; the JSON body carries the error there.
        expect_has "$s: $name -> WWW-Authenticate error=\"$oauth\"" "$(hdr WWW-Authenticate)" "error=\"$oauth\""
    fi
    if [ "$s" = nginx ] && [ -n "$oauth" ]; then
        expect_eq "$s: $name -> JSON body error" "$oauth" "$(jget "$T/r.body" error)"
        expect_eq "$s: $name -> JSON body code" "$code" "$(jget "$T/r.body" code)"
    fi
}

# refused NAME  -- 401 from Keyward, or 400 from the server itself before Keyward was asked
refused() {
    if [ "$CODE" = 401 ]; then ok "$1 -> 401"
    elif [ "$CODE" = 400 ] && [ -z "$(hdr X-Auth-Error-Code)" ]; then ok "$1 -> refused by the server itself (400)"
    else notok "$1 -> 401" "401 (or 400 from the server itself)" "$CODE"; fi
}

# no_leak S  -- an allowed response carries none of Keyward's headers to the client
no_leak() {
    local h
    h=$(tr -d '\r' <"$T/r.hdr" | grep -i -E '^(variable-|x-auth-)' | head -n 3)
    expect_eq "$1: allowed response leaks no Variable-*/X-Auth-* header to the client" "" "$h"
}

# suite S BASE OK IN OUT TRAV1 TRAV2 RO
suite() {
    local s=$1 base=$2 p_ok=$3 p_in=$4 p_out=$5 p_trav1=$6 p_trav2=$7 p_ro=$8
    local K=${KSEC[main]}
    echo "# ---- $s ($base)"

    # valid key, all the ways it can be presented
    http -H "Authorization: Bearer $K" "$base$p_ok"
    expect_eq "$s: Authorization: Bearer <key> -> 200" 200 "$CODE"
    [ "$CODE" = 200 ] && identity "$s" main alice "Bearer"
    [ "$CODE" = 200 ] && no_leak "$s"
    http -H "Authorization: $K" "$base$p_ok"
    expect_eq "$s: Authorization: <key> (raw) -> 200" 200 "$CODE"
    http -H "X-API-Key: $K" "$base$p_ok"
    expect_eq "$s: X-API-Key: <key> -> 200" 200 "$CODE"
    [ "$CODE" = 200 ] && identity "$s" main alice "X-API-Key"
    http "$base$p_ok?APIKey=$K"
    expect_eq "$s: ?APIKey=<key> -> 200" 200 "$CODE"
    http "$base$p_ok?x=1&api_key=$K"
    expect_eq "$s: ?api_key=<key> -> 200" 200 "$CODE"
    http -H "Authorization: bearer $K" "$base$p_ok"
    expect_eq "$s: lower-case 'bearer' scheme -> 200" 200 "$CODE"

    # no credential
    http "$base$p_ok"
    deny "$s" "no credential" 401 missing_credential "A required header is missing in the request."
    expect_has "$s: a denial is labelled application/json" "$(hdr Content-Type)" "application/json"

    # invalid credentials
    http -H "Authorization: Bearer $WRONG_SECRET" "$base$p_ok"
    deny "$s" "well-formed key, wrong secret" 401 invalid_credential "The request is authenticated as invalid." invalid_token
    http -H "Authorization: Bearer $OLD_REGEN" "$base$p_ok"
    deny "$s" "secret replaced by key regenerate" 401 invalid_credential "The request is authenticated as invalid." invalid_token
    http -H "Authorization: Bearer $UNKNOWN_KEY" "$base$p_ok"
    deny "$s" "well-formed key, unknown id" 401 invalid_credential "The request is authenticated as invalid." invalid_token
    http -H "Authorization: Bearer $BAD_CHECKSUM" "$base$p_ok"
    deny "$s" "key with a wrong checksum" 401 invalid_credential "The request is authenticated as invalid." invalid_token
    http -H "Authorization: Bearer not-a-key" "$base$p_ok"
    deny "$s" "garbage bearer token" 401 invalid_credential "The request is authenticated as invalid." invalid_token
    http -H "X-API-Key: garbage" "$base$p_ok"
    deny "$s" "garbage X-API-Key" 401 invalid_credential "The request is authenticated as invalid." invalid_token

    # expired
    local wait=$((EXP_CREATED + 2 - SECONDS))
    [ $wait -gt 0 ] && sleep "$wait"
    http -H "Authorization: Bearer ${KSEC[exp]}" "$base$p_ok"
    deny "$s" "expired key" 401 credential_expired "The API key has expired." invalid_token

    # path scope
    http -H "Authorization: Bearer ${KSEC[scoped]}" "$base$p_in"
    expect_eq "$s: scoped key inside its scope -> 200" 200 "$CODE"
    [ "$CODE" = 200 ] && identity "$s" scoped alice "scoped key"
    http -H "Authorization: Bearer ${KSEC[scoped]}" "$base$p_out"
    deny "$s" "scoped key outside its scope" 403 path_not_allowed "" insufficient_scope
    local t
    for t in "$p_trav1" "$p_trav2"; do
        http --path-as-is -H "Authorization: Bearer ${KSEC[scoped]}" "$base$t"
        case $CODE in
        200) notok "$s: traversal $t with the scoped key is refused" "not 200" "200" ;;
        403) ok "$s: traversal $t with the scoped key is refused (403)"
             local c
             c=$(hdr X-Auth-Error-Code)
             case $c in path_not_allowed | path_rejected) ok "$s: traversal $t -> X-Auth-Error-Code $c" ;;
             *) notok "$s: traversal $t -> X-Auth-Error-Code" "path_not_allowed|path_rejected" "$c" ;; esac ;;
        400 | 404) if [ -z "$(hdr X-Auth-Error-Code)" ]; then ok "$s: traversal $t refused by the server itself ($CODE)"
                   else ok "$s: traversal $t refused ($CODE, $(hdr X-Auth-Error-Code))"; fi ;;
        *) notok "$s: traversal $t with the scoped key is refused" "403 (or 400/404 from the server)" "$CODE" ;;
        esac
    done
    http -H "Authorization: Bearer ${KSEC[scoped]}" -H "X-Original-URI: $p_in" "$base$p_out"
    deny "$s" "client-sent X-Original-URI inside the scope" 403 path_not_allowed "" insufficient_scope

    # method scope
    http -H "Authorization: Bearer ${KSEC[ro]}" "$base$p_ro"
    expect_eq "$s: GET:/api/ro/ key, GET -> 200" 200 "$CODE"
    [ "$CODE" = 200 ] && identity "$s" ro bob "GET:/api/ro/ key"
    http -X POST --data 'x=1' -H "Authorization: Bearer ${KSEC[ro]}" "$base$p_ro"
    deny "$s" "GET:/api/ro/ key, POST" 403 method_not_allowed "" insufficient_scope
    http -H "Authorization: Bearer ${KSEC[ro]}" "$base$p_ok"
    deny "$s" "GET:/api/ro/ key, GET outside /api/ro/" 403 path_not_allowed "" insufficient_scope

    # address restriction
    http -H "Authorization: Bearer ${KSEC[ipno]}" "$base$p_ok"
    deny "$s" "--allow-ip 10.0.0.0/8 key from 127.0.0.1" 403 ip_not_allowed "" insufficient_scope
    http -H "Authorization: Bearer ${KSEC[ipyes]}" "$base$p_ok"
    expect_eq "$s: --allow-ip 127.0.0.0/8 key from 127.0.0.1 -> 200" 200 "$CODE"

    # lifecycle: every change takes effect on the very next request
    local lc=lc_$s LK=${KSEC[lc_$s]}
    http -H "Authorization: Bearer $LK" "$base$p_ok"
    expect_eq "$s: lifecycle key -> 200" 200 "$CODE"
    kw key disable "${KID[$lc]}" >/dev/null || notok "$s: key disable exits 0" 0 "$?"
    http -H "Authorization: Bearer $LK" "$base$p_ok"
    deny "$s" "right after key disable" 401 credential_disabled "The request is authenticated as invalid." invalid_token
    kw key enable "${KID[$lc]}" >/dev/null || notok "$s: key enable exits 0" 0 "$?"
    http -H "Authorization: Bearer $LK" "$base$p_ok"
    expect_eq "$s: right after key enable -> 200" 200 "$CODE"
    kw user disable "$lc" >/dev/null || notok "$s: user disable exits 0" 0 "$?"
    http -H "Authorization: Bearer $LK" "$base$p_ok"
    deny "$s" "right after user disable" 401 user_disabled "The request is authenticated as invalid." invalid_token
    kw user enable "$lc" >/dev/null || notok "$s: user enable exits 0" 0 "$?"
    http -H "Authorization: Bearer $LK" "$base$p_ok"
    expect_eq "$s: right after user enable -> 200" 200 "$CODE"
    kw key delete "${KID[$lc]}" >/dev/null || notok "$s: key delete exits 0" 0 "$?"
    http -H "Authorization: Bearer $LK" "$base$p_ok"
    deny "$s" "right after key delete" 401 invalid_credential "The request is authenticated as invalid." invalid_token

    # hostile input
    local big
    big=$(head -c 6000 /dev/zero | tr '\0' 'A')
    http -H "Authorization: Bearer kwk_$big" "$base$p_ok"
    expect_eq "$s: 6000-byte bearer token -> 401" 401 "$CODE"
    http -H "X-API-Key: kwk_$big" "$base$p_ok"
    expect_eq "$s: 6000-byte X-API-Key -> 401" 401 "$CODE"
    http -H "$(printf 'Authorization: Bearer kwk_\xff\xfe\xc3\x28_%s' "${K:21}")" "$base$p_ok"
    expect_eq "$s: non-UTF-8 bytes in Authorization -> 401" 401 "$CODE"
    http -H "$(printf 'X-API-Key: \xc0\xaf\xed\xa0\x80%s' "$K")" "$base$p_ok"
    expect_eq "$s: non-UTF-8 bytes in X-API-Key -> 401" 401 "$CODE"
    http "$base$p_ok?APIKey=%ff%fe$K"
    refused "$s: percent-encoded non-UTF-8 in ?APIKey="
    http "$base$p_ok?APIKey=%00$K"
    refused "$s: %00 in ?APIKey="
    http -H "Authorization: Bearer $K" "$base$p_ok"
    expect_eq "$s: still answering after hostile input -> 200" 200 "$CODE"
}

# ---------------------------------------------------------------------------------------------
# The three servers
# ---------------------------------------------------------------------------------------------
suite nginx "$NGX" /api/x /api/limited/x /api/secret /api/limited/../secret /api/limited/%2e%2e/secret /api/ro/x
suite apache "$AP" /api/x /api/limited/x /api/secret /api/limited/../secret /api/limited/%2e%2e/secret /api/ro/x
suite lighttpd "$LT" /api/echo.cgi /api/limited/echo.cgi /api/echo.cgi /api/limited/../echo.cgi /api/limited/%2e%2e/echo.cgi /api/ro/echo.cgi

echo "# ---- server-specific checks"
# nginx: a protected location with no credential never reaches the backend
before=$(wc -l <"$T/logs/backend.log")
http "$NGX/api/x"
after=$(wc -l <"$T/logs/backend.log")
expect_eq "nginx: a refused request never reaches the backend" "$before" "$after"
http "$NGX/api/x"
expect_eq "nginx: 401 body is JSON" "missing_credential" "$(jget "$T/r.body" code)"

# Apache: the CGI behind apache/keyward-protect.conf sees the authorizer's variables
http -H "Authorization: Bearer ${KSEC[main]}" "$AP/cgi/echo.cgi"
expect_eq "apache: keyward-protect.conf location (CGI) -> 200" 200 "$CODE"
expect_has "apache: CGI env REMOTE_USER" "$(body)" "REMOTE_USER=alice"
expect_has "apache: CGI env AUTH_CREDENTIAL" "$(body)" "AUTH_CREDENTIAL=${KID[main]}"
no_leak apache
http "$AP/cgi/echo.cgi"
expect_eq "apache: keyward-protect.conf location without a key -> 401" 401 "$CODE"
http -H "Authorization: Bearer ${KSEC[main]}" -H "X-Auth-User: mallory" "$AP/api/x"
expect_eq "apache: a client-sent X-Auth-User is replaced" "alice" "$(jget "$T/r.body" headers.x-auth-user)"
http -H "Authorization: Bearer ${KSEC[main]}" -H "X-Auth-User: mallory" "$NGX/api/x"
expect_eq "nginx: a client-sent X-Auth-User is replaced" "alice" "$(jget "$T/r.body" headers.x-auth-user)"

# lighttpd: the access log has user and credential from the authorizer variables
# (lighttpd buffers its access log; SIGHUP makes it flush and reopen)
lp=$(child_of "$PID_lighttpd")
[ -n "$lp" ] && kill -HUP "$lp"
sleep 0.5
expect_has "lighttpd: access log shows the credential id" "$(cat "$L/logs/access.log" 2>/dev/null)" "user=alice credential=${KID[main]}"

# ---------------------------------------------------------------------------------------------
# 429 after repeated failures (separate Keyward instances with --failure-limit 3)
# ---------------------------------------------------------------------------------------------
echo "# ---- throttling"
throttle() { # S URL
    local s=$1 url=$2 i codes=""
    for i in 1 2 3; do
        http -H "Authorization: Bearer $WRONG_SECRET" "$url"
        codes="$codes $CODE"
    done
    expect_eq "$s: three bad keys -> 401 401 401" " 401 401 401" "$codes"
    http -H "Authorization: Bearer $WRONG_SECRET" "$url"
    expect_eq "$s: 4th request (bad key) after 3 failures -> 429" 429 "$CODE"
    [ "$CODE" = 429 ] || return
    local ra
    ra=$(hdr Retry-After)
    if [[ $ra =~ ^[0-9]+$ ]] && [ "$ra" -gt 0 ] && [ "$ra" -le 60 ]; then ok "$s: 429 carries Retry-After ($ra)"; else notok "$s: 429 carries Retry-After" "1..60" "'$ra'"; fi
    expect_eq "$s: 429 -> X-Auth-Error-Code too_many_failures" too_many_failures "$(hdr X-Auth-Error-Code)"
    expect_has "$s: 429 body names too_many_failures" "$(body)" "too_many_failures"
    # A valid key from the throttled address is still served (issue 8, item 5; Tests/EndToEnd/10-lockout.sh).
    http -H "Authorization: Bearer ${KSEC[main]}" "$url"
    expect_eq "$s: a valid key after the 429 -> 200" 200 "$CODE"
}
throttle nginx "$NGX2/api/x"
throttle apache "$AP2/api/x"
throttle lighttpd "$LT/throttled/echo.cgi"
# The throttled Keyward's other address space is unaffected: the main instances never throttle.
http -H "Authorization: Bearer ${KSEC[main]}" "$NGX/api/x"
expect_eq "nginx: main instance (--failure-limit 0) is not throttled" 200 "$CODE"

# ---------------------------------------------------------------------------------------------
# Audit log (before the raw FastCGI tests, so every deny came through a web server)
# ---------------------------------------------------------------------------------------------
echo "# ---- audit"
sleep 1.5                                   # Keyward writes audit events in batches, about once a second
kw audit list --json >"$T/audit.json"
expect_eq "keyward audit list --json exits 0" 0 "$?"
python3 - "$T/audit.json" "${KID[scoped]}" "${KID[exp]}" "${KID[main]}" >"$T/audit-check.txt" <<'EOF'
import json, sys
events = json.load(open(sys.argv[1]))
scoped, exp, main = sys.argv[2:5]
assert isinstance(events, list), "not a JSON array"
def has(**kw):
    return any(all(str(e.get(k)) == v for k, v in kw.items()) for e in events)
fields = {"at", "actor", "action", "credential", "source_ip", "reason", "detail"}
print("is_a_JSON_array", "ok")
if not events:
    print("has_events", "empty")
else:
    missing = sorted(set().union(*({"at", "actor", "action"} - set(e) for e in events)))
    print("every_entry_has_at/actor/action", "ok" if not missing else "missing:" + ",".join(missing))
    denies = [e for e in events if e.get("reason")]
    missing = sorted(set().union(*({"action", "source_ip", "detail"} - set(e) for e in denies))) if denies else ["no-denies"]
    print("deny_entries_have_source_ip/detail", "ok" if not missing else "missing:" + ",".join(missing))
print("deny_path", "ok" if has(reason="path_not_allowed", credential=scoped) else "missing")
print("deny_expired", "ok" if has(reason="credential_expired", credential=exp) else "missing")
print("deny_invalid", "ok" if has(reason="invalid_credential") else "missing")
print("deny_missing", "ok" if has(reason="missing_credential") else "missing")
print("deny_ip", "ok" if has(reason="ip_not_allowed") else "missing")
print("deny_source_ip", "ok" if any(e.get("reason") == "path_not_allowed" and e.get("source_ip") == "127.0.0.1" for e in events) else "missing")
print("admin_key_create", "ok" if any("create" in str(e.get("action", "")) and e.get("credential") == main for e in events) else "missing")
EOF
[ -s "$T/audit-check.txt" ] || echo "audit-json unparseable" >"$T/audit-check.txt"
while read -r what res; do
    expect_eq "audit: $what" ok "$res"
done <"$T/audit-check.txt"

# ---------------------------------------------------------------------------------------------
# Garbage FastCGI straight to Keyward's sockets
# ---------------------------------------------------------------------------------------------
echo "# ---- malformed FastCGI"
FATAL_CASES=params-declares-2GB-names    # run last, against a Keyward of its own (see below)
python3 "$HERE/fcgi_garbage.py" "unix:$SOCK" --skip "$FATAL_CASES" >"$T/logs/garbage-unix.txt" 2>&1
rc=$?
expect_eq "garbage FastCGI records sent to the unix socket" 0 "$rc"
sed 's/^/#   /' "$T/logs/garbage-unix.txt"
start_t=$(date +%s.%N)
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer ${KSEC[main]}" "$NGX/api/x")
took=$(python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$start_t" "$(date +%s.%N)")
expect_eq "nginx: valid request right after the garbage -> 200 (took ${took}s)" 200 "$code"
python3 "$HERE/fcgi_garbage.py" "127.0.0.1:$P_KW_TCP" --skip "$FATAL_CASES" >"$T/logs/garbage-tcp.txt" 2>&1
expect_eq "garbage FastCGI records sent to the TCP socket" 0 "$?"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer ${KSEC[main]}" "$AP/api/x")
expect_eq "apache: valid request right after the garbage -> 200" 200 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer ${KSEC[main]}" "$LT/api/echo.cgi")
expect_eq "lighttpd: valid request right after the garbage -> 200" 200 "$code"
# a burst of concurrent valid requests still all succeed
codes=$(for i in $(seq 1 20); do curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 -H "Authorization: Bearer ${KSEC[main]}" "$NGX/api/x" & done; wait)
expect_eq "nginx: 20 concurrent valid requests -> all 200" 20 "$(printf '%s\n' "$codes" | grep -c '^200$')"
# A params pair that declares a name+value of >= 2 GB (never completed). Sent to a Keyward of its
# own so that a crash cannot hide the results of the other checks.
vp=$(child_of "$PID_kw_victim")
expect_eq "direct FastCGI probe with a valid key -> 200" 200 "$(python3 "$HERE/fcgi_garbage.py" "unix:$SOCK_VICTIM" --probe "Bearer ${KSEC[main]}" 2>&1 | tail -n 1)"
for c in ${FATAL_CASES//,/ }; do
    python3 "$HERE/fcgi_garbage.py" "unix:$SOCK_VICTIM" --only "$c" >>"$T/logs/garbage-victim.txt" 2>&1
    sleep 0.3
    if [ -n "$vp" ] && kill -0 "$vp" 2>/dev/null; then
        ok "keyward survives FastCGI case $c"
        expect_eq "direct FastCGI probe after $c -> 200" 200 "$(python3 "$HERE/fcgi_garbage.py" "unix:$SOCK_VICTIM" --probe "Bearer ${KSEC[main]}" 2>&1 | tail -n 1)"
    else
        notok "keyward survives FastCGI case $c" "still running" "process gone: $(grep -m1 -E 'Assertion|Fatal|crashed' "$T/logs/keyward-victim.log")"
    fi
done

# ---------------------------------------------------------------------------------------------
# CGI mode (nice-to-have): Apache runs the keyward binary itself as a CGI program
# ---------------------------------------------------------------------------------------------
if [ "$KW_CGI" = 1 ]; then
    http "$AP/kwcgi/keyward/healthz"
    expect_eq "apache CGI mode: GET /healthz -> 200" 200 "$CODE"
    expect_eq "apache CGI mode: /healthz body status" ok "$(jget "$T/r.body" status)"
else
    ok "apache CGI mode: GET /healthz # SKIP www-data cannot run $KEYWARD_BIN as CGI"
fi

# ---------------------------------------------------------------------------------------------
# Secrecy: no secret in the audit log, keyward's logs or listings
# ---------------------------------------------------------------------------------------------
echo "# ---- secrecy"
kw audit list --json >"$T/audit-final.json"
leaks=""
for sec in "${SECRETS[@]}" "$OLD_REGEN"; do
    tail38=${sec:21}
    for f in "$T/audit-final.json" "$T"/logs/keyward-*.log "$CLI_LOG"; do
        if grep -q -F -e "$tail38" "$f" 2>/dev/null; then leaks="$leaks ${sec:0:20}@$(basename "$f")"; fi
    done
done
expect_eq "no key secret appears in the audit log or in keyward's logs" "" "$leaks"
kw key list --json >"$T/keys.json"
leaks=""
for sec in "${SECRETS[@]}"; do grep -q -F -e "${sec:21}" "$T/keys.json" && leaks="$leaks ${sec:0:20}"; done
expect_eq "no key secret appears in key list --json" "" "$leaks"

# ---------------------------------------------------------------------------------------------
# SIGTERM: keyward serve exits within 2 s with status 0
# ---------------------------------------------------------------------------------------------
echo "# ---- SIGTERM"
sigterm() { # label timeout-pid
    local label=$1 tp=$2 kp rc i
    kp=$(child_of "$tp")
    if [ -z "$kp" ]; then notok "$label: SIGTERM" "a running keyward" "none"; return; fi
    kill -TERM "$kp"
    for ((i = 0; i < 20; i++)); do
        kill -0 "$kp" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$kp" 2>/dev/null; then
        notok "$label: exits within 2 s of SIGTERM" "exited" "still running"
        return
    fi
    ok "$label: exits within 2 s of SIGTERM"
    wait "$tp"
    rc=$?
    expect_eq "$label: exit status after SIGTERM" 0 "$rc"
}
# keep one request in flight-free state; then stop the two main instances
sigterm "keyward serve (unix)" "$PID_kw_unix"
sigterm "keyward serve (tcp)" "$PID_kw_tcp"
http -H "Authorization: Bearer ${KSEC[main]}" "$NGX/api/x"
expect_eq "nginx: with keyward stopped the check fails closed (500)" 500 "$CODE"
http -H "Authorization: Bearer ${KSEC[main]}" "$AP/api/x"
expect_eq "apache: with keyward stopped the check fails closed (500)" 500 "$CODE"

# ---------------------------------------------------------------------------------------------
# Socket activation: systemd/keyward.service's own ExecStart (binary and config path swapped for
# the test's), with the listening socket on fd 0 (StandardInput=socket, emulated by spawn-fcgi)
# and on fd 3 (LISTEN_FDS, emulated by systemd-socket-activate).
# ---------------------------------------------------------------------------------------------
echo "# ---- socket activation (systemd/keyward.service ExecStart)"
printf '# test config for keyward serve --config\nthreads = 2\nfailure-limit = 0\n' >"$T/keyward.conf"
read -r -a UNIT_ARGV <<<"$(sed -n 's/^ExecStart=//p' "$REPO/systemd/keyward.service")"
UNIT_ARGV[0]=$KEYWARD_BIN
for i in "${!UNIT_ARGV[@]}"; do
    [ "${UNIT_ARGV[$i]}" = /etc/keyward/keyward.conf ] && UNIT_ARGV[$i]=$T/keyward.conf
done
activated() { # label pid socket
    local label=$1 tp=$2 sock=$3
    expect_eq "$label: check with a valid key -> 200" 200 "$(python3 "$HERE/fcgi_garbage.py" "unix:$sock" --probe "Bearer ${KSEC[main]}" 2>&1 | tail -n 1)"
    expect_eq "$label: check with a wrong key -> 401" 401 "$(python3 "$HERE/fcgi_garbage.py" "unix:$sock" --probe "Bearer $WRONG_SECRET" 2>&1 | tail -n 1)"
    sigterm "$label" "$tp"
}
if command -v spawn-fcgi >/dev/null 2>&1; then
    start sa_fd0 "$T/logs/keyward-fd0.log" spawn-fcgi -n -s "$T/activated-fd0.sock" -M 0666 -- /usr/bin/env KEYWARD_DB="$DB" "${UNIT_ARGV[@]}"
    wait_unix "$T/activated-fd0.sock" 50 && sleep 0.3
    activated "socket on fd 0 (StandardInput=socket)" "$PID_sa_fd0" "$T/activated-fd0.sock"
else
    ok "socket on fd 0 (StandardInput=socket) # SKIP spawn-fcgi not installed"
fi
if command -v systemd-socket-activate >/dev/null 2>&1; then
    start sa_fd3 "$T/logs/keyward-fd3.log" systemd-socket-activate -l "$T/activated-fd3.sock" -E KEYWARD_DB="$DB" -- "${UNIT_ARGV[@]}"
    wait_unix "$T/activated-fd3.sock" 50     # the first connection makes it exec keyward
    sleep 0.5
    activated "socket on fd 3 (LISTEN_FDS)" "$PID_sa_fd3" "$T/activated-fd3.sock"
else
    notok "socket on fd 3 (LISTEN_FDS)" "systemd-socket-activate (apt-get install systemd; make deps does)" "not installed"
fi

# ---------------------------------------------------------------------------------------------
if [ "$FAIL" -gt 0 ]; then
    show_log "$T/logs/keyward-unix.log"
    show_log "$T/logs/keyward-tcp.log"
    show_log "$T/nginx/logs/error.log"
    show_log "$A/logs/error.log"
    show_log "$L/logs/error.log"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
