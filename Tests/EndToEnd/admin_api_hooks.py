"""schemathesis hooks for Tests/EndToEnd/05-admin-api.sh (loaded through SCHEMATHESIS_HOOKS).

The fuzzer learns ids from responses (GET /keys lists its own key) and would soon disable or
delete the very key and user it authenticates with, leaving the rest of the run at 401. Requests
aimed at them, or at the role that makes them an admin, go to a harmless name instead; every
operation is still fuzzed with everything else.
"""
import os

import schemathesis

SPARED = {
    os.environ["KW_FUZZ_KEY_ID"]: "kwk_0000000000000000",
    os.environ["KW_FUZZ_USER"]: "spared-user",
    os.environ["KW_FUZZ_ROLE"]: "spared-role",
}


@schemathesis.hook
def before_call(context, case, kwargs):
    params = case.path_parameters or {}
    for name, value in list(params.items()):
        if isinstance(value, str) and any(v in value for v in SPARED):
            params[name] = SPARED.get(value, "spared")
