#!/usr/bin/env bash
# Keyward end-to-end: consumer approval (CentraSite) through real nginx. A user asks for a
# resource, its owner (or an admin) approves from the command line, sendmail(8) carries the mails,
# and the key issued works through nginx on that resource and nowhere else.
#
# nginx uses the repository's files unchanged, included by absolute path:
#   nginx/keyward.conf            the internal check location and the JSON error pages
#   nginx/keyward-endpoints.conf  /keyward/ -> Keyward as a FastCGI responder (--mount /keyward),
#                                 where the one-time links /keyward/admin/reveal/<token> live
#   nginx/keyward-protect.conf    inside the protected `location /api/`
#
# sendmail is a capturing script ($T/sendmail): each message (its stdin) lands in $T/mail/N.eml and
# its arguments in $T/mail/N.args. Two configurations share the database: $T/link.conf mails a
# one-time link (public_url = http://127.0.0.1:<nginx>/keyward), $T/inline.conf mails the secret
# itself (mail_secret_inline = true, CentraSite's behaviour).
#
# Usage:  Tests/EndToEnd/04-approval.sh
# Env:    KEYWARD_BIN         keyward binary (default: <repo>/.build/debug/keyward)
#         KEYWARD_E2E_KEEP    1 = keep the temporary directory (it is always kept after a failure)
#         KEYWARD_E2E_VERBOSE 1 = show keyward / nginx log tails after a failure
#
# Output: `ok - <check>` / `not ok - <check> (detail)` per check, then `N passed, N failed`.
# Exit 1 when any check failed or the suite could not run. Needs root (nginx drops to www-data),
# nginx, curl, python3; loopback only (ports: see free_ports in lib.sh). About 10 s.

set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SUITE="approval suite"

require_tools "apt-get install nginx curl python3; the Makefile does this" nginx python3 curl timeout
require_root "nginx starts as root and drops to www-data"
require_repo_files nginx/example-site.conf nginx/keyward.conf nginx/keyward-protect.conf nginx/keyward-endpoints.conf

make_tmpdir keyward-approval
mkdir -p "$T/mail"

# Free loopback ports (KEYWARD_E2E_PORTS=LOW-HIGH narrows the range): nginx and the backend.
read -r P_NGX P_BACKEND <<<"$(free_ports 2)"
[ -n "${P_BACKEND:-}" ] || bail "could not pick free ports"
BASE=http://127.0.0.1:$P_NGX

# ---------------------------------------------------------------------------------------------
# sendmail stand-in and the two configurations
# ---------------------------------------------------------------------------------------------
make_sendmail
mail_config "$T/link.conf" "public_url = $BASE/keyward"
mail_config "$T/inline.conf" "mail_secret_inline = true"


# ---------------------------------------------------------------------------------------------
# Keyward: users (with and without addresses), resources owned by bob
# ---------------------------------------------------------------------------------------------
kw_init
for u in alice:alice@example.test bob:bob@example.test carol:carol@example.test dave: erin:erin@example.test; do
    name=${u%%:*} email=${u#*:}
    if [ -n "$email" ]; then
        kw user add "$name" --email "$email" >/dev/null || bail "user add $name --email failed: $(tail -n 3 "$CLI_LOG")"
    else
        kw user add "$name" >/dev/null || bail "user add $name failed: $(tail -n 3 "$CLI_LOG")"
    fi
done
kw resource add billing --path /api/billing/ --method GET --owner bob >/dev/null || bail "resource add billing failed: $(tail -n 3 "$CLI_LOG")"
kw resource add reports --path /api/reports/ --owner bob >/dev/null || bail "resource add reports failed: $(tail -n 3 "$CLI_LOG")"
# A key of erin's that expires soon, for notify-expiring.
mkkey erin --user erin --name soon --expires 3d --scope /api/reports/

start_keyward kw keyward "unix:$T/kw.sock" --config "$T/link.conf" --socket-mode 0666 --threads 2 --mount /keyward --failure-limit 0
wait_keywards
start_backend
start_nginx_site ngx "$T/nginx" "$P_NGX" "$T/kw.sock" --endpoints

call() { # secret method path -> $CODE (through nginx)
    http -X "$2" -H "Authorization: Bearer $1" "$BASE$3"
}

# ---------------------------------------------------------------------------------------------
# 1. Request (CLI) -> the owner is mailed
# ---------------------------------------------------------------------------------------------
echo "# request, approve, two mails, one-time link"
out=$(kw --config "$T/link.conf" access request --user alice --resource billing --note "monthly invoices" --json)
expect_eq "access request exits 0" 0 "$?"
printf '%s' "$out" >"$T/cli/request-1.json"
REQ=$(jget "$T/cli/request-1.json" request.id)
expect_eq "the request is pending" pending "$(jget "$T/cli/request-1.json" request.status)"
expect_eq "the owner is mailed about the request" "bob:sent" \
    "$(jget "$T/cli/request-1.json" mail.0.user):$(jget "$T/cli/request-1.json" mail.0.result)"
expect_eq "one mail captured after the request" 1 "$(mails)"
expect_eq "the request mail goes to the owner" bob@example.test "$(mail_header 1 To)"
expect_has "the request mail says how to approve" "$(mail_body 1)" "keyward access approve $REQ"
expect_eq "sendmail runs with -t -i" "-t -i" "$(mail_args 1)"
kw --config "$T/link.conf" access request --user alice --resource billing >/dev/null
expect_eq "a second pending request for the same resource is refused (exit 1)" 1 "$?"
kw access list --status pending --json >"$T/cli/pending.json"
expect_eq "access list --status pending --json lists it" "$REQ:alice:billing" \
    "$(jget "$T/cli/pending.json" 0.id):$(jget "$T/cli/pending.json" 0.user):$(jget "$T/cli/pending.json" 0.resource)"

# ---------------------------------------------------------------------------------------------
# 2. Approve (CLI) -> two mails: the requester's with key id, expiry and link; the owner's without
# ---------------------------------------------------------------------------------------------
kw --config "$T/link.conf" access approve "$REQ" --expires 20d --json >"$T/cli/approve-1.json"
expect_eq "access approve exits 0" 0 "$?"
KEY=$(jget "$T/cli/approve-1.json" request.key_id)
expect_eq "the request is approved" approved "$(jget "$T/cli/approve-1.json" request.status)"
if [[ $KEY =~ ^kwk_[0-9A-Za-z]{16}$ ]]; then ok "approval issues a key ($KEY)"; else notok "approval issues a key" "kwk_<16>" "$KEY"; fi
expect_eq "two more mails captured after the approval" 3 "$(mails)"
expect_eq "mail 2 goes to the requester" alice@example.test "$(mail_header 2 To)"
expect_eq "mail 3 goes to the owner" bob@example.test "$(mail_header 3 To)"
for n in 2 3; do
    for h in From Date Message-ID MIME-Version Auto-Submitted; do
        [ -n "$(mail_header $n $h)" ] && ok "mail $n has $h" || notok "mail $n has $h" "a $h header" "none"
    done
    expect_eq "mail $n is text/plain; charset=utf-8" "text/plain; charset=utf-8" "$(mail_header $n Content-Type)"
    expect_has "mail $n names the key id" "$(mail_body $n)" "$KEY"
done
expect_has "the requester's mail names the expiry" "$(mail_body 2)" "expires   $(date -u -d @"$(jget "$T/cli/approve-1.json" request.expires_at)" +%Y-%m-%dT%H:%M:%SZ)"
LINK=$(grep -o "$BASE/keyward/admin/reveal/[0-9A-Za-z]*" "$(mail_file 2)" | head -n 1)
[ -n "$LINK" ] && ok "the requester's mail carries a one-time link under public_url" || notok "the requester's mail carries a link" "$BASE/keyward/admin/reveal/..." "$(mail_body 2)"
expect_lacks "the owner's mail carries no link" "$(mail_body 3)" "/admin/reveal/"
kw key show "$KEY" --json >"$T/cli/key-1.json"
expect_eq "the key is alice's" alice "$(jget "$T/cli/key-1.json" user)"
expect_eq "the key is scoped to the resource's methods and path" '["GET:/api/billing/"]' "$(jget "$T/cli/key-1.json" scopes)"
kw resource show billing --json >"$T/cli/billing.json"
expect_has "alice joined the resource's audience" "$(jget "$T/cli/billing.json" audience)" "user:alice"
kw --config "$T/link.conf" access approve "$REQ" >/dev/null
expect_eq "approving again is refused (exit 1)" 1 "$?"

# The link: GET shows a button and uses nothing up; POST reveals once; then 410.
http "$LINK"
expect_eq "GET on the link: 200" 200 "$CODE"
expect_has "GET on the link shows a POST button" "$(cat "$T/r.body")" 'method="post"'
expect_eq "GET on the link: Cache-Control no-store" no-store "$(hdr Cache-Control)"
http "$LINK"
expect_eq "a second GET (a mail scanner) still leaves the link usable" 200 "$CODE"
http -X POST -H "Accept: application/json" "$LINK"
expect_eq "POST on the link: 200" 200 "$CODE"
expect_eq "POST on the link: Cache-Control no-store" no-store "$(hdr Cache-Control)"
cp "$T/r.body" "$T/cli/revealed.json"
ALICE=$(jget "$T/cli/revealed.json" secret)
expect_eq "the revealed secret belongs to the key" "$KEY" "${ALICE:0:20}"
http -X POST -H "Accept: application/json" "$LINK"
expect_eq "POST on the link again: 410" 410 "$CODE"
expect_eq "the used link's code is link_used_or_expired" link_used_or_expired "$(jget "$T/r.body" error)"
http "$LINK"
expect_eq "GET on the used link: 410" 410 "$CODE"
SECRETS+=("$ALICE")

# ---------------------------------------------------------------------------------------------
# 3. Inline mode (mail_secret_inline): the secret in the mail; the key works through nginx on the
#    resource only
# ---------------------------------------------------------------------------------------------
echo "# inline secret, the key through nginx"
kw --config "$T/inline.conf" access request --user carol --resource billing --json >"$T/cli/request-2.json" ||
    notok "carol's request" "exit 0" "$?"
before=$(mails)
out=$(kw --config "$T/inline.conf" access approve "#$(jget "$T/cli/request-2.json" request.id)" --expires 1d)
expect_has "approve prints who was mailed" "$out" "mailed carol <carol@example.test> (access.approve)"
expect_eq "two mails for the inline approval" $((before + 2)) "$(mails)"
n=$((before + 1))
expect_eq "the inline mail goes to the requester" carol@example.test "$(mail_header $n To)"
CAROL=$(grep -oE 'kwk_[0-9A-Za-z]{16}_[0-9A-Za-z]{38}' "$(mail_file $n)" | head -n 1)
[ -n "$CAROL" ] && ok "the inline mail carries the secret" || notok "the inline mail carries the secret" "kwk_..._..." "$(mail_body $n)"
expect_lacks "the owner's confirmation carries no secret" "$(cat "$(mail_file $((n + 1)))")" "${CAROL:21}"
expect_lacks "the inline mail carries no link" "$(mail_body $n)" "/admin/reveal/"
SECRETS+=("$CAROL")

for who in carol alice; do
    sec=$CAROL
    [ $who = alice ] && sec=$ALICE
    [ -n "$sec" ] || { notok "$who has an approved secret to try" "a secret" "none"; continue; }
    call "$sec" GET /api/billing/invoices/1
    expect_eq "$who's approved key: GET /api/billing/invoices/1 through nginx: 200" 200 "$CODE"
    expect_eq "$who's approved key: the application sees the requester" "$who" "$(jget "$T/r.body" headers.x-auth-user)"
    call "$sec" POST /api/billing/invoices/1
    expect_eq "$who's approved key: POST (not a method of the resource): 403" 403 "$CODE"
    call "$sec" GET /api/reports/daily
    expect_eq "$who's approved key: another resource: 403" 403 "$CODE"
    call "$sec" GET /api/other
    expect_eq "$who's approved key: a path under no resource: 403" 403 "$CODE"
done
call "kwk_AAAAAAAAAAAAAAAA_${CAROL:21}" GET /api/billing/x
expect_eq "a forged key on the resource: 401" 401 "$CODE"

# ---------------------------------------------------------------------------------------------
# 4. Rejection, and a requester without an address
# ---------------------------------------------------------------------------------------------
echo "# reject, no address"
kw --config "$T/link.conf" access request --user alice --resource reports --note "read only" --json >"$T/cli/request-3.json"
R3=$(jget "$T/cli/request-3.json" request.id)
before=$(mails)
out=$(kw --config "$T/link.conf" access reject "$R3" --reason "use the billing API")
expect_eq "access reject exits 0" 0 "$?"
expect_eq "one mail for the rejection" $((before + 1)) "$(mails)"
expect_eq "the rejection goes to the requester" alice@example.test "$(mail_header $((before + 1)) To)"
expect_has "the rejection carries the reason" "$(mail_body $((before + 1)))" "use the billing API"
kw access show "$R3" --json >"$T/cli/show-3.json"
expect_eq "access show: rejected" rejected "$(jget "$T/cli/show-3.json" status)"
expect_eq "a rejected request has no key" "" "$(jget "$T/cli/show-3.json" key_id)"
kw --config "$T/link.conf" access approve "$R3" >/dev/null
expect_eq "approving a rejected request is refused (exit 1)" 1 "$?"

kw --config "$T/link.conf" access request --user dave --resource reports --json >"$T/cli/request-4.json"
before=$(mails)
out=$(kw --config "$T/link.conf" access approve "$(jget "$T/cli/request-4.json" request.id)")
expect_has "approve says the requester has no address" "$out" "not mailed: dave has no e-mail address"
expect_has "approve says how to hand out a secret" "$out" "keyward key regenerate"
expect_eq "only the owner is mailed" $((before + 1)) "$(mails)"

# ---------------------------------------------------------------------------------------------
# 5. notify-expiring: once per key
# ---------------------------------------------------------------------------------------------
echo "# notify-expiring"
before=$(mails)
kw --config "$T/link.conf" notify-expiring --within 2d --json >"$T/cli/notify-0.json"
expect_eq "notify-expiring --within 2d mails carol (her key of 1d) only" "1 carol sent" \
    "$(jget "$T/cli/notify-0.json" sent) $(jget "$T/cli/notify-0.json" mail.0.user) $(jget "$T/cli/notify-0.json" mail.0.result)"
kw --config "$T/link.conf" notify-expiring --within 7d --json >"$T/cli/notify-1.json"
expect_eq "notify-expiring --within 7d mails erin's key (and not carol's again)" 1 "$(jget "$T/cli/notify-1.json" sent)"
expect_eq "two notices in all" $((before + 2)) "$(mails)"
expect_eq "the notice goes to erin" erin@example.test "$(mail_header $((before + 2)) To)"
expect_has "the notice names the key" "$(mail_body $((before + 2)))" "${KID[erin]}"
kw --config "$T/link.conf" notify-expiring --within 7d --json >"$T/cli/notify-2.json"
expect_eq "a second run sends nothing" 0 "$(jget "$T/cli/notify-2.json" sent)"
kw key renew "${KID[erin]}" --expires 5d >/dev/null
kw --config "$T/link.conf" notify-expiring --within 7d --json >"$T/cli/notify-3.json"
expect_eq "after a renewal the key is announced again" 1 "$(jget "$T/cli/notify-3.json" sent)"
# alice's key (20d) and dave's (30d, no address) are due within 31d; a missing sendmail fails the run.
kw --config "$T/link.conf" notify-expiring --within 31d --sendmail "$T/no-such-sendmail" --json >"$T/cli/notify-4.json"
expect_eq "notify-expiring with a missing sendmail exits 1" 1 "$?"
expect_eq "its notices, soonest first: alice's mail failed, dave has no address" "alice:failed dave:no_email" \
    "$(jget "$T/cli/notify-4.json" mail.0.user):$(jget "$T/cli/notify-4.json" mail.0.result) $(jget "$T/cli/notify-4.json" mail.1.user):$(jget "$T/cli/notify-4.json" mail.1.result)"
expect_has "the failure names the missing sendmail" "$(jget "$T/cli/notify-4.json" mail.0.error)" "missing or not executable"
kw --config "$T/link.conf" notify-expiring --within 31d --json >"$T/cli/notify-5.json"
expect_eq "the failed notice goes out on the next run" 1 "$(jget "$T/cli/notify-5.json" sent)"
expect_eq "... to alice" alice@example.test "$(mail_header "$(mails)" To)"

# ---------------------------------------------------------------------------------------------
# 6. Audit, and secrets only where they belong
# ---------------------------------------------------------------------------------------------
echo "# audit"
kw audit list --json --limit 500 >"$T/cli/audit.json"
actions=$(python3 -c 'import json,sys; print(" ".join(e["action"] for e in json.load(open(sys.argv[1]))))' "$T/cli/audit.json")
for a in access.request access.approve access.reject key.create key.expiry.notify; do
    expect_has "the audit has $a" "$actions" "$a"
done
kw audit verify >/dev/null
expect_eq "the audit chain is intact" 0 "$?"
leaks=""
for sec in "${SECRETS[@]}"; do
    [ -n "$sec" ] || continue
    grep -q -F -e "${sec:21}" "$T/cli/audit.json" "$T"/logs/*.log "$CLI_LOG" "$T"/cli/approve-*.json "$DB"* && leaks="$leaks ${sec:0:20}"
done
expect_eq "no secret in the audit, logs, approval output or the database" "" "$leaks"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
