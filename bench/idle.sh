#!/usr/bin/env bash
# bench/idle.sh -- what 1,000 idle FastCGI connections cost the checks (issue 8, item 4).
#
# One nginx (nginx/keyward.conf and nginx/keyward-protect.conf verbatim, 2 workers) in front of one
# `keyward serve` on a unix socket; wrk -t1 -c32 against a protected path with an API key, in two
# scenarios that alternate round by round on the same processes:
#   quiet   nothing else on Keyward's socket
#   held    Tests/EndToEnd/fcgi_idle.py holds 1,000 kept-alive connections (each sent one check
#           with FCGI_KEEP_CONN, then went quiet) and keeps 100 silent ones coming (the head
#           timeout closes them every 2 s; the holder opens them again)
# Prints each run, the medians, and held/quiet for req/s and p99 latency.
#
# Env: KEYWARD_BIN (default .build/release/keyward), BENCH_DURATION (5s), BENCH_ROUNDS (3),
#      BENCH_APP_THREADS (4), BENCH_KEEP=1 keeps the temp dir.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEYWARD_BIN=${KEYWARD_BIN:-$ROOT/.build/release/keyward}
DURATION=${BENCH_DURATION:-5s}
ROUNDS=${BENCH_ROUNDS:-3}
THREADS=${BENCH_APP_THREADS:-4}
for tool in nginx wrk curl python3 timeout; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool not found" >&2; exit 1; }
done
[[ -x $KEYWARD_BIN ]] || { echo "FAIL: no keyward binary at $KEYWARD_BIN (make release)" >&2; exit 1; }
ulimit -n 8192

T=$(mktemp -d /tmp/keyward-bench-idle.XXXXXX)
chmod 755 "$T"
mkdir -p "$T/nginx/tmp" "$T/nginx/logs"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    [[ ${BENCH_KEEP:-0} == 1 ]] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DB=$T/keyward.db
"$KEYWARD_BIN" --db "$DB" init >/dev/null
"$KEYWARD_BIN" --db "$DB" user add bench >/dev/null
KEY=$("$KEYWARD_BIN" --db "$DB" key create --user bench --name bench --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
timeout 600 "$KEYWARD_BIN" --db "$DB" serve --listen "unix:$T/kw.sock" --socket-mode 0666 --threads "$THREADS" \
    --failure-limit 0 2>"$T/keyward.log" &
PIDS+=($!)
cat >"$T/nginx/nginx.conf" <<EOF
user www-data;
worker_processes 2;
pid $T/nginx/nginx.pid;
error_log $T/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $T/nginx/tmp/body;
    fastcgi_temp_path $T/nginx/tmp/fastcgi;
    proxy_temp_path $T/nginx/tmp/proxy;
    scgi_temp_path $T/nginx/tmp/scgi;
    uwsgi_temp_path $T/nginx/tmp/uwsgi;
    upstream keyward { server unix:$T/kw.sock; }
    server {
        listen 127.0.0.1:$PORT;
        include $ROOT/nginx/keyward.conf;
        location /api/ {
            include $ROOT/nginx/keyward-protect.conf;
            empty_gif;          # not `return`: it would run before auth_request
        }
    }
}
EOF
for i in $(seq 100); do [[ -S $T/kw.sock ]] && break; sleep 0.1; done
timeout 600 nginx -e "$T/nginx/logs/error.log" -p "$T/nginx/" -c "$T/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/x")
[[ $code == 200 ]] || { echo "FAIL: the check answered $code, not 200" >&2; cat "$T/keyward.log" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/x")
[[ $code == 401 ]] || { echo "FAIL: without a key the check answered $code, not 401" >&2; exit 1; }

hold() { # holds the connections of the `held` scenario until killed
    python3 "$ROOT/Tests/EndToEnd/fcgi_idle.py" "unix:$T/kw.sock" --keep 1000 --key "$KEY" --hold 600 --ready "$T/held" \
        >/dev/null 2>&1 &
    HOLDER=$!
    ( while true; do python3 "$ROOT/Tests/EndToEnd/fcgi_idle.py" "unix:$T/kw.sock" --idle 100 --hold 2.5 >/dev/null 2>&1; done ) &
    CHURN=$!
    PIDS+=("$HOLDER" "$CHURN")
    for i in $(seq 300); do [[ -s $T/held ]] && break; sleep 0.1; done
}
release() { kill "$CHURN" "$HOLDER" 2>/dev/null || true; wait "$CHURN" "$HOLDER" 2>/dev/null || true; rm -f "$T/held"; sleep 0.5; }

run() { # scenario round -> "rps p99ms"
    wrk -t1 -c32 -d"$DURATION" --latency -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/x" >"$T/$1-$2.txt" 2>&1
    python3 - "$T/$1-$2.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
def ms(v):
    n, u = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[u]
p99 = ms(re.search(r"99%\s+(\S+)", t).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(f"{rps:.0f} {p99:.2f} {bad.group(1) if bad else 0}")
PY
}

echo "wrk -t1 -c32 -d$DURATION --latency, $ROUNDS rounds, keyward --threads $THREADS, unix socket"
wrk -t1 -c32 -d2s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/x" >/dev/null 2>&1   # warm-up
declare -A RPS P99
for r in $(seq "$ROUNDS"); do
    read -r rps p99 bad < <(run quiet "$r")
    printf '  round %d quiet  %8s req/s  p99 %7s ms  non-2xx %s\n' "$r" "$rps" "$p99" "$bad"
    RPS[quiet]+="$rps " P99[quiet]+="$p99 "
    hold
    read -r rps p99 bad < <(run held "$r")
    printf '  round %d held   %8s req/s  p99 %7s ms  non-2xx %s  (%s)\n' "$r" "$rps" "$p99" "$bad" "$(cat "$T/held" 2>/dev/null | cut -d' ' -f1-2)"
    RPS[held]+="$rps " P99[held]+="$p99 "
    release
done
python3 - "${RPS[quiet]}" "${RPS[held]}" "${P99[quiet]}" "${P99[held]}" <<'PY'
import statistics, sys
rq, rh, pq, ph = ([float(x) for x in a.split()] for a in sys.argv[1:5])
mq, mh, lq, lh = map(statistics.median, (rq, rh, pq, ph))
print(f"median quiet {mq:.0f} req/s (p99 {lq:.2f} ms), held {mh:.0f} req/s (p99 {lh:.2f} ms)")
print(f"held/quiet: throughput {mh / mq:.2f}x, p99 latency {lh / lq:.2f}x")
PY
