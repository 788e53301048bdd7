#!/usr/bin/env bash
# Keyward end-to-end: signed requests (issue 12, items 4-6) through real nginx, Apache and
# lighttpd, signed by real client libraries (Tests/EndToEnd/signed.py):
#   * RFC 9421 HTTP Message Signatures made by the Python `http-message-signatures` and
#     `requests-http-signature` libraries (hmac-sha256 and ed25519 credentials, kwh_...), and the
#     seed's Java-style `Authorization: HMAC <id>:<base64 HMAC-SHA256(secret, body)>` made with
#     Python's hmac, and the bare `HMAC <mac>` on a path nginx binds to one credential;
#   * nginx with the body: nginx/keyward-signed.conf (Keyward as the location's responder, the body
#     passed, X-Accel-Redirect to a named location with nginx/keyward-signed-identity.conf), where
#     bodies are verified; nginx's auth_request check (nginx/example-site.conf), Apache
#     (apache/keyward.conf, example-site.conf) and lighttpd (lighttpd/keyward.conf) in authorizer
#     mode, where the body cannot reach Keyward: signatures over the body and the HMAC forms are
#     refused (body_unavailable), bodiless signed requests pass;
#   * refused with their codes: tampered body, tampered path, replayed nonce, stale or future
#     created, wrong key, alg swaps, missing components, unknown keyid;
#   * `keyward signature explain` on a request the library signed prints the same base.
#
# Usage:  Tests/EndToEnd/14-signed.sh        (KEYWARD_BIN, KEYWARD_E2E_KEEP/VERBOSE/TRACE as in lib.sh)
# Needs root, nginx, apache2, lighttpd, curl, openssl, python3 with requests, cryptography,
# http-message-signatures and requests-http-signature (pip-installed when missing); loopback
# only. About 15 s.

set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SUITE="signed-requests suite"

require_tools "apt-get install nginx apache2 lighttpd curl python3 python3-pip openssl; the Makefile does this" \
    nginx apache2 lighttpd curl python3 openssl timeout
require_root "nginx, Apache and lighttpd start as root and drop to www-data"
require_repo_files nginx/keyward-signed.conf nginx/keyward-signed-identity.conf nginx/example-site.conf \
    apache/keyward.conf apache/example-site.conf lighttpd/keyward.conf lighttpd/keyward-server.conf
PY_IMPORTS="import requests, cryptography, http_message_signatures, requests_http_signature"
if ! python3 -c "$PY_IMPORTS" 2>/dev/null; then
    timeout 600 python3 -m pip install --quiet --disable-pip-version-check requests cryptography \
        http-message-signatures requests-http-signature ||
        bail "pip install http-message-signatures requests-http-signature failed for $(command -v python3) (PyPI unreachable, no pip, or an externally managed Python: use a venv)"
    python3 -c "$PY_IMPORTS" || bail "python3 cannot import $PY_IMPORTS even after pip install"
fi

make_tmpdir keyward-signed
read -r P_NGX P_AP P_LT P_BACKEND P_KW_TCP <<<"$(free_ports 5)"
[ -n "${P_KW_TCP:-}" ] || bail "could not pick free ports"

# ---------------------------------------------------------------------------------------------
# Keyward: alice's credentials (hmac-sha256 generated, hmac-sha256 supplied the seed's way, ed25519)
# ---------------------------------------------------------------------------------------------
kw_init
add_users alice
kw hmac create --user alice --name client --json >"$T/cli/hmac.json" || bail "hmac create failed: $(tail -n 3 "$CLI_LOG")"
HMAC_ID=$(jget "$T/cli/hmac.json" id)
HMAC_SECRET=$(jget "$T/cli/hmac.json" secret)
[ -n "$HMAC_ID" ] && [ -n "$HMAC_SECRET" ] || bail "hmac create --json gave no id/secret"
SEED_SECRET="pdfc-$RANDOM$RANDOM-shared-secret"
printf '%s\n' "$SEED_SECRET" | kw hmac create --user alice --name pdfc --secret-stdin --json >"$T/cli/seed.json" ||
    bail "hmac create --secret-stdin failed: $(tail -n 3 "$CLI_LOG")"
SEED_ID=$(jget "$T/cli/seed.json" id)
openssl genpkey -algorithm ed25519 -out "$T/cli/ed25519.key" 2>>"$CLI_LOG" || bail "openssl genpkey ed25519 failed"
openssl pkey -in "$T/cli/ed25519.key" -pubout -out "$T/cli/ed25519.pub" 2>>"$CLI_LOG" || bail "openssl pkey -pubout failed"
kw hmac create --user alice --name signer --alg ed25519 --public-key-stdin --json <"$T/cli/ed25519.pub" >"$T/cli/ed.json" ||
    bail "hmac create --alg ed25519 failed: $(tail -n 3 "$CLI_LOG")"
ED_ID=$(jget "$T/cli/ed.json" id)
listing=$(kw hmac list; kw hmac list --json; kw audit list --json)
expect_lacks "hmac list and the audit never show the generated secret" "$listing" "$HMAC_SECRET"
expect_lacks "hmac list and the audit never show the supplied secret" "$listing" "$SEED_SECRET"

start_keyward kw keyward "unix:$T/kw.sock" --socket-mode 0666 --threads 4 --failure-limit 0 --mount /keyward
start_keyward kw_tcp keyward-tcp "127.0.0.1:$P_KW_TCP" --threads 4 --failure-limit 0
wait_keywards
start_backend

# ---------------------------------------------------------------------------------------------
# nginx: the example site (auth_request on /api/) plus two locations with the body, written the
# way nginx/keyward-signed.conf tells a site to
# ---------------------------------------------------------------------------------------------
mkdir -p "$T/nginx"
{
    printf '# generated by %s: locations with the body, as nginx/keyward-signed.conf describes them\n' "$E2E_SCRIPT"
    printf 'location /signed/ {\n    include keyward/keyward-signed.conf;\n    fastcgi_param KEYWARD_NEXT @signed_app;\n}\n'
    printf 'location /pdfc/ {\n    include keyward/keyward-signed.conf;\n    fastcgi_param KEYWARD_NEXT @signed_app;\n'
    printf '    fastcgi_param KEYWARD_HMAC_CREDENTIAL %s;\n}\n' "$SEED_ID"
    printf 'location @signed_app {\n    include keyward/keyward-signed-identity.conf;\n'
    printf '    proxy_set_header X-Auth-User       $keyward_user;\n'
    printf '    proxy_set_header X-Auth-Credential $keyward_credential;\n'
    printf '    proxy_set_header X-Auth-Method     $keyward_method;\n'
    printf '    proxy_set_header Authorization     "";\n'
    printf '    proxy_pass http://example_app;\n}\n'
} >"$T/nginx/signed-locations.conf"
start_nginx_site nginx "$T/nginx" "$P_NGX" "$T/kw.sock" --workers 2 --endpoints --server "$T/nginx/signed-locations.conf"

# Apache: apache/keyward.conf and apache/example-site.conf (/api/ -> the backend).
start_apache_site apache "$T/apache" "$P_AP" "$P_KW_TCP"

# lighttpd: lighttpd/keyward.conf on /api/, proxied to the backend once allowed.
mkdir -p "$T/lighttpd"
printf 'server.modules += ( "mod_proxy" )\n$HTTP["url"] =^ "/api/" { proxy.server = ( "" => (( "host" => "127.0.0.1", "port" => %s )) ) }\n' \
    "$P_BACKEND" >"$T/lighttpd/handlers.conf"
start_lighttpd_site lighttpd "$T/lighttpd" "$P_LT" --protect "$T/kw.sock" /api/ --after "$T/lighttpd/handlers.conf"

# ---------------------------------------------------------------------------------------------
# The clients
# ---------------------------------------------------------------------------------------------
openssl pkey -pubin -in "$T/cli/ed25519.pub" -outform DER -out "$T/cli/ed25519.der" 2>>"$CLI_LOG" || bail "openssl pkey -outform DER failed"
python3 - "$T/signed.json" "$P_NGX" "$P_AP" "$P_LT" "$HMAC_ID" "$HMAC_SECRET" "$SEED_ID" "$SEED_SECRET" "$ED_ID" "$T/cli" <<'PY' ||
import base64, json, sys
out, ngx, ap, lt, hmac_id, hmac_secret, seed_id, seed_secret, ed_id, cli = sys.argv[1:]
json.dump({
    "nginx": f"http://127.0.0.1:{ngx}", "apache": f"http://127.0.0.1:{ap}", "lighttpd": f"http://127.0.0.1:{lt}",
    "hmac": {"id": hmac_id, "secret": hmac_secret},
    "seed": {"id": seed_id, "secret": seed_secret},
    "ed25519": {"id": ed_id, "private_key": f"{cli}/ed25519.key",
                "public_spki": base64.b64encode(open(f"{cli}/ed25519.der", "rb").read()).decode()},
}, open(out, "w"))
PY
    bail "could not write $T/signed.json"
echo "# signed requests from the Python libraries (signed.py)"
(cd "$HERE" && timeout 300 python3 -u "$HERE/signed.py" "$T/signed.json" 2>"$T/logs/signed-py.err") | tee "$T/logs/signed-py.out"
tap_tally "signed.py" "$T/logs/signed-py" "${PIPESTATUS[0]}"

# ---------------------------------------------------------------------------------------------
# keyward signature explain: the base of a request the library signed, and the check's verdict
# ---------------------------------------------------------------------------------------------
echo "# keyward signature explain"
python3 - "$T" "$HMAC_ID" "$HMAC_SECRET" "$P_NGX" <<'PY' || bail "could not sign the request for signature explain"
import base64, datetime, sys
import requests
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver
from http_message_signatures.algorithms import HMAC_SHA256

t, key_id, secret, port = sys.argv[1], sys.argv[2], base64.b64decode(sys.argv[3]), sys.argv[4]


class Keys(HTTPSignatureKeyResolver):
    def resolve_private_key(self, key_id):
        return secret


body = b'{"explain": true}'
r = requests.Request("POST", f"http://127.0.0.1:{port}/signed/explain?y=2", data=body,
                     headers={"Content-Type": "application/json"}).prepare()
signer = HTTPMessageSigner(signature_algorithm=HMAC_SHA256, key_resolver=Keys())
prepared = signer.prepare(r, key_id=key_id, covered_component_ids=("@method", "@target-uri", "content-type"),
                          created=datetime.datetime.now(), nonce="explain-1", body=body)
signer.apply(r, prepared, HMAC_SHA256(private_key=secret).sign(prepared.signature_base))
open(f"{t}/explain.base", "wb").write(prepared.signature_base)
head = f"POST /signed/explain?y=2 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in r.headers.items())
open(f"{t}/explain.http", "wb").write(head.encode() + b"\r\n" + body)
PY
kw signature explain --request-stdin --scheme http <"$T/explain.http" >"$T/explain.out"
expect_eq "signature explain: nothing wrong short of the key (exit 0)" 0 "$?"
python3 - "$T/explain.out" "$T/explain.base" <<'PY' && ok "signature explain prints the base the library signed, byte for byte" ||
import sys
text = open(sys.argv[1], "rb").read().decode()
marker = "no final newline) -----\n"
start = text.index(marker) + len(marker)
printed = text[start:text.index("\n----- end of signature base -----")]
sys.exit(0 if printed.encode() == open(sys.argv[2], "rb").read() else 1)
PY
    notok "signature explain prints the base the library signed" "$(head -c 300 "$T/explain.base")" "$(head -c 300 "$T/explain.out")"
sed 's/^Content-Digest: .*/Content-Digest: sha-256=:AAAA:\r/' "$T/explain.http" | kw signature explain --request-stdin --scheme http >"$T/explain2.out"
expect_eq "signature explain: a wrong Content-Digest exits 1" 1 "$?"
expect_has "signature explain names the digest for this body" "$(cat "$T/explain2.out")" "for this body: sha-256=:"

# ---------------------------------------------------------------------------------------------
# Rotation of a kwh_ credential's secrets (one state machine): a second secret, the client moves,
# the first discarded and refused on the next request, reactivated, deleted with the password;
# a roll. Each request is signed by http-message-signatures and goes through nginx with the body.
# ---------------------------------------------------------------------------------------------
echo "# rotation of a signed-request credential's secrets, through nginx"
PASSWORD="alice's long password"
printf '%s\n' "$PASSWORD" | kw user passwd alice --password-stdin >/dev/null || bail "user passwd failed: $(tail -n 3 "$CLI_LOG")"
kw hmac create --user alice --name rotating --json >"$T/cli/rot.json" || bail "hmac create failed: $(tail -n 3 "$CLI_LOG")"
ROT_ID=$(jget "$T/cli/rot.json" id)
ROT_1=$(jget "$T/cli/rot.json" secret)
signed_post() { # signed_post SECRET LABEL -> $CODE, $T/r.hdr: a POST to /signed/rotation, signed for $ROT_ID
    local out
    out=$(python3 - "$P_NGX" "$ROT_ID" "$1" "$2" <<'PY'
import base64, datetime, sys
import requests
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver
from http_message_signatures.algorithms import HMAC_SHA256

port, key_id, secret, label = sys.argv[1], sys.argv[2], base64.b64decode(sys.argv[3]), sys.argv[4]


class Keys(HTTPSignatureKeyResolver):
    def resolve_private_key(self, key_id):
        return secret


body = ('{"step": "%s"}' % label).encode()
r = requests.Request("POST", f"http://127.0.0.1:{port}/signed/rotation", data=body,
                     headers={"Content-Type": "application/json"}).prepare()
signer = HTTPMessageSigner(signature_algorithm=HMAC_SHA256, key_resolver=Keys())
signer.sign(r, key_id=key_id, covered_component_ids=("@method", "@target-uri", "content-digest"),
            created=datetime.datetime.now(), nonce=f"rotation-{label}", body=body)
res = requests.Session().send(r, timeout=10)
print(res.status_code, res.headers.get("X-Auth-Error-Code", "-"))
PY
    )
    CODE=${out%% *}
    ERRCODE=${out##* }
}
signed_post "$ROT_1" first
expect_eq "rotation: the first secret signs (200)" 200 "$CODE"
kw hmac secret add "$ROT_ID" --json >"$T/cli/rot2.json"
expect_eq "rotation: hmac secret add exits 0" 0 "$?"
ROT_2=$(jget "$T/cli/rot2.json" secret)
expect_eq "rotation: the second secret is serial 2" 2 "$(jget "$T/cli/rot2.json" serial)"
signed_post "$ROT_2" second
expect_eq "rotation: the second secret signs too (200)" 200 "$CODE"
signed_post "$ROT_1" first-still
expect_eq "rotation: the first still signs while both are active (200)" 200 "$CODE"
kw hmac secret add "$ROT_ID" >/dev/null
expect_eq "rotation: a third active secret is refused (exit 1)" 1 "$?"
expect_has "rotation: the refusal says which rule" "$(tail -n 1 "$CLI_LOG")" "at most two active"
kw hmac secret discard "$ROT_ID" 1 >/dev/null
expect_eq "rotation: hmac secret discard 1 exits 0" 0 "$?"
signed_post "$ROT_1" first-discarded
expect_eq "rotation: the discarded secret is refused on the next request (401)" 401 "$CODE"
expect_eq "rotation: ... as signature_invalid" signature_invalid "$ERRCODE"
signed_post "$ROT_2" second-alone
expect_eq "rotation: the second secret still signs (200)" 200 "$CODE"
kw hmac secret discard "$ROT_ID" 2 >/dev/null
expect_eq "rotation: discarding the only active secret is refused (exit 1)" 1 "$?"
expect_has "rotation: ... at least one stays active" "$(tail -n 1 "$CLI_LOG")" "at least one stays active"
kw hmac secret reactivate "$ROT_ID" 1 >/dev/null
expect_eq "rotation: hmac secret reactivate 1 exits 0" 0 "$?"
signed_post "$ROT_1" first-back
expect_eq "rotation: the reactivated secret signs again (200)" 200 "$CODE"
kw hmac secret discard "$ROT_ID" 1 >/dev/null || notok "rotation: discard 1 again" "exit 0" "$(tail -n 1 "$CLI_LOG")"
printf 'not the password\n' | kw hmac secret delete "$ROT_ID" 1 --password-stdin >/dev/null
expect_eq "rotation: delete with a wrong password is refused (exit 1)" 1 "$?"
printf '%s\n' "$PASSWORD" | kw hmac secret delete "$ROT_ID" 2 --password-stdin >/dev/null
expect_eq "rotation: deleting an active secret is refused (exit 1)" 1 "$?"
printf '%s\n' "$PASSWORD" | kw hmac secret delete "$ROT_ID" 1 --password-stdin >/dev/null
expect_eq "rotation: the inactive secret is deleted with the owner's password" 0 "$?"
kw hmac show "$ROT_ID" --json >"$T/cli/rot-show.json"
expect_eq "rotation: one secret left, serial 2" "2 active" "$(jget "$T/cli/rot-show.json" secrets.0.serial) $(jget "$T/cli/rot-show.json" secrets.0.state)"
kw hmac roll "$ROT_ID" --grace 1h --json >"$T/cli/rot3.json"
expect_eq "rotation: hmac roll --grace 1h exits 0" 0 "$?"
ROT_3=$(jget "$T/cli/rot3.json" secret)
signed_post "$ROT_3" rolled-new
expect_eq "rotation: after a roll the new secret signs (200)" 200 "$CODE"
signed_post "$ROT_2" rolled-old
expect_eq "rotation: ... and the old one until its grace ends (200)" 200 "$CODE"
printf '%s\n' "$PASSWORD" | kw hmac secret reveal "$ROT_ID" 3 --password-stdin --json >"$T/cli/rot-reveal.json"
expect_eq "rotation: hmac secret reveal with the owner's password prints the secret" "$ROT_3" "$(jget "$T/cli/rot-reveal.json" secret)"
rot_audit=$(kw audit list --json)
for action in hmac.secret.add hmac.secret.discard hmac.secret.reactivate hmac.secret.delete hmac.secret.roll hmac.secret.reveal hmac.password.refused; do
    expect_has "rotation: audited as $action" "$rot_audit" "\"$action\""
done
for s in "$ROT_1" "$ROT_2" "$ROT_3"; do
    expect_lacks "rotation: the audit never shows a secret" "$rot_audit" "$s"
done

# ---------------------------------------------------------------------------------------------
# Keyward's own endpoints get the body: the admin API (nginx/keyward-endpoints.conf) takes an
# RFC 9421 signed request with a nonce as it takes an API key, its user holding use-api-key
# ---------------------------------------------------------------------------------------------
echo "# the admin API, signed (nginx/keyward-endpoints.conf)"
add_users ops
must kw role add operators --privilege admin --privilege use-api-key
must kw role grant operators --user ops
kw hmac create --user ops --name automation --json >"$T/cli/ops.json" || bail "hmac create failed: $(tail -n 3 "$CLI_LOG")"
python3 - "$P_NGX" "$(jget "$T/cli/ops.json" id)" "$(jget "$T/cli/ops.json" secret)" "$HMAC_ID" "$HMAC_SECRET" <<'PY' 2>"$T/logs/admin-signed.err" | tee "$T/logs/admin-signed.out"
import base64, datetime, hashlib, hmac, json, sys
import requests
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver
from http_message_signatures.algorithms import HMAC_SHA256

port, ops_id, ops_secret, alice_id, alice_secret = sys.argv[1], sys.argv[2], base64.b64decode(sys.argv[3]), sys.argv[4], base64.b64decode(sys.argv[5])
base = f"http://127.0.0.1:{port}/keyward/admin/api"


failed = 0


def check(name, ok, detail=""):
    global failed
    failed += 0 if ok else 1
    print(("ok - " if ok else "not ok - ") + name + ("" if ok else f" ({detail})"))


def signed(method, path, key_id, secret, body=None, nonce=None, tamper=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    r = requests.Request(method, base + path, data=body, headers=headers).prepare()

    class Keys(HTTPSignatureKeyResolver):
        def resolve_private_key(self, k):
            return secret

    components = ("@method", "@target-uri") + (("content-digest",) if body is not None else ())
    HTTPMessageSigner(signature_algorithm=HMAC_SHA256, key_resolver=Keys()).sign(
        r, key_id=key_id, covered_component_ids=components, created=datetime.datetime.now(), nonce=nonce, body=body)
    if tamper is not None:
        r.body = tamper
        r.headers["Content-Length"] = str(len(tamper))
    return requests.Session().send(r, timeout=10)


me = signed("GET", "/me", ops_id, ops_secret, nonce="admin-1")
check("admin API: an RFC 9421 signed GET /me is ops (200)", me.status_code == 200 and me.json()["user"]["name"] == "ops", me.text)
check("admin API: whoami names the method http-signature and the kwh_ credential",
      me.json().get("auth") == "http-signature" and me.json().get("credential") == ops_id, me.text)
body = json.dumps({"user": "alice", "name": "made-by-a-signed-request", "expires": "7d"}).encode()
made = signed("POST", "/keys", ops_id, ops_secret, body=body, nonce="admin-2")
check("admin API: a signed POST with Content-Digest creates a key (201)", made.status_code == 201, made.text)
check("admin API: ... whose secret is in the answer only", made.json().get("secret", "").startswith("kwk_"), made.text)
other = json.dumps({"user": "alice", "name": "tampered", "expires": "7d"}).encode()
tampered = signed("POST", "/keys", ops_id, ops_secret, body=body, nonce="admin-3", tamper=other)
check("admin API: a tampered body is refused (401 digest_mismatch)",
      tampered.status_code == 401 and "digest_mismatch" in tampered.text, f"{tampered.status_code} {tampered.text}")
replayed = signed("GET", "/me", ops_id, ops_secret, nonce="admin-1")
check("admin API: a replayed nonce is refused (401 signature_replayed)",
      replayed.status_code == 401 and "signature_replayed" in replayed.text, f"{replayed.status_code} {replayed.text}")
mac = base64.b64encode(hmac.new(ops_secret, b"", hashlib.sha256).digest()).decode()
seed = requests.get(base + "/me", headers={"Authorization": f"HMAC {ops_id}:{mac}"}, timeout=10)
check("admin API: the HMAC form is refused (401: it covers no method, path or time)",
      seed.status_code == 401 and "Authorization: HMAC" in seed.text, f"{seed.status_code} {seed.text}")
bare = signed("GET", "/me", ops_id, ops_secret)
check("admin API: a signature without a nonce is refused (401 signature_incomplete)",
      bare.status_code == 401 and "signature_incomplete" in bare.text, f"{bare.status_code} {bare.text}")
plain = signed("GET", "/me", alice_id, alice_secret, nonce="admin-4")
check("admin API: a user without use-api-key is refused after the signature verifies (403)", plain.status_code == 403, plain.text)
sys.exit(1 if failed else 0)
PY
tap_tally "the signed admin API checks" "$T/logs/admin-signed" "${PIPESTATUS[0]}"
expect_eq "admin API: all 9 signed checks ran" 9 "$(grep -c '^\(not \)\?ok - ' "$T/logs/admin-signed.out")"

# ---------------------------------------------------------------------------------------------
# The audit: refusals named by code and credential; no secret in the logs; uses counted
# ---------------------------------------------------------------------------------------------
sleep 1.5   # the check's audit and usage rows are written once a second
audit=$(kw audit list --action check.deny --json)
for reason in digest_mismatch signature_invalid signature_replayed signature_expired algorithm_mismatch body_unavailable signature_incomplete; do
    expect_has "audit: a check.deny with reason $reason" "$audit" "\"reason\" : \"$reason\""
done
expect_has "audit: refusals name the kwh_ credential" "$audit" "\"credential\" : \"$HMAC_ID\""
logs=$(cat "$T"/logs/*.log "$T"/nginx/logs/*.log "$T"/apache/logs/*.log "$T"/lighttpd/logs/*.log 2>/dev/null)
expect_lacks "no server log shows the HMAC secret" "$logs" "$HMAC_SECRET"
expect_lacks "no server log shows the supplied secret" "$logs" "$SEED_SECRET"
kw hmac show "$HMAC_ID" --json >"$T/cli/hmac-show.json"
uses=$(jget "$T/cli/hmac-show.json" credential.use_count)
[ "${uses:-0}" -gt 0 ] && ok "hmac show counts the credential's uses ($uses)" || notok "hmac show counts the credential's uses" "> 0" "${uses:-none}"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
