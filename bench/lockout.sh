#!/usr/bin/env bash
# bench/lockout.sh -- the cost of a flood of failing credentials, and a valid user's latency during
# one (issue 8, item 5). Keyward behind nginx auth_request with the repo's snippets, all on loopback.
#
# Keyward runs with --trusted-proxy 127.0.0.1/32, so each wrk run is a client of its own through
# X-Forwarded-For, and with --failure-limit $BENCH_FAILURE_LIMIT (default 20, so that priming an
# address over its limit with password sign-ins takes seconds, not minutes) per --failure-window 1h.
#
# Runs (wrk -t1, $BENCH_DURATION each; a "probe" is wrk -c1: one valid user, one request at a time):
#   valid            -c$BENCH_FLOOD_CONNECTIONS valid API key: Keyward CPU per valid check (the unit of
#                    cost), measured before the floods and again after them; the mean is used
#   probe idle       the valid user's check latency, no flood
#   flood garbage    -cN bad keys that fail the CRC32 from an address over its limit: 429s, no store access
#   flood unknown    -cN well-formed keys with random public ids (each a store lookup miss): 429s
#   flood wrong      -cN the real key's id with random secrets (a cached lookup and an HMAC): 429s
#   flood + probe    flood unknown with the probe from the same address (a NAT) and from another one
#   signin idle      the owner's sign-in (password + device cookie) latency, no flood
#   signin flood     -cN sign-ins for unknown users from 200 addresses (none reaches its limit): scrypt
#                    for some, 429 "busy" for the rest; alone, then with the owner's sign-in probe and
#                    with the check probe
#   signin refused   -cN sign-ins from an address over its limit: 429 before any hashing
# Keyward's CPU comes from /proc/<pid>/stat (all threads, the audit writer included); per request it
# is that CPU over the requests wrk completed. Figures are compared as ratios within the one run.
#
# Env: KEYWARD_BIN (default .build/release/keyward), BENCH_DURATION (5s), BENCH_FLOOD_CONNECTIONS (16),
#      BENCH_APP_THREADS (4), BENCH_NGINX_WORKERS (2), BENCH_FAILURE_LIMIT (20), BENCH_KEEP=1 (keep the temp dir)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEYWARD_BIN=${KEYWARD_BIN:-.build/release/keyward}
if [[ $KEYWARD_BIN != /* ]]; then
    if [[ -e $PWD/$KEYWARD_BIN ]]; then KEYWARD_BIN=$PWD/$KEYWARD_BIN; else KEYWARD_BIN=$ROOT/$KEYWARD_BIN; fi
fi
DURATION=${BENCH_DURATION:-5s}
FLOOD=${BENCH_FLOOD_CONNECTIONS:-16}
APP_THREADS=${BENCH_APP_THREADS:-4}
NGINX_WORKERS=${BENCH_NGINX_WORKERS:-2}
LIMIT=${BENCH_FAILURE_LIMIT:-20}
LIFETIME=600
HZ=$(getconf CLK_TCK)

say()  { printf '%s\n' "$*"; }
warn() { printf 'WARN: %s\n' "$*" >&2; }
fail() { echo "FAIL: $*" >&2; exit 1; }

for tool in nginx wrk curl python3 timeout pgrep; do
    command -v "$tool" >/dev/null || fail "$tool not found"
done
[[ -x $KEYWARD_BIN ]] || fail "keyward binary not found at $KEYWARD_BIN (swift build -c release, or set KEYWARD_BIN)"

T=$(mktemp -d /tmp/keyward-lockout-bench.XXXXXX)
chmod 755 "$T"
mkdir -p "$T/nginx/tmp" "$T/wrk"
NGINX_PID= KW_PID=

stop_one() {
    local pid=$1 i
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; }
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_one "$NGINX_PID"
    stop_one "$KW_PID"
    if [[ $rc != 0 ]]; then
        for f in "$T/setup.log" "$T/nginx/error.log" "$T/keyward.log"; do
            [[ -s $f ]] && { echo "----- tail $f" >&2; tail -n 20 "$f" >&2; }
        done
    fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "kept $T" >&2; else rm -rf "$T"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- keyward
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
KW=("$KEYWARD_BIN" --db "$T/kw.db")
PASSWORD="bench password $RANDOM$RANDOM"
{
    timeout 60 "${KW[@]}" init
    timeout 60 "${KW[@]}" user add bench
    printf '%s\n' "$PASSWORD" | timeout 60 "${KW[@]}" user passwd bench --password-stdin
} >>"$T/setup.log" 2>&1 </dev/null || fail "keyward init / user add / passwd failed"
timeout 60 "${KW[@]}" key create --user bench --name bench --json >"$T/key.json" 2>>"$T/setup.log" </dev/null || fail "key create failed"
KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$T/key.json")
KEY_ID=${KEY:4:16}

timeout "$LIFETIME" "${KW[@]}" serve --listen "unix:$T/keyward.sock" --socket-mode 0666 --threads "$APP_THREADS" \
    --mount /keyward --trusted-proxy 127.0.0.1/32 --failure-limit "$LIMIT" --failure-window 1h \
    >"$T/keyward.log" 2>&1 </dev/null &
KW_PID=$!
for i in $(seq 150); do [[ -S $T/keyward.sock ]] && break; kill -0 "$KW_PID" || fail "keyward exited"; sleep 0.1; done
KW_PROC=$(pgrep -P "$KW_PID" | head -n 1)
[[ -n $KW_PROC ]] || fail "no keyward process under its timeout wrapper"

# ---------------------------------------------------------------- nginx
USER_LINE=
[[ $(id -u) == 0 ]] && USER_LINE="user www-data;"
cat >"$T/nginx/nginx.conf" <<EOF
# generated by bench/lockout.sh
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
    server {
        listen 127.0.0.1:$PORT;
        include $ROOT/nginx/keyward.conf;
        include $ROOT/nginx/keyward-endpoints.conf;
        location = /b/keyward { include $ROOT/nginx/keyward-protect.conf; empty_gif; }
    }
}
EOF
timeout 30 nginx -t -q -p "$T/nginx/" -c "$T/nginx/nginx.conf" </dev/null >"$T/nginx-t.log" 2>&1 || { cat "$T/nginx-t.log" >&2; fail "nginx -t"; }
timeout "$LIFETIME" nginx -p "$T/nginx/" -c "$T/nginx/nginx.conf" -g 'daemon off;' </dev/null >"$T/nginx.out" 2>&1 &
NGINX_PID=$!
for i in $(seq 100); do curl -s -o /dev/null --max-time 1 "$BASE/keyward/healthz" && break; sleep 0.1; done

# ---------------------------------------------------------------- wrk scripts
# Requests made per request in Lua: random well-formed credentials need the CRC32 tail.
cat >"$T/common.lua" <<'LUA'
local bit = require("bit")
local B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
local crcTable = {}
for i = 0, 255 do
    local c = i
    for _ = 1, 8 do
        if bit.band(c, 1) == 1 then c = bit.bxor(bit.rshift(c, 1), 0xEDB88320) else c = bit.rshift(c, 1) end
    end
    crcTable[i] = c
end
function crc32(s)
    local c = 0xFFFFFFFF
    for i = 1, #s do c = bit.bxor(crcTable[bit.band(bit.bxor(c, s:byte(i)), 0xFF)], bit.rshift(c, 8)) end
    c = bit.bxor(c, 0xFFFFFFFF)
    if c < 0 then c = c + 4294967296 end
    return c
end
function b62(n, width)
    local out = ""
    repeat
        local d = n % 62
        out = B62:sub(d + 1, d + 1) .. out
        n = math.floor(n / 62)
    until n == 0
    return string.rep("0", width - #out) .. out
end
function rand62(n)
    local t = {}
    for i = 1, n do local d = math.random(62); t[i] = B62:sub(d, d) end
    return table.concat(t)
end
function wellFormed(id)
    local body = "kwk_" .. (id or rand62(16)) .. "_" .. rand62(32)
    return body .. b62(crc32(body), 6)
end
counts = {}
c200, c201, c401, c429, cother = 0, 0, 0, 0, 0
function response(status, headers, body)
    if status == 200 then c200 = c200 + 1 elseif status == 201 then c201 = c201 + 1
    elseif status == 401 then c401 = c401 + 1 elseif status == 429 then c429 = c429 + 1 else cother = cother + 1 end
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
    local t = {0, 0, 0, 0, 0}
    for _, th in ipairs(threads) do
        t[1] = t[1] + th:get("c200"); t[2] = t[2] + th:get("c201"); t[3] = t[3] + th:get("c401")
        t[4] = t[4] + th:get("c429"); t[5] = t[5] + th:get("cother")
    end
    io.write(string.format("STATUS 200=%d 201=%d 401=%d 429=%d other=%d\n", t[1], t[2], t[3], t[4], t[5]))
end
function init(args) math.randomseed(os.time() + math.floor(os.clock() * 1000000)) end
LUA
cat >"$T/flood-check.lua" <<'LUA'
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local kind, ip, keyId = os.getenv("FLOOD_KIND"), os.getenv("FLOOD_IP"), os.getenv("KEY_ID")
request = function()
    local key
    if kind == "garbage" then key = "kwk_" .. rand62(16) .. "_" .. rand62(38)
    elseif kind == "wrong" then key = wellFormed(keyId)
    else key = wellFormed(nil) end
    return wrk.format("GET", "/b/keyward", {["Authorization"] = "Bearer " .. key, ["X-Forwarded-For"] = ip})
end
LUA
cat >"$T/flood-signin.lua" <<'LUA'
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local fixedIp = os.getenv("FLOOD_IP")
request = function()
    local ip = fixedIp ~= "" and fixedIp or ("10.77." .. math.random(0, 9) .. "." .. math.random(1, 20))
    local body = '{"user":"ghost-' .. rand62(8) .. '","password":"guess"}'
    return wrk.format("POST", "/keyward/admin/api/session",
        {["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip}, body)
end
LUA
cat >"$T/probe-signin.lua" <<'LUA'
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
wrk.method = "POST"
wrk.body = os.getenv("SIGNIN_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Forwarded-For"] = "192.0.2.1"
wrk.headers["Cookie"] = os.getenv("DEVICE_COOKIE")
LUA
export BENCH_LUA_DIR=$T KEY_ID

audit_rows() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM audit").fetchone()[0])' "$T/kw.db"; }
kw_ticks() { local f; f=$(sed 's/^.*) //' "/proc/$KW_PROC/stat"); read -r -a f <<<"$f"; echo $(( f[11] + f[12] )); }
parse() {  # wrk output -> "rps p50_ms p99_ms requests status"
    awk '
        function ms(v) { if (v ~ /us$/) return (v + 0) / 1000; if (v ~ /ms$/) return v + 0;
                         if (v ~ /m$/) return (v + 0) * 60000; if (v ~ /s$/) return (v + 0) * 1000; return v + 0 }
        /Requests\/sec/    { rps = $2 }
        /^[[:space:]]+50%/ { p50 = ms($2) }
        /^[[:space:]]+99%/ { p99 = ms($2) }
        /requests in/      { reqs = $1 }
        /^STATUS/          { st = $2 " " $3 " " $4 " " $5 " " $6 }
        END { printf "%s %s %s %s %s\n", rps + 0, p50 + 0, p99 + 0, reqs + 0, (st == "" ? "-" : st) }'
}
RESULTS=$T/results.txt
: >"$RESULTS"
record() {  # name file ticks [audit rows] -> one line in $RESULTS: name rps p50 p99 requests cpu_us_per_request statuses
    local name=$1 file=$2 ticks=$3 rows=${4:-} rps p50 p99 reqs st
    read -r rps p50 p99 reqs st < <(parse <"$file")
    local cpu=0
    (( reqs > 0 )) && cpu=$(python3 -c "print(round($ticks * 1e6 / $HZ / $reqs, 1))")
    printf '%s %s %s %s %s %s %s %s\n' "$name" "$rps" "$p50" "$p99" "$reqs" "$cpu" "$st" "$rows" >>"$RESULTS"
    printf '  %-26s %9s req/s  p50 %8.3f ms  p99 %8.3f ms  requests %-7s keyward CPU %7s us/req  %s%s\n' \
        "$name" "$rps" "$p50" "$p99" "$reqs" "$cpu" "$st" "${rows:+  audit rows +$rows}"
}
alone() {  # name wrk-args...: one wrk run, with Keyward's CPU over it and the audit rows it wrote
    local name=$1; shift
    local a0 t0 ticks
    sleep 1.5    # earlier requests' audit rows are written first
    a0=$(audit_rows); t0=$(kw_ticks)
    timeout --foreground 60 wrk -t1 -d"$DURATION" --latency "$@" >"$T/wrk/$name.txt" 2>&1 </dev/null || true
    ticks=$(( $(kw_ticks) - t0 ))
    sleep 1.5    # the audit is written about once a second
    record "$name" "$T/wrk/$name.txt" "$ticks" $(( $(audit_rows) - a0 ))
}
together() {  # flood-name probe-name [flood args] -- [probe args]: both at once; CPU is the pair's
    local fname=$1 pname=$2; shift 2
    local fargs=() pargs=()
    while [[ $1 != -- ]]; do fargs+=("$1"); shift; done
    shift
    pargs=("$@")
    local t0; t0=$(kw_ticks)
    timeout --foreground 60 wrk -t1 -d"$DURATION" --latency "${fargs[@]}" >"$T/wrk/$fname.txt" 2>&1 </dev/null &
    local fp=$!
    sleep 0.3
    timeout --foreground 60 wrk -t1 -d"$DURATION" --latency "${pargs[@]}" >"$T/wrk/$pname.txt" 2>&1 </dev/null || true
    wait "$fp" || true
    local ticks=$(( $(kw_ticks) - t0 ))
    record "$fname" "$T/wrk/$fname.txt" "$ticks"
    record "$pname" "$T/wrk/$pname.txt" 0
}
code() { timeout --foreground 10 curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$@" || true; }
expect() { local want=$1 what=$2; shift 2; local got; got=$(code "$@"); [[ $got == "$want" ]] || fail "$what: expected $want, got $got"; }

say "Keyward lock-out bench: $(nproc) cores shared by wrk, nginx ($NGINX_WORKERS workers) and keyward ($APP_THREADS threads)"
say "keyward: $KEYWARD_BIN; --failure-limit $LIMIT; floods wrk -t1 -c$FLOOD, probes wrk -t1 -c1; $DURATION each"
FLOOD_IP=198.51.100.7
expect 200 "a valid key" -H "Authorization: Bearer $KEY" -H "X-Forwarded-For: $FLOOD_IP" "$BASE/b/keyward"
expect 401 "a bad key" -H "Authorization: Bearer kwk_bad" -H "X-Forwarded-For: 192.0.2.254" "$BASE/b/keyward"
AUTH=(-H "Authorization: Bearer $KEY")
VALID=(-s "$T/common.lua" "${AUTH[@]}")   # for wrk: common.lua only counts the statuses
say ""
say "warm-up"
timeout --foreground 30 wrk -t1 -c"$FLOOD" -d2s "${VALID[@]}" -H "X-Forwarded-For: 192.0.2.50" "$BASE/b/keyward" >/dev/null 2>&1 || true
say "checks"
alone "valid (c$FLOOD)" -c"$FLOOD" "${VALID[@]}" -H "X-Forwarded-For: 192.0.2.50" "$BASE/b/keyward"
alone "probe idle" -c1 "${VALID[@]}" -H "X-Forwarded-For: $FLOOD_IP" "$BASE/b/keyward"
for i in $(seq $(( LIMIT + 5 ))); do code -H "Authorization: Bearer kwk_bad$i" -H "X-Forwarded-For: $FLOOD_IP" "$BASE/b/keyward" >/dev/null; done
expect 429 "a bad key from the address over its limit" -H "Authorization: Bearer kwk_bad" -H "X-Forwarded-For: $FLOOD_IP" "$BASE/b/keyward"
expect 200 "a valid key from the address over its limit" "${AUTH[@]}" -H "X-Forwarded-For: $FLOOD_IP" "$BASE/b/keyward"
export FLOOD_IP
for kind in garbage unknown wrong; do
    export FLOOD_KIND=$kind
    alone "flood $kind" -c"$FLOOD" -s "$T/flood-check.lua" "$BASE/b/keyward"
done
export FLOOD_KIND=unknown
alone "valid again (c$FLOOD)" -c"$FLOOD" "${VALID[@]}" -H "X-Forwarded-For: 192.0.2.50" "$BASE/b/keyward"
together "flood unknown (+same)" "probe same address" -c"$FLOOD" -s "$T/flood-check.lua" "$BASE/b/keyward" -- \
    -c1 "${VALID[@]}" -H "X-Forwarded-For: $FLOOD_IP" "$BASE/b/keyward"
together "flood unknown (+other)" "probe other address" -c"$FLOOD" -s "$T/flood-check.lua" "$BASE/b/keyward" -- \
    -c1 "${VALID[@]}" -H "X-Forwarded-For: 192.0.2.60" "$BASE/b/keyward"

say "sign-ins"
SIGNIN_BODY=$(python3 -c 'import json,sys; print(json.dumps({"user": "bench", "password": sys.argv[1]}))' "$PASSWORD")
DEVICE_COOKIE=$(timeout 10 curl -s -D - -o /dev/null --max-time 5 -H 'Content-Type: application/json' -H 'X-Forwarded-For: 192.0.2.1' \
    --data "$SIGNIN_BODY" "$BASE/keyward/admin/api/session" | tr -d '\r' | awk -F': ' 'tolower($1)=="set-cookie" && $2 ~ /^keyward_device=/ { split($2, a, ";"); print a[1] }')
[[ -n $DEVICE_COOKIE ]] || fail "no keyward_device cookie from the owner's sign-in"
export SIGNIN_BODY DEVICE_COOKIE
alone "signin idle" -c1 -s "$T/probe-signin.lua" "$BASE/keyward/admin/api/session"
export FLOOD_IP=
alone "signin flood" -c"$FLOOD" -s "$T/flood-signin.lua" "$BASE/keyward/admin/api/session"
together "signin flood (+owner)" "signin during flood" -c"$FLOOD" -s "$T/flood-signin.lua" "$BASE/keyward/admin/api/session" -- \
    -c1 -s "$T/probe-signin.lua" "$BASE/keyward/admin/api/session"
together "signin flood (+check)" "probe during signin flood" -c"$FLOOD" -s "$T/flood-signin.lua" "$BASE/keyward/admin/api/session" -- \
    -c1 "${VALID[@]}" -H "X-Forwarded-For: 192.0.2.61" "$BASE/b/keyward"
# An address over its limit: prime it with LIMIT wrong sign-ins (one scrypt each, each for another
# name: one name allows 10 per client), then flood from it.
for i in $(seq "$LIMIT"); do
    code -H 'Content-Type: application/json' -H 'X-Forwarded-For: 10.88.0.1' --data "{\"user\":\"ghost$i\",\"password\":\"guess\"}" \
        "$BASE/keyward/admin/api/session" >/dev/null
done
expect 429 "a sign-in from the address over its limit" -H 'Content-Type: application/json' -H 'X-Forwarded-For: 10.88.0.1' \
    --data '{"user":"ghost","password":"guess"}' "$BASE/keyward/admin/api/session"
export FLOOD_IP=10.88.0.1
alone "signin refused" -c"$FLOOD" -s "$T/flood-signin.lua" "$BASE/keyward/admin/api/session"

NGINX_ERRS=$(grep -c -E '\[(error|crit|alert|emerg)\]' "$T/nginx/error.log" 2>/dev/null || true)
say ""
python3 - "$RESULTS" "${NGINX_ERRS:-0}" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    parts = line.split()
    # the name may hold spaces: the last 5 numeric fields and the status words come after it
    i = next(k for k, p in enumerate(parts) if p.replace(".", "", 1).isdigit())
    name = " ".join(parts[:i])
    rps, p50, p99, reqs, cpu = (float(x) for x in parts[i:i + 5])
    rows[name] = dict(rps=rps, p50=p50, p99=p99, reqs=reqs, cpu=cpu, status=" ".join(parts[i + 5:i + 10]),
                      audit=int(parts[i + 10]) if len(parts) > i + 10 else None)
def r(a, b):
    return a / b if b else float("nan")
valid_runs = [rows[k]["cpu"] for k in rows if k.startswith("valid")]
valid = round(sum(valid_runs) / len(valid_runs), 1)   # measured before and after the floods
print("Keyward CPU per request, against a valid check's:")
for k in ("flood garbage", "flood unknown", "flood wrong", "signin refused", "signin idle"):
    print(f"RATIO cost {k:<15} / valid check  {r(rows[k]['cpu'], valid):6.2f}   ({rows[k]['cpu']} us vs {valid} us)")
print(f"RATIO cost signin refused / signin hashed  {r(rows['signin refused']['cpu'], rows['signin idle']['cpu']):6.3f}")
print("Audit rows written per 1,000 refused requests (past the limit, a client's refusals are audited at each doubling):")
for k in ("flood garbage", "flood unknown", "flood wrong", "signin refused"):
    print(f"AUDIT {k:<15} {r(rows[k]['audit'] * 1000, rows[k]['reqs']):8.2f}   ({rows[k]['audit']} rows for {rows[k]['reqs']:.0f} requests)")
print("A valid user's latency during a flood, against no flood (p50, and p99):")
idle = rows["probe idle"]
for k, label in (("probe same address", "check, flood from the same address"), ("probe other address", "check, flood from another address"),
                 ("probe during signin flood", "check, sign-in flood")):
    print(f"RATIO {label:<38} p50 {r(rows[k]['p50'], idle['p50']):5.2f}  p99 {r(rows[k]['p99'], idle['p99']):5.2f}"
          f"   ({rows[k]['p50']:.3f} / {rows[k]['p99']:.3f} ms vs {idle['p50']:.3f} / {idle['p99']:.3f} ms)")
s_idle, s_flood = rows["signin idle"], rows["signin during flood"]
print(f"RATIO {'sign-in with device cookie, sign-in flood':<38} p50 {r(s_flood['p50'], s_idle['p50']):5.2f}  p99 {r(s_flood['p99'], s_idle['p99']):5.2f}"
      f"   ({s_flood['p50']:.1f} / {s_flood['p99']:.1f} ms vs {s_idle['p50']:.1f} / {s_idle['p99']:.1f} ms)")
for k in ("flood garbage", "flood unknown", "flood wrong", "signin refused"):
    st = rows[k]["status"]
    if "200=0" not in st or "other=0" not in st:
        print(f"WARN: {k}: unexpected statuses {st}")
for k in ("probe idle", "probe same address", "probe other address", "probe during signin flood"):
    st = rows[k]["status"]
    if not ("401=0" in st and "429=0" in st and "other=0" in st):
        print(f"WARN: {k}: the valid user was refused: {st}")
if int(sys.argv[2]):
    print(f"WARN: nginx logged {sys.argv[2]} errors")
PY
