#!/usr/bin/env bash
# bench/run.sh -- `make bench`: Keyward behind nginx auth_request, against the bare cost of the FastCGI hop.
#
# Scenarios (all through one nginx, 2 workers, loopback, wrk -t1 -c32):
#   direct       location { return 204; }                    no auth at all: the ceiling
#   bare         auth_request -> bench/bare-authorizer.c (C) the bare cost of an auth_request FastCGI hop
#   keyward      auth_request -> keyward serve (Swift)       the real thing with an API key, nginx/keyward*.conf verbatim
#   keyward-jwt  the same location and Keyward process, with one repeated JWT access token that Keyward's
#                own POST /keyward/token issued (client credentials; nginx/keyward-endpoints.conf verbatim)
#   keyward-signed  the same location config and Keyward process, each request signed with RFC 9421
#                hmac-sha256 (@method, @target-uri, created, a fresh nonce) by bench/signed-request.lua in
#                wrk (HMAC through libcrypto): signature verification and the replay cache's insert per request
#   keyward-access  the same Keyward process and API key on a path under a resource (issue 3's richer
#                decision): the most specific of 41 resources is matched and the user's access comes
#                through a group's role grant (among 20 groups and 10 roles); `keyward` runs under the
#                same access model on a path under no resource, so keyward-access/keyward is the
#                price of the resource rules alone
#   keyward-svckey  the same Keyward process with a service's key (kws_, `keyward service create`)
#   keyward-svcjwt  the same, with one repeated service JWT (HS256 with the service's JWT secret, minted
#                here like a client would); both are compared with the API-key check of the same run
# The bare scenario uses nginx/keyward.conf and nginx/keyward-protect.conf with only the names changed
# (keyward_ -> bare_, upstream keyward -> bare), so nginx does the same work and only the app differs.
# Then, with nginx stopped: `openssl speed -seconds 3` for ed25519, ecdsap256 and rsa2048, and keyward-bench
# (in-process checks and JWT verification per algorithm), and a table of the two verification rates.
#
# Env:
#   KEYWARD_BIN          keyward binary (default .build/release/keyward; `make bench` builds it)
#   BENCH_DURATION       wrk duration per run (default 5s)
#   BENCH_ROUNDS         rounds; each round runs every scenario once (default 3; median is reported)
#   BENCH_CONNECTIONS    wrk connections (default 32)
#   BENCH_APP_THREADS    threads for keyward and the bare authorizer (default 4)
#   BENCH_NGINX_WORKERS  nginx worker_processes (default 2)
#   BENCH_PORT           loopback port for nginx (default: a free one)
#   BENCH_STRICT=1       exit 1 when a target is missed (default: report only; the box is noisy)
#   BENCH_KEEP=1         keep the temp dir (configs, logs, raw wrk output)
#   BENCH_NO_KEYWARD=1   skip every keyward scenario and the in-process part (for working on the harness itself)
#   BENCH_NO_OPENSSL=1   skip `openssl speed` (the in-process JWT figures are then shown without a comparison)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEYWARD_BIN=${KEYWARD_BIN:-.build/release/keyward}
if [[ $KEYWARD_BIN != /* ]]; then
    if [[ -e $PWD/$KEYWARD_BIN ]]; then KEYWARD_BIN=$PWD/$KEYWARD_BIN; else KEYWARD_BIN=$ROOT/$KEYWARD_BIN; fi
fi
DURATION=${BENCH_DURATION:-5s}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNECTIONS:-32}
APP_THREADS=${BENCH_APP_THREADS:-4}
NGINX_WORKERS=${BENCH_NGINX_WORKERS:-2}
NO_KEYWARD=${BENCH_NO_KEYWARD:-0}
LIFETIME=300            # every background process is wrapped in `timeout $LIFETIME`

SCENARIOS=(direct bare keyward keyward-jwt keyward-signed keyward-access keyward-svckey keyward-svcjwt)
[[ $NO_KEYWARD == 1 ]] && SCENARIOS=(direct bare)
JWT_LIFETIME=1h         # the access token is issued once and repeated for the whole run

say()  { printf '%s\n' "$*"; }
warn() { printf 'WARN: %s\n' "$*" >&2; }

for tool in nginx wrk curl python3 gcc timeout pgrep openssl; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool not found" >&2; exit 1; }
done
if [[ $NO_KEYWARD != 1 && ! -x $KEYWARD_BIN ]]; then
    echo "FAIL: keyward binary not found at $KEYWARD_BIN (build it with 'swift build -c release' or set KEYWARD_BIN)" >&2
    exit 1
fi

T=$(mktemp -d /tmp/keyward-bench.XXXXXX)
chmod 755 "$T"              # nginx workers (www-data) must reach the sockets in here
mkdir -p "$T/nginx/tmp" "$T/wrk"
OUT=$ROOT/bench/.out
mkdir -p "$OUT"

NGINX_PID= KW_PID= BARE_PID=

# Stop one process we started (a `timeout` wrapper, which forwards TERM to its child).
# timeout puts itself in its own process group, so the KILL fallback takes the whole group.
stop_one() {
    local name=$1 pid=$2 i
    [[ -n $pid ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        warn "$name did not exit within 5 s of SIGTERM; killing it"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

stop_servers() {
    stop_one nginx "$NGINX_PID"; NGINX_PID=
    stop_one keyward "$KW_PID"; KW_PID=
    stop_one bare-authorizer "$BARE_PID"; BARE_PID=
}

show_logs() {
    local f
    for f in "$T/setup.log" "$T/nginx/error.log" "$T/keyward.log" "$T/bare.log"; do
        [[ -s $f ]] || continue
        echo "----- tail $f" >&2
        tail -n 20 "$f" >&2
    done
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_servers
    if [[ $rc != 0 ]]; then show_logs; fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "kept $T" >&2; else rm -rf "$T"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() { echo "FAIL: $*" >&2; exit 1; }

# Wait until a unix socket exists, or fail if its process dies / 15 s pass.
wait_socket() {
    local name=$1 path=$2 pid=$3 i
    for i in $(seq 150); do
        [[ -S $path ]] && return 0
        kill -0 "$pid" 2>/dev/null || fail "$name exited before creating $path"
        sleep 0.1
    done
    fail "$name did not create $path within 15 s"
}

# ---------------------------------------------------------------- build the bare authorizer
BARE_BIN=$OUT/bare-authorizer
gcc -O2 -Wall -Wextra -o "$BARE_BIN" "$ROOT/bench/bare-authorizer.c" -lfcgi -lpthread \
    || fail "could not compile bench/bare-authorizer.c (is libfcgi-dev installed?)"

# ---------------------------------------------------------------- keyward state and server
# The port comes first: the issuer URL, and so every token's iss, names it.
PORT=${BENCH_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
BASE=http://127.0.0.1:$PORT

if [[ $NO_KEYWARD == 1 ]]; then
    TOKEN=bench-token-$RANDOM$RANDOM
else
    KW=("$KEYWARD_BIN" --db "$T/kw.db")
    echo "+ keyward init" >>"$T/setup.log"
    timeout 60 "${KW[@]}" init >>"$T/setup.log" 2>&1 </dev/null || fail "keyward init failed"
    echo "+ keyward user add bench" >>"$T/setup.log"
    timeout 60 "${KW[@]}" user add bench >>"$T/setup.log" 2>&1 </dev/null || fail "keyward user add failed"
    timeout 60 "${KW[@]}" key create --user bench --name bench --json >"$T/key.json" 2>>"$T/setup.log" </dev/null \
        || fail "keyward key create failed"
    TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$T/key.json" 2>>"$T/setup.log") \
        || { cat "$T/key.json" >>"$T/setup.log"; fail "could not read \"secret\" from 'key create --json' output"; }
    [[ -n $TOKEN ]] || fail "empty secret from 'key create --json'"
    # An OAuth2 client for the keyward-jwt scenario; its token comes from POST /keyward/token once nginx is up.
    timeout 60 "${KW[@]}" client create --user bench --name benchc --json >"$T/client.json" 2>>"$T/setup.log" </dev/null \
        || fail "keyward client create failed"
    read -r CLIENT_ID CLIENT_SECRET < <(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c["client_id"], c["client_secret"])' \
        "$T/client.json" 2>>"$T/setup.log") \
        || { cat "$T/client.json" >>"$T/setup.log"; fail "could not read client_id/client_secret from 'client create --json' output"; }
    [[ -n $CLIENT_ID && -n $CLIENT_SECRET ]] || fail "empty client_id or client_secret from 'client create --json'"
    # A signed-request credential for keyward-signed (hmac-sha256, 32 random bytes).
    timeout 60 "${KW[@]}" hmac create --user bench --name benchs --json >"$T/hmac.json" 2>>"$T/setup.log" </dev/null \
        || fail "keyward hmac create failed"
    read -r SIGN_KEYID SIGN_SECRET_HEX < <(python3 -c 'import base64,json,sys; h=json.load(open(sys.argv[1])); print(h["id"], base64.b64decode(h["secret"]).hex())' \
        "$T/hmac.json" 2>>"$T/setup.log") \
        || { cat "$T/hmac.json" >>"$T/setup.log"; fail "could not read id/secret from 'hmac create --json' output"; }

    # A service of the same user for keyward-svckey and keyward-svcjwt: its key, and a JWT its client
    # mints with the JWT secret (HS256, iss = the service, 50 minutes: within the 60-minute limit).
    timeout 60 "${KW[@]}" service create benchsvc --owner bench --json >"$T/service.json" 2>>"$T/setup.log" </dev/null \
        || fail "keyward service create failed"
    read -r SVC_KEY SVC_JWT < <(python3 -c '
import base64, hashlib, hmac, json, sys, time
s = json.load(open(sys.argv[1]))
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
signing_input = b64(b"{\"alg\":\"HS256\",\"typ\":\"JWT\"}") + "." + b64(json.dumps({"iss": "benchsvc", "iat": now, "exp": now + 3000}).encode())
mac = hmac.new(base64.b64decode(s["jwt_secret"]), signing_input.encode(), hashlib.sha256).digest()
print(s["service_key"], signing_input + "." + b64(mac))' "$T/service.json" 2>>"$T/setup.log") \
        || { cat "$T/service.json" >>"$T/setup.log"; fail "could not read the service key and JWT secret from 'service create --json'"; }
    [[ -n $SVC_KEY && -n $SVC_JWT ]] || fail "empty service key or service JWT"

    # The access model for keyward-access: decoy groups, roles and resources around the real one, so the
    # check picks the most specific of many resources and finds the grant among many memberships.
    {
        set -e
        for i in $(seq 20); do "${KW[@]}" group add "team$i"; done
        for i in $(seq 40); do "${KW[@]}" resource add "decoy$i" --path "/decoy/$i/" --audience "group:team$(( i % 20 + 1 ))"; done
        "${KW[@]}" resource add bench --path /b/keyward-access
        for i in $(seq 9); do "${KW[@]}" role add "role$i" --privilege "access:decoy$i"; "${KW[@]}" role grant "role$i" --group "team$i"; done
        "${KW[@]}" role add bench-reader --privilege access:bench
        "${KW[@]}" role grant bench-reader --group team20
        for i in 3 7 20; do "${KW[@]}" group member add "team$i" bench; done
    } >>"$T/setup.log" 2>&1 </dev/null || fail "could not set up the access model (keyward group/role/resource)"

    # One Keyward serves the check for both keyward scenarios and the token endpoint under /keyward.
    timeout "$LIFETIME" "${KW[@]}" serve --listen "unix:$T/keyward.sock" --socket-mode 0666 --threads "$APP_THREADS" \
        --mount /keyward --issuer "$BASE/keyward" --token-lifetime "$JWT_LIFETIME" \
        >"$T/keyward.log" 2>&1 </dev/null &
    KW_PID=$!
    wait_socket keyward "$T/keyward.sock" "$KW_PID"
fi

TOKEN=$TOKEN THREADS=$APP_THREADS timeout "$LIFETIME" "$BARE_BIN" "$T/bare.sock" >"$T/bare.log" 2>&1 </dev/null &
BARE_PID=$!
wait_socket bare-authorizer "$T/bare.sock" "$BARE_PID"

# ---------------------------------------------------------------- nginx
# The bare scenario's nginx config: the repo's files with the names changed, nothing else.
sed -e 's/fastcgi_pass\([[:space:]]\{1,\}\)keyward;/fastcgi_pass\1bare;/' -e 's/keyward_/bare_/g' \
    "$ROOT/nginx/keyward.conf" >"$T/nginx/bare.conf"
sed -e 's/keyward_/bare_/g' "$ROOT/nginx/keyward-protect.conf" >"$T/nginx/bare-protect.conf"
grep -Eq '^[[:space:]]*fastcgi_pass[[:space:]]+bare;' "$T/nginx/bare.conf" \
    || fail "nginx/keyward.conf has no 'fastcgi_pass keyward;' line; bench/run.sh cannot derive the bare config"
grep -Eq '^[[:space:]]*location[[:space:]]*=[[:space:]]*/_bare_check' "$T/nginx/bare.conf" \
    || fail "derived bare.conf has no 'location = /_bare_check'; nginx/keyward.conf changed shape"
grep -Eq '^[[:space:]]*auth_request[[:space:]]+/_bare_check;' "$T/nginx/bare-protect.conf" \
    || fail "derived bare-protect.conf has no 'auth_request /_bare_check;'"
if sed 's/#.*//' "$T/nginx/bare.conf" "$T/nginx/bare-protect.conf" | grep -Eq '(fastcgi_pass|auth_request)[[:space:]]+[^;]*keyward'; then
    fail "derived bare config still points at keyward"
fi

USER_LINE=
[[ $(id -u) == 0 ]] && USER_LINE="user www-data;"
cat >"$T/nginx/nginx.conf" <<EOF
# generated by bench/run.sh
$USER_LINE
worker_processes $NGINX_WORKERS;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 1024; }

http {
    access_log off;
    client_body_temp_path $T/nginx/tmp/body;
    fastcgi_temp_path     $T/nginx/tmp/fastcgi;
    proxy_temp_path       $T/nginx/tmp/proxy;
    scgi_temp_path        $T/nginx/tmp/scgi;
    uwsgi_temp_path       $T/nginx/tmp/uwsgi;

    upstream keyward { server unix:$T/keyward.sock; }
    upstream bare    { server unix:$T/bare.sock; }

    server {
        listen 127.0.0.1:$PORT;
        server_name bench;

        include $ROOT/nginx/keyward.conf;
        include $ROOT/nginx/keyward-endpoints.conf;
        include $T/nginx/bare.conf;

        # the ceiling: no auth at all
        location = /b/direct { return 204; }
        # the bare FastCGI hop (bench/bare-authorizer.c)
        location = /b/bare { include $T/nginx/bare-protect.conf; empty_gif; }
        # Keyward: an API key (keyward) and a JWT access token (keyward-jwt), the same config
        location = /b/keyward     { include $ROOT/nginx/keyward-protect.conf; empty_gif; }
        location = /b/keyward-jwt { include $ROOT/nginx/keyward-protect.conf; empty_gif; }
        location = /b/keyward-signed { include $ROOT/nginx/keyward-protect.conf; empty_gif; }
        location = /b/keyward-access { include $ROOT/nginx/keyward-protect.conf; empty_gif; }
        location = /b/keyward-svckey { include $ROOT/nginx/keyward-protect.conf; empty_gif; }
        location = /b/keyward-svcjwt { include $ROOT/nginx/keyward-protect.conf; empty_gif; }

        # functional checks only (not benchmarked): show the identity nginx got from the check
        location = /v/bare    { include $T/nginx/bare-protect.conf;     add_header X-Seen-User \$bare_user always;    empty_gif; }
        location = /v/keyward { include $ROOT/nginx/keyward-protect.conf; add_header X-Seen-User \$keyward_user always; empty_gif; }
        location = /v/keyward-jwt { include $ROOT/nginx/keyward-protect.conf; add_header X-Seen-User \$keyward_user always; empty_gif; }
        location = /v/keyward-signed { include $ROOT/nginx/keyward-protect.conf; add_header X-Seen-User \$keyward_user always; empty_gif; }
        location = /v/keyward-access { include $ROOT/nginx/keyward-protect.conf; add_header X-Seen-User \$keyward_user always; empty_gif; }
        location = /v/keyward-svckey { include $ROOT/nginx/keyward-protect.conf; add_header X-Seen-User \$keyward_user always; empty_gif; }
        location = /v/keyward-svcjwt { include $ROOT/nginx/keyward-protect.conf; add_header X-Seen-User \$keyward_user always; empty_gif; }
    }
}
EOF

timeout 30 nginx -t -q -p "$T/nginx/" -c "$T/nginx/nginx.conf" </dev/null >"$T/nginx-t.log" 2>&1 \
    || { cat "$T/nginx-t.log" >&2; fail "nginx -t rejected the generated config ($T/nginx/nginx.conf)"; }
timeout "$LIFETIME" nginx -p "$T/nginx/" -c "$T/nginx/nginx.conf" -g 'daemon off;' </dev/null >"$T/nginx.out" 2>&1 &
NGINX_PID=$!
for i in $(seq 100); do
    curl -s -o /dev/null --max-time 1 "$BASE/b/direct" && break
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$T/nginx.out" >&2; fail "nginx exited at start-up"; }
    sleep 0.1
done

# ---------------------------------------------------------------- functional checks (fail loudly)
say "Keyward bench: nginx $(nginx -v 2>&1 | sed 's|.*/||'), $NGINX_WORKERS workers on 127.0.0.1:$PORT; $(nproc) cores shared by wrk, nginx and the apps"
say "wrk -t1 -c$CONNS -d$DURATION --latency; $ROUNDS rounds of (${SCENARIOS[*]}); app threads $APP_THREADS; unix sockets"
[[ $NO_KEYWARD == 1 ]] || say "keyward: $KEYWARD_BIN"
say ""
code() { timeout --foreground 10 curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$@" || true; }
expect() {
    local want=$1 what=$2; shift 2
    local got; got=$(code "$@")
    [[ $got == "$want" ]] || fail "$what: expected HTTP $want, got ${got:-nothing}"
}
seen_user() {  # seen_user url credential
    timeout --foreground 10 curl -s -D - -o /dev/null --max-time 5 -H "Authorization: Bearer $2" "$1" \
        | tr -d '\r' | awk -F': ' 'tolower($1)=="x-seen-user" {print $2}'
}

# The keyward-jwt credential: an access token from Keyward's own token endpoint (client credentials,
# RFC 6749 §4.4), through nginx/keyward-endpoints.conf.
JWT= BAD_JWT=
if [[ $NO_KEYWARD != 1 ]]; then
    timeout --foreground 10 curl -s --max-time 5 -o "$T/token.json" -w '%{http_code}' -u "$CLIENT_ID:$CLIENT_SECRET" \
        -d grant_type=client_credentials "$BASE/keyward/token" >"$T/token.code" 2>>"$T/setup.log" || true
    [[ $(cat "$T/token.code") == 200 ]] \
        || { cat "$T/token.json" >>"$T/setup.log"; fail "POST /keyward/token: expected HTTP 200, got $(cat "$T/token.code")"; }
    read -r JWT JWT_EXPIRES < <(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(t["access_token"], t.get("expires_in", "?"))' \
        "$T/token.json" 2>>"$T/setup.log") \
        || { cat "$T/token.json" >>"$T/setup.log"; fail "no access_token in the token endpoint's reply"; }
    [[ $JWT =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || fail "the access token is not a compact JWS: $JWT"
    JWT_ALG=$(python3 -c 'import base64,json,sys; h=sys.argv[1].split(".")[0]; print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["alg"])' "$JWT" 2>/dev/null || echo '?')
    # A tampered token: one symbol in the middle of the signature changed.
    sig=${JWT##*.}
    i=$(( ${#sig} / 2 ))
    c=${sig:i:1}; [[ $c == A ]] && c=B || c=A
    BAD_JWT="${JWT%.*}.${sig:0:i}$c${sig:i+1}"
    say "token: POST /keyward/token (client_credentials) gave a ${#JWT}-byte $JWT_ALG access token, expires_in $JWT_EXPIRES s"
fi

# keyward-signed: one request signed the way bench/signed-request.lua signs (created now, a fresh nonce).
signed_headers() {  # signed_headers path [mac-override] -> two lines: Signature-Input, Signature
    python3 - "$SIGN_KEYID" "$SIGN_SECRET_HEX" "$BASE$1" "${2:-}" <<'PY'
import base64, hashlib, hmac, secrets, sys, time
keyid, secret, uri, override = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3], sys.argv[4]
params = f'("@method" "@target-uri");created={int(time.time())};keyid="{keyid}";alg="hmac-sha256";nonce="{secrets.token_hex(8)}"'
base = f'"@method": GET\n"@target-uri": {uri}\n"@signature-params": {params}'
mac = base64.b64encode(hmac.new(secret, base.encode(), hashlib.sha256).digest()).decode()
print(f"Signature-Input: sig1={params}")
print(f"Signature: sig1=:{override or mac}:")
PY
}
signed_curl() {  # signed_curl path [mac-override] -> HTTP status
    local si sig
    { read -r si; read -r sig; } < <(signed_headers "$@")
    code -H "$si" -H "$sig" "$BASE$1"
}

cred_for() {  # the Authorization credential a scenario's requests carry
    case $1 in
    keyward-jwt) printf '%s' "$JWT" ;;
    keyward-svckey) printf '%s' "$SVC_KEY" ;;
    keyward-svcjwt) printf '%s' "$SVC_JWT" ;;
    *) printf '%s' "$TOKEN" ;;
    esac
}
tampered() {  # a compact JWS with one symbol in the middle of its signature changed
    local sig=${1##*.} i c
    i=$(( ${#sig} / 2 ))
    c=${sig:i:1}; [[ $c == A ]] && c=B || c=A
    printf '%s' "${1%.*}.${sig:0:i}$c${sig:i+1}"
}
wrong_for() {  # a wrong one: the key with extra symbols, or the JWT with a tampered signature
    case $1 in
    keyward-jwt) printf '%s' "$BAD_JWT" ;;
    keyward-svckey) printf '%s' "x${SVC_KEY}x" ;;
    keyward-svcjwt) tampered "$SVC_JWT" ;;
    *) printf '%s' "x${TOKEN}x" ;;
    esac
}

expect 204 "direct" "$BASE/b/direct"
if [[ $NO_KEYWARD != 1 ]]; then
    [[ $(signed_curl /b/keyward-signed) == 200 ]] || fail "keyward-signed with a signed request: expected HTTP 200"
    [[ $(code "$BASE/b/keyward-signed") == 401 ]] || fail "keyward-signed without a signature: expected HTTP 401"
    [[ $(signed_curl /b/keyward-signed AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=) == 401 ]] \
        || fail "keyward-signed with a wrong signature: expected HTTP 401"
    { read -r si; read -r sig; } < <(signed_headers /v/keyward-signed)
    u=$(timeout --foreground 10 curl -s -D - -o /dev/null --max-time 5 -H "$si" -H "$sig" "$BASE/v/keyward-signed" \
        | tr -d '\r' | awk -F': ' 'tolower($1)=="x-seen-user" {print $2}')
    [[ -n $u ]] || warn "keyward-signed: nginx got no X-Auth-User from the check"
    # wrk signs every request itself (bench/signed-request.lua): make sure it signs the way Keyward checks.
    BENCH_SIGN_KEYID=$SIGN_KEYID BENCH_SIGN_SECRET_HEX=$SIGN_SECRET_HEX BENCH_SIGN_TARGET_URI=$BASE/b/keyward-signed \
        timeout --foreground 30 wrk -t1 -c2 -d1s -s "$ROOT/bench/signed-request.lua" "$BASE/b/keyward-signed" >"$T/wrk/signed-probe.txt" 2>&1 \
        || { cat "$T/wrk/signed-probe.txt" >&2; fail "wrk with bench/signed-request.lua failed"; }
    if grep -q 'Non-2xx' "$T/wrk/signed-probe.txt"; then cat "$T/wrk/signed-probe.txt" >&2; fail "wrk's signed requests were refused"; fi
    say "check keyward-signed: 200 with an RFC 9421 hmac-sha256 signature (user '${u}'), 401 without, 401 with a wrong one; wrk's own signatures accepted"
fi
for s in "${SCENARIOS[@]}"; do
    [[ $s == direct || $s == keyward-signed ]] && continue
    expect 200 "$s with the right token" -H "Authorization: Bearer $(cred_for "$s")" "$BASE/b/$s"
    expect 401 "$s without a token" "$BASE/b/$s"
    expect 401 "$s with a wrong token" -H "Authorization: Bearer $(wrong_for "$s")" "$BASE/b/$s"
    u=$(seen_user "$BASE/v/$s" "$(cred_for "$s")")
    [[ -n $u ]] || warn "$s: nginx got no X-Auth-User from the check"
    wrong=" a wrong token"; [[ $s == keyward-jwt || $s == keyward-svcjwt ]] && wrong=" a tampered signature"
    say "check $s: 200 with token (user '${u}'), 401 without, 401 with$wrong"
done

# ---------------------------------------------------------------- benchmark
say ""

run_wrk() {   # run_wrk scenario seconds -> raw output in $T/wrk/...
    if [[ $1 == keyward-signed ]]; then
        BENCH_SIGN_KEYID=$SIGN_KEYID BENCH_SIGN_SECRET_HEX=$SIGN_SECRET_HEX BENCH_SIGN_TARGET_URI=$BASE/b/$1 \
            timeout --foreground 60 wrk -t1 -c"$CONNS" -d"$2" --latency -s "$ROOT/bench/signed-request.lua" "$BASE/b/$1" 2>&1 </dev/null
        return
    fi
    timeout --foreground 60 wrk -t1 -c"$CONNS" -d"$2" --latency -H "Authorization: Bearer $(cred_for "$1")" "$BASE/b/$1" 2>&1 </dev/null
}
parse_wrk() {  # stdin: wrk output -> "rps p50_ms p99_ms requests non2xx sockerr"
    awk '
        function ms(v) { if (v ~ /us$/) return (v + 0) / 1000; if (v ~ /ms$/) return v + 0;
                         if (v ~ /m$/) return (v + 0) * 60000; if (v ~ /s$/) return (v + 0) * 1000; return v + 0 }
        /Requests\/sec/           { rps = $2 }
        /^[[:space:]]+50%/        { p50 = ms($2) }
        /^[[:space:]]+99%/        { p99 = ms($2) }
        /requests in/             { reqs = $1 }
        /Non-2xx or 3xx/          { non = $NF }
        /Socket errors/           { err = ($4 + 0) + ($6 + 0) + ($8 + 0) + ($10 + 0) }
        END { printf "%s %s %s %s %d %d\n", (rps == "" ? 0 : rps), (p50 == "" ? 0 : p50), (p99 == "" ? 0 : p99),
                                             (reqs == "" ? 0 : reqs), non + 0, err + 0 }'
}

# Is something else eating the CPU? A parallel `swift build` halves the figures and skews the ratios.
# Per run: CPU time of the whole machine (/proc/stat) minus that of our processes (nginx, the apps,
# and wrk through this shell's reaped-children times) = CPU used by everything else.
sys_ticks() {  # "busy total" in clock ticks since boot
    # busy = user + nice + system + steal. irq/softirq time is left out: it is mostly our own loopback
    # traffic, and the kernel charges it to no process.
    local c
    read -r -a c </proc/stat
    local total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$(( total + c[i] )); done
    echo "$(( c[1] + c[2] + c[3] + c[8] )) $total"
}
our_ticks() {  # our servers (timeout wrappers and all their descendants) + this shell's reaped children
    local pids=() p kids t=0 f
    for p in $NGINX_PID $KW_PID $BARE_PID; do pids+=("$p"); done
    local i=0
    while (( i < ${#pids[@]} )); do
        kids=$(pgrep -P "${pids[i]}" 2>/dev/null || true)
        for p in $kids; do pids+=("$p"); done
        i=$(( i + 1 ))
    done
    for p in "${pids[@]}"; do
        f=$(sed 's/^.*) //' /proc/"$p"/stat 2>/dev/null) || continue
        read -r -a f <<<"$f"
        t=$(( t + f[11] + f[12] ))
    done
    f=$(sed 's/^.*) //' /proc/$$/stat)
    read -r -a f <<<"$f"
    echo $(( t + f[13] + f[14] ))
}
foreign_pct() {  # foreign_pct "busy0 total0" ours0 "busy1 total1" ours1
    local a=($1) b=($3)
    local total=$(( b[1] - a[1] )) other=$(( (b[0] - a[0]) - ($4 - $2) ))
    (( other < 0 )) && other=0
    (( total > 0 )) && echo $(( 100 * other / total )) || echo 0
}
s0=$(sys_ticks); o0=$(our_ticks); sleep 1
BUSY=$(foreign_pct "$s0" "$o0" "$(sys_ticks)" "$(our_ticks)")
if (( BUSY > 10 )); then
    warn "the machine is busy before the benchmark starts (${BUSY}% CPU used by other processes); figures will be noisy"
fi

say "warm-up (2 s each)"
for s in "${SCENARIOS[@]}"; do run_wrk "$s" 2s >"$T/wrk/warmup-$s.txt"; done

RESULTS=$T/results.tsv
: >"$RESULTS"
for r in $(seq "$ROUNDS"); do
    for s in "${SCENARIOS[@]}"; do
        s0=$(sys_ticks); o0=$(our_ticks)
        run_wrk "$s" "$DURATION" >"$T/wrk/$s-$r.txt" || true
        other=$(foreign_pct "$s0" "$o0" "$(sys_ticks)" "$(our_ticks)")
        read -r rps p50 p99 reqs non err < <(parse_wrk <"$T/wrk/$s-$r.txt")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$r" "$rps" "$p50" "$p99" "$non" "$err" "$other" >>"$RESULTS"
        printf '  round %d %-14s %10s req/s  p50 %7.3f ms  p99 %7.3f ms  requests %-7s non-2xx %s  socket-errors %s  other-cpu %s%%\n' \
            "$r" "$s" "$rps" "$p50" "$p99" "$reqs" "$non" "$err" "$other"
        [[ $rps != 0 ]] || { cat "$T/wrk/$s-$r.txt" >&2; fail "wrk produced no result for $s"; }
        sleep 1
    done
done

# Any errors nginx logged while benchmarking (e.g. connect() to the socket failed)?
NGINX_ERRS=$(grep -c -E '\[(error|crit|alert|emerg)\]' "$T/nginx/error.log" 2>/dev/null || true)

say ""
set +e
python3 - "$RESULTS" "${NGINX_ERRS:-0}" "$BUSY" <<'PY'
import sys, statistics
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
nginx_errors = int(sys.argv[2])
busy = int(sys.argv[3])
order = []
data = {}
other_max = 0
for s, r, rps, p50, p99, non, err, other in rows:
    other_max = max(other_max, int(other))
    if s not in data:
        order.append(s)
        data[s] = {"rps": [], "p50": [], "p99": [], "non": 0, "err": 0}
    d = data[s]
    d["rps"].append(float(rps)); d["p50"].append(float(p50)); d["p99"].append(float(p99))
    d["non"] += int(non); d["err"] += int(err)
med = {s: {k: statistics.median(data[s][k]) for k in ("rps", "p50", "p99")} for s in order}

print(f"{'scenario':<15}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>9}{'sock-err':>10}   runs (req/s)")
for s in order:
    m, d = med[s], data[s]
    runs = " / ".join(f"{v/1000:.1f}k" for v in d["rps"])
    print(f"{s:<15}{m['rps']:>10.0f}{m['p50']:>10.3f}{m['p99']:>10.3f}{d['non']:>9}{d['err']:>10}   {runs}")
print("(medians over the rounds; p50/p99 are the medians of each run's wrk --latency figures)")
print()

def ratio(a, b):
    if a in med and b in med and med[b]["rps"] > 0:
        r = med[a]["rps"] / med[b]["rps"]
        print(f"{a + '/' + b:<24} {r:5.2f}x  req/s")
        return r
    return None
kb = ratio("keyward", "bare")
jk = ratio("keyward-jwt", "keyward")
ak = ratio("keyward-access", "keyward")
hk = ratio("keyward-signed", "keyward")
sk = ratio("keyward-svckey", "keyward")
sj = ratio("keyward-svcjwt", "keyward")
ratio("keyward-jwt", "bare")
ratio("keyward", "direct")
ratio("bare", "direct")
print()

problems = []
for s in ("bare", "keyward", "keyward-jwt", "keyward-signed", "keyward-access", "keyward-svckey", "keyward-svcjwt"):
    if s in data and data[s]["non"]:
        problems.append(f"{data[s]['non']} non-2xx responses in {s} runs")
    if s in data and data[s]["err"]:
        problems.append(f"{data[s]['err']} socket errors in {s} runs")
if nginx_errors:
    problems.append(f"{nginx_errors} error lines in nginx's error log")
for p in problems:
    print(f"WARN: {p}")
if busy > 10 or other_max > 10:
    print(f"WARN: other processes used up to {max(busy, other_max)}% of the CPU during the benchmark "
          "(other-cpu); the figures are skewed: rerun on an idle machine")

if kb is None:
    print("TARGET keyward >= 0.9x bare: MISS (keyward not measured)")
    sys.exit(3)

def target(label, r, scenarios, floor=0.9):
    bad = [p for p in problems if "nginx" in p or any(p.endswith(f" {s} runs") for s in scenarios)]
    ok = r is not None and r >= floor and not bad
    why = "" if ok else (" (not measured)" if r is None else f" ({r:.2f}x)" if r < floor
                         else " (results not valid: " + "; ".join(bad) + ")")
    print(f"TARGET {label}: {'PASS' if ok else 'MISS'}{why}")
    return ok
ok1 = target("keyward >= 0.9x bare", kb, ("keyward",))
ok2 = target("jwt check >= 0.9x api-key check", jk, ("keyward", "keyward-jwt"))
ok3 = target("resource check >= 0.9x api-key check", ak, ("keyward", "keyward-access"))
ok4 = target("service-key check >= 0.9x api-key check", sk, ("keyward", "keyward-svckey"))
ok5 = target("service-jwt check >= 0.9x api-key check", sj, ("keyward", "keyward-svcjwt"))
ok6 = target("RFC 9421 hmac-sha256 check >= 0.8x api-key check", hk, ("keyward", "keyward-signed"), floor=0.8)
sys.exit(0 if ok1 and ok2 and ok3 and ok4 and ok5 and ok6 else 2)
PY
TARGET_RC=$?
set -e
if [[ $NGINX_ERRS != 0 ]]; then
    echo "----- nginx error log (first lines)"; grep -E '\[(error|crit|alert|emerg)\]' "$T/nginx/error.log" | head -n 5
fi

# ---------------------------------------------------------------- openssl speed and the in-process micro-benchmark
# Both run with nginx and the apps stopped, one after the other, single-threaded.
stop_servers
MICRO=$(dirname "$KEYWARD_BIN")/keyward-bench
VERIFY_RC=0
if [[ $NO_KEYWARD != 1 && -x $MICRO ]]; then
    say ""
    # openssl speed runs before and after keyward-bench and the two are averaged, so that drift in the
    # machine during the ~1.5 minutes hits both sides alike. It prints rates per second of user CPU time;
    # keyward-bench's JWTVERIFY/SIGVERIFY lines are per second of thread CPU time: the same basis.
    OSSL=${BENCH_NO_OPENSSL:-0}
    openssl_pass() {  # openssl_pass N -> $T/openssl-<prim>-N.txt
        local prim
        for prim in ed25519 ecdsap256 rsa2048; do
            timeout 60 openssl speed -seconds 3 "$prim" </dev/null >"$T/openssl-$prim-$1.txt" 2>&1 \
                || { cat "$T/openssl-$prim-$1.txt" >&2; fail "openssl speed $prim failed"; }
        done
        say "openssl speed -seconds 3, pass $1 of 2 ($(openssl version | awk '{print $1, $2}')):"
        grep -h '^Doing .*verify\|^Doing .*public' "$T"/openssl-*-"$1".txt | sed 's/^/  /' || true
    }
    openssl_rate() {  # openssl_rate prim pattern -> mean verify/s over both passes
        local f
        for f in "$T/openssl-$1-1.txt" "$T/openssl-$1-2.txt"; do
            awk -v pat="$2" '$0 ~ pat && $NF ~ /^[0-9.]+$/ {v=$NF} END {print v}' "$f"
        done | awk 'NF {s += $1; n++} END {if (n == 2) printf "%.1f\n", s / n}'
    }
    if [[ $OSSL != 1 ]]; then openssl_pass 1; say ""; fi
    say "in-process micro-benchmark: $MICRO"
    timeout 150 "$MICRO" </dev/null | tee "$T/micro.txt" || fail "keyward-bench failed (exit $?)"
    if [[ $OSSL != 1 ]]; then
        say ""
        openssl_pass 2
        OSSL_ED=$(openssl_rate ed25519 'EdDSA [(]Ed25519[)]')
        OSSL_ES=$(openssl_rate ecdsap256 'ecdsa [(]nistp256[)]')
        OSSL_RS=$(openssl_rate rsa2048 '^rsa 2048 bits')
        for v in "$OSSL_ED" "$OSSL_ES" "$OSSL_RS"; do
            [[ -n $v ]] || { cat "$T"/openssl-*.txt >&2; fail "could not read verify/s from openssl speed"; }
        done
    fi

    say ""
    set +e
    python3 - "$T/micro.txt" "${OSSL_ED:-}" "${OSSL_ES:-}" "${OSSL_RS:-}" <<'PY'
import sys
kw = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 3 and f[0] in ("JWTVERIFY", "SIGVERIFY"):
        kw[(f[0], f[1])] = float(f[2])
ossl = dict(zip(("EdDSA", "ES256", "RS256"), (float(v) if v else None for v in sys.argv[2:5])))
if not kw:
    print("WARN: keyward-bench printed no JWTVERIFY lines; no verification table")
    sys.exit(2)
print("JWT verification, keyward in-process vs openssl speed (ops per CPU second; openssl: mean of its 2 passes;")
print("cost = keyward time / openssl time)")
print(f"{'alg':<7}{'keyward jwt/s':>14}{'keyward sig/s':>15}{'openssl/s':>11}{'jwt cost':>10}{'sig cost':>10}")
print(f"{'':<7}{'(parse+verify)':>14}{'(verify only)':>15}")
ok = True
lines = []
for alg in ("EdDSA", "ES256", "RS256"):
    jwt, sig, o = kw.get(("JWTVERIFY", alg)), kw.get(("SIGVERIFY", alg)), ossl.get(alg)
    jc = o / jwt if (o and jwt) else None
    sc = o / sig if (o and sig) else None
    show = lambda v, fmt: format(v, fmt) if v is not None else "-"
    print(f"{alg:<7}{show(jwt, '>14.0f')}{show(sig, '>15.0f')}{show(o, '>11.0f')}"
          f"{(show(jc, '>9.2f') + 'x') if jc else '-':>10}{(show(sc, '>9.2f') + 'x') if sc else '-':>10}")
    if jc is None:
        lines.append(f"TARGET jwt verify within 1.15x of openssl {alg}: MISS (not measured)")
        ok = False
    else:
        passed = jc <= 1.15
        ok = ok and passed
        lines.append(f"TARGET jwt verify within 1.15x of openssl {alg}: {'PASS' if passed else 'MISS'} ({jc:.2f}x)")
print()
for l in lines:
    print(l)
sys.exit(0 if ok else 2)
PY
    VERIFY_RC=$?
    set -e
else
    say ""
    say "(no in-process micro-benchmark and no openssl comparison: $MICRO not found)"
fi

if [[ $TARGET_RC == 3 ]]; then exit 0; fi      # keyward skipped on purpose (BENCH_NO_KEYWARD=1)
if [[ ($TARGET_RC != 0 || $VERIFY_RC != 0) && ${BENCH_STRICT:-0} == 1 ]]; then exit 1; fi
exit 0
