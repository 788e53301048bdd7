"""Reporting shared by the Python end-to-end drivers (tokens.py, admin_api.py): one line per check,
`ok - NAME` or `not ok - NAME (DETAIL)`, as the shell suites print them, and the counts."""
import sys
import time

COUNTS = {"ok": 0, "not ok": 0}


def one(text):
    return " ".join(str(text).split())[:300]


def ok(name):
    COUNTS["ok"] += 1
    print(f"ok - {name}", flush=True)


def notok(name, detail):
    COUNTS["not ok"] += 1
    print(f"not ok - {name} ({one(detail)})", flush=True)


def check(name, cond, detail=""):
    if cond:
        ok(name)
    else:
        notok(name, detail)
    return bool(cond)


def expect_eq(name, expected, got):
    return check(name, expected == got, f"expected {expected!r} got {got!r}")


def note(text):
    print(f"# {text}", flush=True)


def finish(script, started):
    """Prints the counts and exits 1 when any check failed."""
    note(f"{script} done: {COUNTS['ok']} ok, {COUNTS['not ok']} not ok, {time.time() - started:.1f} s")
    sys.exit(1 if COUNTS["not ok"] else 0)
