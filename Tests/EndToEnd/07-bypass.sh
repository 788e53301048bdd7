#!/usr/bin/env bash
# Keyward end-to-end: the attacker's probe of issue 8, items 1 and 2, through real nginx, Apache
# and lighttpd wired with the repository's own files, in front of the kinds of backend that
# exposed the bypasses:
#   Tests/EndToEnd/servlet/Backend.java   embedded Tomcat (Debian's libtomcat10-embed-java): one
#                                         servlet for /api/reports/*, one for /api/other(/*)
#   Tests/EndToEnd/cgienv.py              a WSGI app (wsgiref) reading HTTP_X_* from its environment,
#                                         and the same app as a CGI program under lighttpd's mod_cgi
#
# Files used unchanged: nginx/example-site.conf, run live (only its addresses and log directory
# moved: proxy_pass without a URI, a public `location /`) with nginx/keyward.conf,
# keyward-protect.conf and keyward-log.conf;
# apache/keyward.conf, apache/keyward-protect.conf, apache/example-site.conf (plus a public
# `ProxyPass ... nocanon` prefix, as Jenkins and other servlet apps ask for, which forwards the raw
# target); lighttpd/keyward.conf and lighttpd/keyward-server.conf (a second lighttpd without
# keyward-server.conf shows what Keyward refuses on its own).
#
#   1  a key scoped to /api/reports/ never reaches the /api/other servlet through path parameters
#      and dot segments (`/api/reports/;/../other`, ...), in origin and absolute form; with no
#      credential, `/x/..;/api/other`, `/;/api/other`, `/x/y/..;z/../api/other` and backslashes
#      never reach it through a public location
#   2  client-sent identity headers in any spelling (`X_Auth_User`, `x-auth_user`, ...) never reach
#      the WSGI backend's HTTP_X_AUTH_USER (nor a CGI program's under lighttpd, which reads the
#      caller from REMOTE_USER), nor a backend behind a public location; with --trusted-proxy, a
#      client's `X_Forwarded_For` beside `X-Forwarded-For` never admits a key limited to 10.0.0.0/8
#
# Usage:  Tests/EndToEnd/07-bypass.sh     (env as for 01-check.sh: KEYWARD_BIN, KEYWARD_E2E_KEEP, ...)
# Output: `ok - ` / `not ok - ` per check, then `N passed, N failed`. Needs root, nginx, apache2,
# lighttpd, curl, python3, java and javac (the Makefile installs them); loopback only. About 30 s.

set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SUITE="bypass suite"

require_tools "apt-get install nginx-light apache2 lighttpd curl python3 openjdk-17-jdk-headless; the Makefile does this" \
    nginx apache2 lighttpd curl python3 java javac timeout
require_root "the web servers start as root and drop to www-data"
TOMCAT_JARS=/usr/share/java/tomcat10-embed-core.jar:/usr/share/java/jakarta-annotation-api.jar
for jar in ${TOMCAT_JARS//:/ }; do
    [ -f "$jar" ] || bail "missing $jar (apt-get install libtomcat10-embed-java libjakarta-annotation-api-java; the Makefile does this)"
done
for mod in authnz_fcgi headers proxy proxy_http alias setenvif; do
    [ -f "/usr/lib/apache2/modules/mod_$mod.so" ] || bail "Apache module mod_$mod.so missing (apt-get install apache2)"
done
for mod in proxy cgi; do   # mod_fastcgi, mod_access and mod_setenv are built into lighttpd
    [ -f "/usr/lib/lighttpd/mod_$mod.so" ] || bail "lighttpd module mod_$mod.so missing (apt-get install lighttpd)"
done

make_tmpdir keyward-bypass
read -r P_NGX P_NGX_WSGI P_AP P_LT P_LT_BARE P_KW_TCP P_TOMCAT P_WSGI <<<"$(free_ports 8)"
[ -n "${P_WSGI:-}" ] || bail "could not pick free ports"

# ---------------------------------------------------------------------------------------------
# Backends: the servlet container and the WSGI app
# ---------------------------------------------------------------------------------------------
mkdir -p "$T/servlet"
javac -nowarn -d "$T/servlet" -cp "$TOMCAT_JARS" "$HERE/servlet/Backend.java" 2>"$T/logs/javac.log" ||
    bail "javac failed: $(tail -n 3 "$T/logs/javac.log")"
start tomcat "$T/logs/tomcat.log" java -cp "$TOMCAT_JARS:$T/servlet" Backend "$P_TOMCAT"
start wsgi "$T/logs/wsgi.log" python3 "$HERE/cgienv.py" "$P_WSGI"

# ---------------------------------------------------------------------------------------------
# Keyward: alice's key scoped to /api/reports/, /wsgi/ and /cgi/; bob's key limited to 10.0.0.0/8
# ---------------------------------------------------------------------------------------------
kw_init
add_users alice bob
mkkey alice --user alice --name reports --scope /api/reports/ --scope /wsgi/ --scope /cgi/
mkkey bob --user bob --name ten --allow-ip 10.0.0.0/8
ALICE=${KSEC[alice]}
ALICE_ID=${KID[alice]}
BOB=${KSEC[bob]}
SERVE=(--socket-mode 0666 --threads 2 --failure-limit 0)
start_keyward kw keyward "unix:$T/kw.sock" "${SERVE[@]}"
start_keyward kw_tcp keyward-tcp "127.0.0.1:$P_KW_TCP" "${SERVE[@]}"
# lighttpd sits behind no proxy here; trusting 127.0.0.1 lets the client name its address itself.
start_keyward kw_proxy keyward-proxy "unix:$T/kw-proxy.sock" "${SERVE[@]}" --trusted-proxy 127.0.0.1/32
wait_keywards
wait_tcp "$P_WSGI" 50 || bail "the WSGI backend did not start: $(tail -n 3 "$T/logs/wsgi.log")"
wait_tcp "$P_TOMCAT" 150 || bail "Tomcat did not start: $(tail -n 5 "$T/logs/tomcat.log")"

# ---------------------------------------------------------------------------------------------
# nginx: nginx/example-site.conf itself (proxy_pass without a URI, a public location /) in front of
# Tomcat, its addresses and /var/log/nginx/ moved into $T; a second one in front of the WSGI app
# (its protected /api/ -> the app, which reads its environment on any path).
# ---------------------------------------------------------------------------------------------
N=$T/nginx
start_nginx_site nginx "$N" "$P_NGX" "$T/kw.sock" --backend "$P_TOMCAT"
start_nginx_site nginx_wsgi "$T/nginx-wsgi" "$P_NGX_WSGI" "$T/kw.sock" --backend "$P_WSGI"

# ---------------------------------------------------------------------------------------------
# Apache: keyward.conf and example-site.conf (/api/ -> Tomcat), a public / -> Tomcat, a public
# /raw/ -> Tomcat with nocanon, /wsgi/ -> the WSGI app
# ---------------------------------------------------------------------------------------------
A=$T/apache
mkdir -p "$A"
cat >"$A/public.conf" <<EOF
# Everything not protected is public and goes to the servlet container too.
<Location "/">
    ProxyPass "http://127.0.0.1:$P_TOMCAT/"
</Location>
EOF
cat >"$A/more.conf" <<EOF
<Location "/wsgi/">
    Include $REPO/apache/keyward-protect.conf
    ProxyPass "http://127.0.0.1:$P_WSGI/wsgi/"
</Location>

# A public prefix forwarded as the client sent it (Jenkins and other servlet apps ask for nocanon).
<Location "/raw/">
    ProxyPass "http://127.0.0.1:$P_TOMCAT/raw/" nocanon
</Location>
EOF
start_apache_site apache "$A" "$P_AP" "$P_KW_TCP" --module alias --backend "http://127.0.0.1:$P_TOMCAT" \
    --before "$A/public.conf" --after "$A/more.conf"

# ---------------------------------------------------------------------------------------------
# lighttpd: keyward-server.conf + keyward.conf for /api/ (Tomcat), /wsgi/ (the WSGI app) and
# /cgi/ (cgienv.py under mod_cgi); everything else public (Tomcat).
# A second lighttpd without keyward-server.conf: what Keyward refuses by itself.
# ---------------------------------------------------------------------------------------------
for L in "$T/lighttpd" "$T/lighttpd-bare"; do
    mkdir -p "$L/www/cgi"
    cp "$HERE/cgienv.py" "$L/www/cgi/env.py"
    chmod 755 "$L/www" "$L/www/cgi" "$L/www/cgi/env.py"
    cat >"$L/handlers.conf" <<EOF
server.modules += ( "mod_proxy", "mod_cgi" )
\$HTTP["url"] =^ "/cgi/" { cgi.assign = ( ".py" => "/usr/bin/python3" ) }
else \$HTTP["url"] =^ "/wsgi/" { proxy.server = ( "" => (( "host" => "127.0.0.1", "port" => $P_WSGI )) ) }
else \$HTTP["url"] =~ "" { proxy.server = ( "" => (( "host" => "127.0.0.1", "port" => $P_TOMCAT )) ) }
EOF
done
PROTECT=(--protect "$T/kw-proxy.sock" /api/ --protect "$T/kw-proxy.sock" /wsgi/ --protect "$T/kw-proxy.sock" /cgi/)
start_lighttpd_site lighttpd "$T/lighttpd" "$P_LT" "${PROTECT[@]}" --after "$T/lighttpd/handlers.conf"
start_lighttpd_site lighttpd_bare "$T/lighttpd-bare" "$P_LT_BARE" --bare "${PROTECT[@]}" --after "$T/lighttpd-bare/handlers.conf"

# ---------------------------------------------------------------------------------------------
# Item 1: path parameters, dot segments, backslashes
# ---------------------------------------------------------------------------------------------
servlet() { jget "$T/r.body" servlet; }
refused() { # name: the request did not reach the other servlet, and was refused
    local s
    s=$(servlet)
    if [ "$s" = other ]; then
        notok "$1 never reaches the other servlet" "refused" "$CODE from the other servlet ($(jget "$T/r.body" uri))"
    else
        case $CODE in
        400 | 401 | 403 | 404) ok "$1 is refused ($CODE${s:+, servlet $s}$(c=$(hdr X-Auth-Error-Code); [ -n "$c" ] && echo ", $c"))" ;;
        *) notok "$1 is refused" "400, 401, 403 or 404" "$CODE${s:+ from servlet $s ($(jget "$T/r.body" uri))}" ;;
        esac
    fi
}
never_other() { # name: refused, or served outside /api/ by the root servlet (a server that forwards
                # the path it normalised itself, as lighttpd does, hands Tomcat no `;..` to resolve)
    local uri
    uri=$(jget "$T/r.body" uri)
    if [ "$CODE $(servlet)" = "200 root" ] && [ "${uri#/api/}" = "$uri" ]; then
        ok "$1 never reaches the other servlet (200 from the root servlet as $uri)"
    else
        refused "$1"
    fi
}
get() { # [curl args] base target: GET target as the request line's origin form, raw
    local a=("$@") n=$#
    http --path-as-is "${a[@]:0:n-2}" --request-target "${a[n-1]}" "${a[n-2]}/"
}
get_absolute() { # [curl args] base target: the same in absolute form (GET http://host/target HTTP/1.1)
    local a=("$@") n=$#
    http --path-as-is "${a[@]:0:n-2}" --request-target "${a[n-2]}${a[n-1]}" "${a[n-2]}/"
}
# A key scoped to /api/reports/ must not reach /api/other; Tomcat reads each of these as /api/other
# (or refuses it). %5C and `\` are for backends that take a backslash for a slash.
ATTACKS=(/api/reports/.\;/../other /api/reports/\;/../other "/api/reports/;jsessionid=1/../other"
         /api/reports/x/.\;/../../other /api/reports/%3B/../other /api/reports/%2e%2e\;/other
         /api/reports/..%5Cother /api/reports/..%5c..%5cother '/api/reports/..\other')
# Without a credential, through the public location.
PUBLIC_ATTACKS=("/x/..;/api/other" "/;/api/other" "/x/..%3B/api/other" "/api/..;/api/other"
                "/x/..%5Capi/other" '/x/..\api/other')
# A `;` segment that the server's own normalisation removes (`..;z/..` is one segment up and back for
# the server, two up for Tomcat): harmless where the server forwards its own path, a way in where
# it forwards the raw target (nginx proxy_pass without a URI, Apache's `nocanon` under /raw/).
REMOVED_ATTACKS=("/x/y/..;z/../api/other" "/x/y/..%3Bz/../api/other" "/raw/y/..;z/../api/other"
                 "/raw/..;/api/other")
probe_server() { # label base-url (protects /api/ and serves everything else publicly)
    local s=$1 base=$2 p
    echo "# $s"
    http -H "Authorization: Bearer $ALICE" "$base/api/reports/x"
    expect_eq "$s: the scoped key reaches the reports servlet" "200 reports" "$CODE $(servlet)"
    http -H "Authorization: Bearer $ALICE" "$base/api/other"
    expect_eq "$s: the scoped key is refused at /api/other" 403 "$CODE"
    http "$base/api/other"
    expect_eq "$s: /api/other without a credential is 401" 401 "$CODE"
    get -H "Authorization: Bearer $ALICE" "$base" "/api/reports/x?a=1;b=%3B%5C"
    expect_eq "$s: ;, %3B and %5C in the query are not refused" "200 reports" "$CODE $(servlet)"
    http "$base/public"
    expect_eq "$s: a public path reaches the servlet container" "200 root" "$CODE $(servlet)"
    http "$base/raw/x"
    expect_eq "$s: the public /raw/ prefix reaches the servlet container" "200 root /raw/x" "$CODE $(servlet) $(jget "$T/r.body" uri)"
    for p in "${ATTACKS[@]}"; do
        get -H "Authorization: Bearer $ALICE" "$base" "$p"
        refused "$s: scoped key, $p"
        get_absolute -H "Authorization: Bearer $ALICE" "$base" "$p"
        refused "$s: scoped key, absolute form $p"
    done
    for p in "${PUBLIC_ATTACKS[@]}"; do
        get "$base" "$p"
        refused "$s: no credential, $p"
        get_absolute "$base" "$p"
        refused "$s: no credential, absolute form $p"
    done
    for p in "${REMOVED_ATTACKS[@]}"; do
        get "$base" "$p"
        never_other "$s: no credential, $p"
    done
}
probe_server nginx "http://127.0.0.1:$P_NGX"
probe_server apache "http://127.0.0.1:$P_AP"
probe_server lighttpd "http://127.0.0.1:$P_LT"

echo "# lighttpd without keyward-server.conf: Keyward alone refuses the protected prefix's attacks"
for p in "${ATTACKS[@]}"; do
    get -H "Authorization: Bearer $ALICE" "http://127.0.0.1:$P_LT_BARE" "$p"
    expect_eq "lighttpd (Keyward alone): scoped key, $p -> 403 path_rejected" "403 path_rejected" "$CODE $(hdr X-Auth-Error-Code)"
done

# ---------------------------------------------------------------------------------------------
# Item 2: identity headers in every spelling; a repeated client-address header
# ---------------------------------------------------------------------------------------------
SPOOF=(-H "X_Auth_User: admin" -H "x-auth_user: eve" -H "X_AUTH-USER: mallory" -H "X_Auth_Credential: kwk_forged"
       -H "X_Auth_Scopes: /" -H "X-Auth_Method: anonymous" -H "X_Auth_Subject: root" -H "X-Auth-Subject: root"
       -H "X_API_Key: kwk_forged" -H "x-api_key: kwk_forged")
identity() { # label url expected-HTTP_X_AUTH_USER ("" where the server forwards no identity header)
    local s=$1 v got
    http -H "Authorization: Bearer $ALICE" "${SPOOF[@]}" "$2"
    expect_eq "$s: the backend is reached" 200 "$CODE"
    expect_eq "$s: HTTP_X_AUTH_USER is Keyward's user only" "$3" "$(jget "$T/r.body" HTTP_X_AUTH_USER)"
    for v in HTTP_X_AUTH_CREDENTIAL HTTP_X_AUTH_SCOPES HTTP_X_AUTH_METHOD HTTP_X_AUTH_SUBJECT HTTP_X_API_KEY; do
        got=$(jget "$T/r.body" "$v")
        case $got in
        *kwk_forged* | *anonymous* | *root* | / | *,*) notok "$s: $v carries no client-sent value" "Keyward's value or nothing" "$got" ;;
        *) ok "$s: $v carries no client-sent value ('$got')" ;;
        esac
    done
}
echo "# identity headers"
identity "nginx -> WSGI" "http://127.0.0.1:$P_NGX_WSGI/api/reports/x" alice
identity "apache -> WSGI" "http://127.0.0.1:$P_AP/wsgi/x" alice
identity "lighttpd -> WSGI" "http://127.0.0.1:$P_LT/wsgi/x" ""
# lighttpd's identity for a CGI program is the environment it sets from Keyward's Variable-*.
identity "lighttpd -> CGI" "http://127.0.0.1:$P_LT/cgi/env.py" ""
expect_eq "lighttpd -> CGI: REMOTE_USER and AUTH_CREDENTIAL are Keyward's" "alice $ALICE_ID" \
    "$(jget "$T/r.body" REMOTE_USER) $(jget "$T/r.body" AUTH_CREDENTIAL)"
http -H "Authorization: Bearer $ALICE" -H "X-Auth-User: admin" -H "X_Auth_User: admin" "http://127.0.0.1:$P_LT/cgi/env.py"
expect_eq "lighttpd -> CGI: a client's X-Auth-User never reaches HTTP_X_AUTH_USER" "200 alice ''" \
    "$CODE $(jget "$T/r.body" REMOTE_USER) '$(jget "$T/r.body" HTTP_X_AUTH_USER)'"

echo "# identity headers sent to a public location"
for s in nginx apache lighttpd; do
    port=$P_NGX
    [ $s = apache ] && port=$P_AP
    [ $s = lighttpd ] && port=$P_LT
    http "${SPOOF[@]}" -H "X-Auth-User: admin" -H "X-Auth-Credential: kwk_forged" -H "X-Auth-Method: api-key" \
        -H "X-Auth-Scopes: /" "http://127.0.0.1:$port/public"
    expect_eq "$s: no identity header from the client reaches a public backend path" "200 root ''" \
        "$CODE $(servlet) '$(jget "$T/r.body" auth_headers | tr ' ' '\n' | grep -iv '^x.api.key=' | tr '\n' ' ' | sed 's/ $//')'"
done

echo "# a client-address header sent twice (lighttpd passes X_Forwarded_For as HTTP_X_FORWARDED_FOR)"
for s in lighttpd lighttpd-bare; do
    port=$P_LT
    [ $s = lighttpd-bare ] && port=$P_LT_BARE
    http -H "Authorization: Bearer $BOB" -H "X-Forwarded-For: 10.1.2.3" "http://127.0.0.1:$port/api/reports/x"
    expect_eq "$s: key for 10.0.0.0/8, X-Forwarded-For 10.1.2.3 -> 200" 200 "$CODE"
    http -H "Authorization: Bearer $BOB" -H "X-Forwarded-For: 203.0.113.9" -H "X_Forwarded_For: 10.9.9.9" "http://127.0.0.1:$port/api/reports/x"
    expect_eq "$s: key for 10.0.0.0/8, X-Forwarded-For 203.0.113.9 + X_Forwarded_For 10.9.9.9 -> 403 ip_not_allowed" \
        "403 ip_not_allowed" "$CODE $(hdr X-Auth-Error-Code)"
    http -H "Authorization: Bearer $BOB" -H "X_Forwarded_For: 10.9.9.9" -H "X-Forwarded-For: 203.0.113.9" "http://127.0.0.1:$port/api/reports/x"
    expect_eq "$s: the same with X_Forwarded_For first -> 403 ip_not_allowed" "403 ip_not_allowed" "$CODE $(hdr X-Auth-Error-Code)"
done

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
