#!/bin/bash
# `make run`: a live demo on loopback. Keyward (FastCGI, unix socket) behind nginx protecting /demo/,
# with state in .demo/ at the repository root. `make stop` (this script with --stop) ends it.
#   usage: nginx/demo/run.sh KEYWARD_BINARY | --stop        env: DEMO_PORT (default 8787)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
state="$repo/.demo"
port="${DEMO_PORT:-8787}"

stop() {
    [ -f "$state/nginx.pid" ] && kill -QUIT "$(cat "$state/nginx.pid")" 2>/dev/null || true
    [ -f "$state/keyward.pid" ] && kill -TERM "$(cat "$state/keyward.pid")" 2>/dev/null || true
    rm -f "$state/nginx.pid" "$state/keyward.pid"
}
if [ "${1:-}" = "--stop" ]; then stop; echo "demo stopped"; exit 0; fi
keyward="${1:?usage: run.sh KEYWARD_BINARY | --stop}"
stop
sleep 0.3

mkdir -p "$state/www/demo" "$state/logs" "$state/tmp"
chmod 755 "$state" "$state/www" "$state/www/demo"
export KEYWARD_DB="$state/keyward.db"
"$keyward" init >/dev/null
# demo: a key owner who manages their own keys for the resource /demo/; admin: everything.
# Each step only when missing, so a state directory from an older demo is brought up to date.
has() { "$keyward" "$@" >/dev/null 2>&1; }
has user show demo || "$keyward" user add demo >/dev/null
has user show admin || "$keyward" user add admin >/dev/null
has role show self-service || {
    "$keyward" role add self-service --privilege manage-own-keys --privilege use-api-key >/dev/null
    "$keyward" role grant self-service --user demo >/dev/null
}
has role show admins || {
    "$keyward" role add admins --privilege admin --privilege use-api-key >/dev/null
    "$keyward" role grant admins --user admin >/dev/null
}
has resource show demo || "$keyward" resource add demo --path /demo/ --owner demo >/dev/null
# A fresh demo password for both, each run: printed below, kept nowhere else.
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')
for u in demo admin; do printf '%s\n' "$password" | "$keyward" user passwd "$u" --password-stdin >/dev/null; done
secret=$("$keyward" --json key create --user demo --name "demo-$(date +%s)" --expires 1d --scope /demo/ |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])')
echo "Hello from behind Keyward." > "$state/www/demo/index.html"

nohup "$keyward" serve --listen "unix:$state/keyward.sock" --socket-mode 0666 --threads 8 \
    --mount /keyward --issuer "http://127.0.0.1:$port/keyward" \
    >>"$state/logs/keyward.log" 2>&1 &
echo $! > "$state/keyward.pid"

user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user www-data;"
cat > "$state/nginx.conf" <<CONF
$user_line
worker_processes 2;
pid $state/nginx.pid;
error_log $state/logs/nginx-error.log warn;
events { worker_connections 1024; }
http {
    include $repo/nginx/keyward-log.conf;
    access_log $state/logs/nginx-access.log keyward;
    client_body_temp_path $state/tmp/body;
    proxy_temp_path $state/tmp/proxy;
    fastcgi_temp_path $state/tmp/fastcgi;
    uwsgi_temp_path $state/tmp/uwsgi;
    scgi_temp_path $state/tmp/scgi;
    upstream keyward { server unix:$state/keyward.sock; }
    server {
        listen 127.0.0.1:$port;
        include $repo/nginx/keyward.conf;
        include $repo/nginx/keyward-endpoints.conf;     # /keyward/: tokens, admin pages and API
        location /demo/ {
            include $repo/nginx/keyward-protect.conf;
            error_log $state/logs/nginx-error.log alert;   # no ?APIKey= in failed checks' lines
            add_header X-Keyward-User \$keyward_user always;
            add_header X-Keyward-Credential \$keyward_credential always;
            root $state/www;
        }
        location = / { return 302 /keyward/admin/; }
        location / { return 404 "Try /demo/ with your key, or /keyward/admin/ to manage keys.\n"; }
    }
}
CONF
for _ in $(seq 50); do [ -S "$state/keyward.sock" ] && break; sleep 0.1; done
[ -S "$state/keyward.sock" ] || { echo "keyward did not start; see $state/logs/keyward.log" >&2; exit 1; }
nginx -p "$state" -c "$state/nginx.conf"

status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $secret" "http://127.0.0.1:$port/demo/")
[ "$status" = 200 ] || { echo "demo check failed: HTTP $status; see $state/logs/" >&2; exit 1; }
cat <<MSG

Keyward is protecting http://127.0.0.1:$port/demo/ (nginx auth_request -> $state/keyward.sock).
A demo key (scope /demo/, expires in a day) was created for user "demo". Try:

  curl -i -H 'Authorization: Bearer $secret' http://127.0.0.1:$port/demo/
  curl -i http://127.0.0.1:$port/demo/                                    # 401, no key

Manage keys in the browser: http://127.0.0.1:$port/keyward/admin/login
  user "demo" (its own keys) or "admin" (everything), password: $password

Or with the CLI:   KEYWARD_DB=$state/keyward.db $keyward key list
Stop with:         make stop
MSG
