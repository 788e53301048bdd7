#!/usr/bin/env python3
"""Keyward's admin JSON API through nginx, driven by the client openapi-python-client generates from
docs/admin-openapi.json: the document describes the server well enough for a generated client to
sign in with a key, list, create, show and delete keys, create and roll a signed-request credential,
export the audit and read refusals.

Run by Tests/EndToEnd/05-admin-api.sh after admin_api.py, once it has generated the client; it passes:

    KW_CLIENT              the generator's output directory (it holds keyward_admin_api_client/)
    KW_BASE                http://127.0.0.1:PORT of nginx (Keyward mounted at /keyward)
    KW_FIXTURES            directory with key-<label>.json (CLI --json output): root
    KW_NEW_SECRETS         file to append every secret the API hands out to (leak checks)
    KW_CA                  optional: the CA file to trust for an https KW_BASE (11-strict-clients.sh)

Prints `ok - <check>` / `not ok - <check> (detail)` lines; exit 1 if any check failed.
"""
import base64
import json
import os
import sys
import time
import traceback

from tap import check, expect_eq, finish, note, notok

ENV = os.environ
BASE = ENV["KW_BASE"]
VERIFY = ENV.get("KW_CA") or True
sys.path.insert(0, ENV["KW_CLIENT"])

import httpx  # noqa: E402  (a dependency of the generated client)
from keyward_admin_api_client import AuthenticatedClient, Client  # noqa: E402
from keyward_admin_api_client.api.audit import export_audit  # noqa: E402
from keyward_admin_api_client.api.hmac import (  # noqa: E402
    add_request_key_secret, create_request_key, delete_request_key, discard_request_key_secret, show_request_key)
from keyward_admin_api_client.api.keys import create_key, delete_key, list_keys, show_key  # noqa: E402
from keyward_admin_api_client.api.session import me  # noqa: E402
from keyward_admin_api_client.models import CreatedKey, CreateKeyBody, Error, Key, KeyPage, Me  # noqa: E402
from keyward_admin_api_client.models import (  # noqa: E402
    AddedRequestKeySecret, AddRequestKeySecretBody, CreatedRequestKey, CreateRequestKeyBody, CreateRequestKeyBodyAlgorithm, RequestKey)

with open(os.path.join(ENV["KW_FIXTURES"], "key-root.json")) as f:
    ROOT_FIXTURE = json.load(f)
ROOT_ID, ROOT_KEY = ROOT_FIXTURE["id"], ROOT_FIXTURE["secret"]
ROOT = AuthenticatedClient(base_url=BASE + "/keyward", token=ROOT_KEY, timeout=httpx.Timeout(10), verify_ssl=VERIFY)


def lines(text):
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def main():
    r = me.sync_detailed(client=ROOT)
    who = r.parsed
    check("generated me(): 200, a Me naming root, authenticated by api-key with the key's id",
          r.status_code == 200 and isinstance(who, Me)
          and (who.user.name, who.auth.value, who.credential) == ("root", "api-key", ROOT_ID), f"{r.status_code} {r.content[:200]!r}")

    r = list_keys.sync_detailed(client=ROOT, user="root")
    page = r.parsed
    mine = [k for k in page.items if k.id == ROOT_ID] if isinstance(page, KeyPage) else []
    check("generated list_keys(user=root): a KeyPage with root's key automation, active, never expiring",
          r.status_code == 200 and len(mine) == 1 and (mine[0].user, mine[0].name, mine[0].status.value, mine[0].expires_at)
          == ("root", "automation", "active", None), f"{r.status_code} {r.content[:200]!r}")

    before = int(time.time())
    body = CreateKeyBody(name="generated-client", user="alice", scopes=["/api/reports/"], expires="1h")
    r = create_key.sync_detailed(client=ROOT, body=body)
    made = r.parsed
    if not check("generated create_key(): 201, a CreatedKey for alice with its scope, an hour's life and a kwk_ secret",
                 r.status_code == 201 and isinstance(made, CreatedKey)
                 and (made.user, made.name, made.status.value, made.scopes) == ("alice", "generated-client", "active", ["/api/reports/"])
                 and made.secret.startswith("kwk_") and made.expires_at is not None
                 and before + 3600 - 5 <= made.expires_at <= int(time.time()) + 3600 + 5,
                 f"{r.status_code} {r.content[:200]!r}"):
        return
    with open(ENV["KW_NEW_SECRETS"], "a") as f:
        f.write(made.secret + "\n")
    gate = httpx.get(BASE + "/api/reports/daily/x", headers={"Authorization": "Bearer " + made.secret}, timeout=10, verify=VERIFY)
    expect_eq("the generated client's new key works at the gate (nginx check) for GET /api/reports/daily/x", 200, gate.status_code)

    r = show_key.sync_detailed(made.id, client=ROOT)
    shown = r.parsed
    check("generated show_key(): the same key as a Key, without a secret",
          r.status_code == 200 and isinstance(shown, Key) and (shown.id, shown.user, shown.name) == (made.id, "alice", "generated-client")
          and "secret" not in shown.to_dict(), f"{r.status_code} {r.content[:200]!r}")

    r = export_audit.sync_detailed(client=ROOT, action="key.create", user="root")
    exported = r.parsed if isinstance(r.parsed, str) else ""
    records = lines(exported)
    check("generated export_audit(): application/x-ndjson by default, read as text: a key.create line naming the new key",
          r.status_code == 200 and r.headers.get("Content-Type") == "application/x-ndjson"
          and any(x.get("credential") == made.id and x.get("target") == "user:alice" for x in records)
          and all(x.get("action") == "key.create" for x in records), f"{r.status_code} {r.content[:200]!r}")
    r = export_audit.sync_detailed(client=ROOT.with_headers({"Accept": "text/plain"}), action="key.create", user="root")
    check("... with Accept: text/plain the same lines as text/plain; charset=utf-8",
          r.status_code == 200 and r.headers.get("Content-Type") == "text/plain; charset=utf-8" and r.parsed == exported,
          f"{r.status_code} {r.headers.get('Content-Type')} {r.content[:200]!r}")

    r = me.sync_detailed(client=Client(base_url=BASE + "/keyward", timeout=httpx.Timeout(10), verify_ssl=VERIFY))
    check("generated me() without a credential: 401, parsed as an Error with code unauthenticated",
          r.status_code == 401 and isinstance(r.parsed, Error) and r.parsed.code == "unauthenticated",
          f"{r.status_code} {r.content[:200]!r}")

    r = delete_key.sync_detailed(made.id, client=ROOT)
    expect_eq("generated delete_key(): 204", 204, r.status_code)
    r = show_key.sync_detailed(made.id, client=ROOT)
    check("generated show_key() of the deleted key: 404, parsed as an Error with code not_found",
          r.status_code == 404 and isinstance(r.parsed, Error) and r.parsed.code == "not_found", f"{r.status_code} {r.content[:200]!r}")
    signed_request_credentials()


def signed_request_credentials():
    """A kwh_ credential through the generated hmac operations: create, roll, a refused discard, delete."""
    body = CreateRequestKeyBody(name="generated-signer", user="alice", algorithm=CreateRequestKeyBodyAlgorithm.HMAC_SHA256,
                                scopes=["/api/reports/"], expires="1h")
    r = create_request_key.sync_detailed(client=ROOT, body=body)
    made = r.parsed
    if not check("generated create_request_key(): 201, a CreatedRequestKey (hmac-sha256) with a 32-byte secret, secret 1 active",
                 r.status_code == 201 and isinstance(made, CreatedRequestKey) and made.id.startswith("kwh_")
                 and made.algorithm.value == "hmac-sha256" and isinstance(made.secret, str) and len(base64.b64decode(made.secret)) == 32
                 and [(x.serial, x.state.value) for x in made.secrets] == [(1, "active")], f"{r.status_code} {r.content[:200]!r}"):
        return
    with open(ENV["KW_NEW_SECRETS"], "a") as f:
        f.write(made.secret + "\n")
    r = add_request_key_secret.sync_detailed(made.id, client=ROOT, body=AddRequestKeySecretBody(grace="1h"))
    added = r.parsed
    check("generated add_request_key_secret(grace=1h): 201, an AddedRequestKeySecret: secret 1 retiring, 2 active",
          r.status_code == 201 and isinstance(added, AddedRequestKeySecret) and added.serial == 2 and isinstance(added.secret, str)
          and [(x.serial, x.state.value) for x in added.secrets] == [(1, "retiring"), (2, "active")]
          and isinstance(added.secrets[0].retire_at, int), f"{r.status_code} {r.content[:200]!r}")
    if isinstance(added, AddedRequestKeySecret) and isinstance(added.secret, str):
        with open(ENV["KW_NEW_SECRETS"], "a") as f:
            f.write(added.secret + "\n")
    r = discard_request_key_secret.sync_detailed(made.id, 1, client=ROOT)
    check("generated discard_request_key_secret() of the retiring one: 409, an Error with code conflict",
          r.status_code == 409 and isinstance(r.parsed, Error) and r.parsed.code == "conflict", f"{r.status_code} {r.content[:200]!r}")
    r = show_request_key.sync_detailed(made.id, client=ROOT)
    check("generated show_request_key(): a RequestKey without a secret",
          r.status_code == 200 and isinstance(r.parsed, RequestKey) and "secret" not in r.parsed.to_dict(), f"{r.status_code} {r.content[:200]!r}")
    expect_eq("generated delete_request_key(): 204", 204, delete_request_key.sync_detailed(made.id, client=ROOT).status_code)


if __name__ == "__main__":
    started = time.time()
    try:
        main()
    except Exception:
        notok("admin_client.py ran to the end", traceback.format_exc())
    note(f"the generated client used httpx {httpx.__version__}")
    finish("admin_client.py", started)
