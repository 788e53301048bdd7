"""The admin pages in headless Chromium (selenium), run by 12-pages.sh: one scenario through every
server the pages run behind (nginx, Apache mod_proxy_fcgi, Apache CGI, lighttpd), axe-core on every
page, bad input with requests, an expired session, and the screenshots for the README.

    python3 pages_browser.py CONFIG.json

CONFIG (written by 12-pages.sh): keyward (the binary), db, check (a URL behind nginx's
keyward-protect.conf), alice and root ([user, password]), screenshots (a directory), tmp, variants
([{name, base, screenshots?}], base = the mount's URL, e.g. http://127.0.0.1:PORT/keyward), only
(space-separated variant names, or empty for all), short ({name, base, lifetime}: a Keyward with a
session lifetime of `lifetime` seconds).

Every page: ADMIN_PAGES (opened as root, axe on each, one change on each: tour_*) and USER_PAGES
(opened by alice); access_request() takes a consumer from the request to the collected key, and
non_admin() checks the 403 page and the navigation of a user who is no admin.
"""

import email
import email.policy
import html.parser
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Optional
from urllib.parse import urlsplit

import requests
from axe_selenium_python import Axe
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_kit import PageBrowser, make_driver  # noqa: E402
from tap import check, expect_eq, finish, note, notok  # noqa: E402

STARTED = time.time()
# axe-core itself: the 4.x that axe-playwright-python ships (installed without its dependencies,
# for this file only), run by axe-selenium-python, whose own copy is axe-core 3.1 (2018).
AXE_SCRIPT = os.path.join(importlib.util.find_spec("axe_playwright_python").submodule_search_locations[0], "axe.min.js")
CONFIG = json.load(open(sys.argv[1]))
SECRETS_FILE = os.path.join(CONFIG["tmp"], "new-secrets.txt")
WIDTHS = (1440, 360)
AXE_SEEN = set()
AXE_TIME = [0.0, 0]
AXE_DONE = set()  # the labels of the pages axe ran on
SHOT_LABELS = {"sign-in", "my keys", "new key", "show-once"}  # checked at 360 px by shot()
# Names that must come out as text, never as markup.
HOSTILE_NAMES = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "it's \"quoted\" & 'single'"]


# ---------------------------------------------------------------------------------------------
# Helpers: the CLI (the ground truth for "nothing half-written"), the check, the secrets
# ---------------------------------------------------------------------------------------------
def cli(*args):
    out = subprocess.run(
        [CONFIG["keyward"], "--db", CONFIG["db"], "--json", *args], capture_output=True, text=True, timeout=30
    )
    if out.returncode != 0:
        raise RuntimeError(f"keyward {' '.join(args)}: {out.stderr.strip()}")
    return json.loads(out.stdout) if out.stdout.strip() else None


def keys_of(user):
    """A fingerprint of user's keys: id, name, status, expiry, for before/after comparisons."""
    rows = cli("key", "list", "--user", user)
    if isinstance(rows, dict):
        rows = rows.get("keys", [])
    return sorted((r.get("id"), r.get("name"), r.get("status"), r.get("expires_at")) for r in rows)


def check_status(secret):
    """The nginx check's answer for a request carrying secret."""
    try:
        return requests.get(CONFIG["check"], headers={"Authorization": f"Bearer {secret}"}, timeout=10).status_code
    except requests.RequestException as e:
        return f"error {e}"


def remember(secret):
    with open(SECRETS_FILE, "a") as f:
        f.write(secret + "\n")


def mails():
    """The messages the sendmail stub received, oldest first: (number, message)."""
    folder = CONFIG.get("mail")
    if not folder or not os.path.isdir(folder):
        return []
    found = sorted(int(f[:-4]) for f in os.listdir(folder) if f.endswith(".eml") and f[:-4].isdigit())
    out = []
    for n in found:
        with open(os.path.join(folder, f"{n}.eml"), "rb") as f:
            out.append((n, email.message_from_binary_file(f, policy=email.policy.default)))
    return out


def mail_to(address, subject_part, after=0):
    """The first message after number `after` to `address` whose subject has `subject_part`, or None."""
    for n, m in mails():
        if n > after and address in str(m.get("To", "")) and subject_part in str(m.get("Subject", "")):
            return m
    return None


def last_mail():
    found = mails()
    return found[-1][0] if found else 0


def nginx_status(path, secret=None, method="GET"):
    """The answer of nginx (keyward-protect.conf on /api/) for path, with secret as a Bearer token or none."""
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    try:
        return requests.request(method, CONFIG["nginx"] + path, headers=headers, timeout=10).status_code
    except requests.RequestException as e:
        return f"error {e}"


# ---------------------------------------------------------------------------------------------
# The browser
# ---------------------------------------------------------------------------------------------
class Browser(PageBrowser):
    """One variant's session in the shared browser: navigation, axe, screenshots, assertions."""

    def __init__(self, driver, variant):
        super().__init__(driver, variant["base"])
        self.v = variant
        self.name = variant["name"]
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.base))
        self.list_path = "/admin/"
        # What the admin tour made, for the steps after it (audit, explain, the access request).
        self.made = {}
        # (user, action, target) of the changes made on the pages, for the audit page to show.
        self.audited = []

    # -- signing in and out ---------------------------------------------------------------------
    def sign_in(self, who, *, shots=False, label="alice"):
        """Signs in as `who` (a CONFIG entry such as "root", or (user, password))."""
        user, password = CONFIG[who] if isinstance(who, str) else who
        # Cookies are per host, not per port: start each variant signed out.
        self.get("/admin/login")
        self.d.delete_all_cookies()
        self.get("/admin/")
        expect_eq(f"{self.name}: signed out, /admin/ goes to sign-in", self.mount + "/admin/login", self.path())
        check(f"{self.name}: sign-in keeps where the user was going (next=)", "next=" in self.url_query(), self.d.current_url)
        self.axe("sign-in")
        if shots:
            self.shot("sign-in")
        self.d.find_element(By.ID, "user").send_keys(user)
        self.d.find_element(By.ID, "password").send_keys(password)
        self.submit(self.main_submit())
        expect_eq(f"{self.name}: {label} signs in and lands on /admin/", self.mount + "/admin/", self.path())
        cookie = self.d.get_cookie("keyward_session") or {}
        check(
            f"{self.name}: the session cookie is HttpOnly, SameSite=Strict, Path={self.mount}/admin",
            cookie.get("httpOnly") and cookie.get("sameSite") == "Strict" and cookie.get("path") == self.mount + "/admin",
            cookie and {k: cookie[k] for k in ("httpOnly", "sameSite", "path") if k in cookie},
        )
        return cookie.get("value", "")

    def sign_out(self, *, quick=False):
        cookie = (self.d.get_cookie("keyward_session") or {}).get("value", "")
        self.get("/admin/")
        button = self.d.find_element(By.XPATH, "//header//form//button[normalize-space()='Sign out']")
        self.submit(button)
        if quick:  # the checks below were made once already in this variant
            if self.path() != self.mount + "/admin/login":
                notok(f"{self.name}: sign-out shows the sign-in page", self.d.current_url)
            return
        check(
            f"{self.name}: sign-out shows the sign-in page saying so",
            self.path() == self.mount + "/admin/login" and "You are signed out." in self.d.find_element(By.TAG_NAME, "main").text,
            self.d.current_url,
        )
        self.axe("signed out")
        check(f"{self.name}: sign-out clears the cookie in the browser", self.d.get_cookie("keyward_session") is None, self.d.get_cookie("keyward_session"))
        # The old cookie, replayed: the session is gone on the server.
        r = requests.get(self.base + "/admin/", cookies={"keyward_session": cookie}, allow_redirects=False, timeout=10)
        check(
            f"{self.name}: after sign-out the old cookie is refused on the server (303 to sign-in, ended=1)",
            r.status_code == 303 and "/admin/login" in r.headers.get("Location", "") and "ended=1" in r.headers.get("Location", ""),
            f"{r.status_code} {r.headers.get('Location')}",
        )

    # -- axe -------------------------------------------------------------------------------------
    def axe(self, label, *, links=True):
        """axe-core on the current page: no serious or critical violation, once per page in the run
        (through another server it is the same HTML); with `links`, every link, form and asset of the
        page is under the mount's /admin/, in every variant."""
        if label in self.axed:
            return
        self.axed.add(label)
        if label in AXE_DONE:
            self.links_under_mount(label, links)
            return
        AXE_DONE.add(label)
        axe_started = time.time()
        axe = Axe(self.d, script_url=AXE_SCRIPT)
        axe.inject()
        results = axe.run(options="{resultTypes: ['violations']}")
        AXE_SEEN.add(results.get("testEngine", {}).get("version", "?"))
        AXE_TIME[0] += time.time() - axe_started
        AXE_TIME[1] += 1
        bad = [v for v in results.get("violations", []) if v.get("impact") in ("serious", "critical")]
        minor = [v["id"] for v in results.get("violations", []) if v not in bad]
        detail = "; ".join(
            f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(str(n.get('target')) for n in v.get('nodes', [])[:3])}" for v in bad
        )
        check(f"{self.name}: axe finds no serious or critical violation on {label}", not bad, detail)
        if minor:
            note(f"{self.name}: axe, minor or moderate on {label}: {', '.join(sorted(set(minor)))}")
        if links and self.v.get("screenshots") and label not in SHOT_LABELS:
            self.fits(360, label)
        self.links_under_mount(label, links)

    def fits(self, width, label):
        """The page at `width` px (a phone's viewport) does not scroll sideways."""
        overflow, wide = self.overflow(width)
        check(f"{self.name}: {label} fits {width} px without sideways scrolling", overflow <= 0, f"{overflow} px too wide: {', '.join(wide)}")

    def links_under_mount(self, label, links):
        if not links:
            return
        # Every link, form, stylesheet and script of the page stays under the mount.
        targets = self.d.execute_script(
            "return Array.from(document.querySelectorAll('a[href],form[action],link[href],script[src]'))"
            ".map(function (e) { return e.getAttribute('href') || e.getAttribute('action') || e.getAttribute('src'); })"
        )
        outside = [t for t in targets if not (t.startswith(self.mount + "/admin/") or t.startswith("#"))]
        check(f"{self.name}: every link, form and asset on {label} is under {self.mount}/admin/", not outside and targets, outside or "none")

    # -- screenshots -----------------------------------------------------------------------------
    def shot(self, label):
        if not self.v.get("screenshots"):
            return
        for width in WIDTHS:
            # The whole page at this width (360: a phone, with its viewport rules), as tall as it is.
            metrics = {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600}
            self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
            height = self.d.execute_script("return Math.ceil(document.body.getBoundingClientRect().height) + 24")
            self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": max(480, min(int(height), 4000))})
            overflow = self.d.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            check(f"{self.name}: {label} fits {width} px without sideways scrolling", overflow <= 0, f"{overflow} px too wide")
            path = os.path.join(CONFIG["screenshots"], f"{label}-{width}.png")
            check(f"{self.name}: screenshot {os.path.basename(path)}", self.d.save_screenshot(path), path)
        self.d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    # -- the key list ------------------------------------------------------------------------------
    def rows(self):
        return self.d.find_elements(By.CSS_SELECTOR, "main table tbody tr")

    def row(self, name):
        for r in self.rows():
            cell = r.find_element(By.CSS_SELECTOR, "td[data-label=Name]")
            if cell.text == name or cell.text.startswith(name + " ("):
                return r
        return None

    def key_action(self, name, verb, expires=None):
        """From the list: the verb's link on the key's row, its confirmation page, its button."""
        self.get(self.list_path)
        row = self.row(name)
        if row is None:
            notok(f"{self.name}: {verb} {name!r}: the key is in the list", "no row")
            return False
        self.click_link(row.find_element(By.LINK_TEXT, verb.capitalize()))
        check(f"{self.name}: {verb}: a confirmation page first", self.h1() == f"{verb.capitalize()} key {name}?", self.h1())
        self.axe(f"confirm {verb}")
        if expires:
            self.d.find_element(By.CSS_SELECTOR, f"label[for=expires-{expires}]").click()
        self.submit(self.main_submit())
        return True


# ---------------------------------------------------------------------------------------------
# Pages to open and change. Other areas' pages join these lists once they land: (label, path,
# heading, change) where change(browser) makes one change on the page and checks it.
# ---------------------------------------------------------------------------------------------
def pick_scope(b, scope):
    box = b.d.find_element(By.CSS_SELECTOR, f"input[name=scope][value='{scope}']")
    if not box.is_selected():
        b.d.find_element(By.CSS_SELECTOR, f"label[for={box.get_attribute('id')}]").click()


def change_new_key_for_alice(b):
    name = f"{b.name}-made-by-an-admin"
    before = keys_of("alice")
    b.d.find_element(By.ID, "name").send_keys(name)
    b.d.find_element(By.CSS_SELECTOR, "label[for=expires-7]").click()
    b.submit(b.main_submit())
    secret = b.d.find_element(By.ID, "secret").text
    remember(secret)
    check(f"{b.name}: an admin makes a key for alice on the new-key page", b.h1() == "Your new key" and secret.startswith("kwk_"), b.h1())
    owners = [k for k in keys_of("alice") if k not in before]
    check(f"{b.name}: the admin's key belongs to alice", [k[1] for k in owners] == [name], owners)
    b.get("/admin/?user=alice")
    check(f"{b.name}: alice's list as an admin shows it, without the secret", b.row(name) is not None and secret not in b.everything(), b.h1())


# The admin tour. Each change acts on the page it is given (already opened, axe run) and checks
# the outcome on the page and in the database (the CLI). Names carry the variant: one database
# serves every server.
def consumer(b):
    """The consumer the tour adds on the users page and who asks for access: (name, password)."""
    return (f"carol-{b.name}", f"carol pages {b.name} {os.getpid()}")


def cli_or_none(*args):
    try:
        return cli(*args)
    except RuntimeError:
        return None


def no_markup(b, where):
    """No alert, and no element made from a name (no <img>, no inline <script>)."""
    expect_eq(f"{b.name}: {where}: no alert", None, b.no_alert())
    check(f"{b.name}: {where}: no element came out of a name (no <img>, no inline <script>)",
          not b.d.find_elements(By.CSS_SELECTOR, "main img, main script, body > script:not([src])"), "found")


def refused_name(b, label, hostile, what):
    """A name with markup, typed into the form: refused next to the field, and shown back as text."""
    check(f"{b.name}: hostile {what} name {label}: refused (400 page, the error next to the field)",
          b.field_error("name") is not None and b.h1() == f"{what.capitalize()}s", f"{b.h1()!r} {b.field_error('name')!r}")
    no_markup(b, f"hostile {what} name {label}")
    expect_eq(f"{b.name}: hostile {what} name {label}: the form shows it back literally", hostile,
              b.d.find_element(By.ID, "name").get_attribute("value"))


def tour_users(b):
    """Add a user (with e-mail), set their password (a mismatch first), change the e-mail, disable, enable."""
    n = b.name
    user, password = consumer(b)
    b.fill("name", user)
    b.fill("email", f"{user}@example.test")
    b.press("Add user")
    check(f"{n}: users: added on the page, their page says so",
          b.h1() == f"User {user}" and b.notice().startswith("The user is added."), f"{b.h1()!r} {b.notice()!r}")
    b.axe("a user's page")
    shown = (cli_or_none("user", "show", user) or {}).get("user", {})
    expect_eq(f"{n}: users: in the database, with the e-mail", (user, f"{user}@example.test", "active"),
              (shown.get("name"), shown.get("email"), shown.get("status")))
    b.fill("password", password)
    b.fill("password_confirm", password + "!")
    b.press("Set password")
    expect_eq(f"{n}: users: two different passwords: the error next to the second field",
              "The two passwords differ.", b.field_error("password_confirm"))
    b.fill("password", password)
    b.fill("password_confirm", password)
    b.press("Set password")
    check(f"{n}: users: password set on the page", b.notice().startswith("The password is set"), b.notice())
    b.fill("email", f"{user}@mail.example.test")
    b.press("Save e-mail")
    check(f"{n}: users: e-mail saved on the page", b.notice() == "The e-mail address is saved.", b.notice())
    expect_eq(f"{n}: users: the new e-mail in the database", f"{user}@mail.example.test",
              (cli_or_none("user", "show", user) or {}).get("user", {}).get("email"))
    b.follow("Disable user")
    expect_eq(f"{n}: users: disable asks first", f"Disable user {user}?", b.h1())
    b.axe("confirm disable user")
    b.press("Disable")
    check(f"{n}: users: disabled on the page", b.notice() == "The user is disabled.", b.notice())
    expect_eq(f"{n}: users: disabled in the database", "disabled", (cli_or_none("user", "show", user) or {}).get("user", {}).get("status"))
    r = requests.post(b.base + "/admin/login", data={"user": user, "password": password}, allow_redirects=False, timeout=10)
    check(f"{n}: users: a disabled user cannot sign in", r.status_code != 303, r.status_code)
    b.follow("Enable user")
    expect_eq(f"{n}: users: enable asks first", f"Enable user {user}?", b.h1())
    b.press("Enable")
    check(f"{n}: users: enabled on the page", b.notice() == "The user is enabled.", b.notice())
    expect_eq(f"{n}: users: enabled in the database", "active", (cli_or_none("user", "show", user) or {}).get("user", {}).get("status"))
    b.made["user"] = user
    b.audited.append((user, "user.disable", f"user:{user}"))
    b.get("/admin/users")
    row = next((r for r in b.table_rows() if r.get("Name") == user), {})
    expect_eq(f"{n}: users: the list shows them active with the new e-mail", ("active", f"{user}@mail.example.test"),
              (row.get("Status"), row.get("E-mail")))
    if n in HOSTILE_VARIANTS:
        hostile_emails(b)


def hostile_emails(b):
    """E-mail addresses with markup (stored with the CLI: the page's e-mail field, type=email, does
    not let a browser send them) come out as text in the list, a user's page and its form."""
    n = b.name
    addresses = ["<script>alert(1)</script>@evil.test", '"><img/src=x/onerror=alert(1)>@evil.test', "it's\"quoted\"&'single'@evil.test"]
    for i, address in enumerate(addresses):
        cli("user", "add", f"eve{i + 1}-{n}", "--email", address)
    b.get("/admin/users")
    no_markup(b, "hostile e-mails on the users list")
    shown = {r.get("Name"): r.get("E-mail") for r in b.table_rows()}
    for i, address in enumerate(addresses):
        expect_eq(f"{n}: hostile e-mail {i + 1} is visible literally on the users list", address, shown.get(f"eve{i + 1}-{n}"))
    source = b.d.page_source
    check(f"{n}: the users list's source has the e-mails escaped", "&lt;script&gt;alert(1)&lt;/script&gt;@evil.test" in source
          and "&lt;img/src=x" in source, "not escaped")
    b.get(f"/admin/users/eve2-{n}")
    no_markup(b, "a hostile e-mail on a user's page")
    expect_eq(f"{n}: a hostile e-mail is the e-mail field's value, literally (attribute escaped)", addresses[1],
              b.d.find_element(By.ID, "email").get_attribute("value"))


def tour_groups(b):
    """Add a group (a name with markup refused first), add a member (the user just added, else
    alice), remove them."""
    n = b.name
    group, user = f"ops-{n}", b.made.get("user", "alice")
    if n in HOSTILE_VARIANTS:
        b.fill("name", HOSTILE_NAMES[0])
        b.press("Add group")
        refused_name(b, "1", HOSTILE_NAMES[0], "group")
    b.fill("name", group)
    b.press("Add group")
    check(f"{n}: groups: added on the page", b.h1() == f"Group {group}" and b.notice() == "It is added.", f"{b.h1()!r} {b.notice()!r}")
    b.axe("a group's page")
    b.fill("user", user)
    b.press("Add member")
    check(f"{n}: groups: member added on the page", b.notice().startswith("The member is added")
          and any(r.get("User") == user for r in b.table_rows()), b.notice())
    expect_eq(f"{n}: groups: the member in the database", [user], (cli_or_none("group", "show", group) or {}).get("members"))
    b.press("Remove", named=f"Remove {user} from {group}")
    check(f"{n}: groups: member removed on the page", b.notice().startswith("The member is removed") and not b.table_rows(), b.notice())
    expect_eq(f"{n}: groups: no member in the database", [], (cli_or_none("group", "show", group) or {}).get("members"))
    # (The audit's user filter finds what a user did or what was done to user:NAME; a membership is a group's.)
    b.audited.append(("root", "group.member.remove", f"group:{group}"))


def tour_roles(b):
    """Add a role with a privilege, grant it to the group, revoke it; then delete the role and the
    group (each confirmed)."""
    n = b.name
    role, group = f"readers-{n}", f"ops-{n}"
    b.fill("name", role)
    b.tick_value("privilege", "access:api")
    b.press("Add role")
    check(f"{n}: roles: added on the page", b.h1() == f"Role {role}" and b.notice() == "It is added.", f"{b.h1()!r} {b.notice()!r}")
    b.axe("a role's page")
    expect_eq(f"{n}: roles: its privilege in the database", ["access:api"], (cli_or_none("role", "show", role) or {}).get("privileges"))
    b.fill("to", f"group:{group}")
    b.press("Grant")
    check(f"{n}: roles: granted to the group on the page", b.notice().startswith("The role is granted")
          and [r.get("To") for r in b.table_rows()] == [f"group:{group}"], b.notice())
    expect_eq(f"{n}: roles: the grant in the database", [role], (cli_or_none("group", "show", group) or {}).get("roles"))
    b.press("Revoke", named=f"Revoke {role} from group:{group}")
    check(f"{n}: roles: revoked on the page", b.notice().startswith("The role is revoked") and not b.table_rows(), b.notice())
    expect_eq(f"{n}: roles: no grant in the database", [], (cli_or_none("group", "show", group) or {}).get("roles"))
    b.follow("Delete role")
    expect_eq(f"{n}: roles: delete asks first", f"Delete role {role}?", b.h1())
    b.axe("confirm delete role")
    b.press("Delete")
    check(f"{n}: roles: deleted on the page", b.notice() == "The role is deleted." and cli_or_none("role", "show", role) is None, b.notice())
    b.get(f"/admin/groups/{group}")
    b.follow("Delete group")
    expect_eq(f"{n}: groups: delete asks first", f"Delete group {group}?", b.h1())
    b.axe("confirm delete group")
    b.press("Delete")
    check(f"{n}: groups: deleted on the page", b.notice() == "The group is deleted." and cli_or_none("group", "show", group) is None, b.notice())
    b.audited.append(("root", "role.grant", f"role:{role}"))


def tour_resources(b):
    """Add a resource, edit it (methods; anonymous on, then off: checked through nginx), delete it;
    then the two resources alice owns, for the access request."""
    n = b.name
    name, prefix = f"scratch-{n}", f"/api/scratch-{n}/"
    if n in HOSTILE_VARIANTS:
        b.fill("name", HOSTILE_NAMES[1])
        b.fill("path", "/api/hostile/")
        b.press("Add resource")
        refused_name(b, "2", HOSTILE_NAMES[1], "resource")
    b.fill("name", name)
    b.fill("path", prefix)
    b.fill("methods", "GET")
    b.fill("owner", "")
    b.press("Add resource")
    check(f"{n}: resources: added on the page", b.h1() == f"Resource {name}" and b.notice() == "It is added.", f"{b.h1()!r} {b.notice()!r}")
    b.axe("a resource's page")
    expect_eq(f"{n}: resources: without a credential nginx refuses it (401)", 401, nginx_status(prefix + "x"))
    b.fill("methods", "GET POST")
    b.tick("anonymous")
    b.press("Save")
    check(f"{n}: resources: methods and anonymous on saved on the page", b.notice().startswith("The resource is saved"), b.notice())
    row = cli_or_none("resource", "show", name) or {}
    expect_eq(f"{n}: resources: saved in the database", (["GET", "POST"], True), (row.get("methods"), row.get("anonymous")))
    expect_eq(f"{n}: resources: anonymous on: nginx lets a request without a credential through (200)", 200, nginx_status(prefix + "x"))
    expect_eq(f"{n}: resources: anonymous on, a method it does not list: refused", True, nginx_status(prefix + "x", method="DELETE") != 200)
    check(f"{n}: resources: the form shows anonymous ticked", b.d.find_element(By.ID, "anonymous").is_selected(), "not ticked")
    b.tick("anonymous")
    b.press("Save")
    check(f"{n}: resources: anonymous off saved on the page", b.notice().startswith("The resource is saved"), b.notice())
    expect_eq(f"{n}: resources: anonymous off in the database", False, (cli_or_none("resource", "show", name) or {}).get("anonymous"))
    expect_eq(f"{n}: resources: anonymous off: refused without a credential again (401)", 401, nginx_status(prefix + "x"))
    b.follow("Delete resource")
    expect_eq(f"{n}: resources: delete asks first", f"Delete resource {name}?", b.h1())
    b.axe("confirm delete resource")
    b.press("Delete")
    check(f"{n}: resources: deleted on the page", b.path() == b.mount + "/admin/resources" and b.notice() == "The resource is deleted."
          and not any(r.get("Name") == name for r in b.table_rows()), f"{b.path()} {b.notice()!r}")
    expect_eq(f"{n}: resources: gone from the database", None, cli_or_none("resource", "show", name))
    b.audited.append(("root", "resource.delete", f"resource:{name}"))
    for kind in ("orders", "archive") if changes(b, "access request") else ():
        b.get("/admin/resources")
        b.fill("name", f"{kind}-{n}")
        b.fill("path", f"/api/{kind}-{n}/")
        b.fill("owner", "alice")
        b.press("Add resource")
        expect_eq(f"{n}: resources: {kind}-{n}, owned by alice, added", ("It is added.", "alice"),
                  (b.notice(), (cli_or_none("resource", "show", f"{kind}-{n}") or {}).get("owner")))


def tour_signing_keys(b):
    """Rotate: a new key signs (shown on the page and in the database)."""
    n = b.name
    before = {k["kid"] for k in cli("signing-key", "list")}
    b.tick("alg-ES256")
    b.fill("retire_after", "1h")
    b.press("Rotate")
    check(f"{n}: signing keys: rotated on the page", b.notice().startswith("A new signing key now signs"), b.notice())
    rows = b.table_rows()
    signing = [r.get("Key id") for r in rows if "signs now" in r.get("Status", "")]
    keys = cli("signing-key", "list")
    new = [k["kid"] for k in keys if k["kid"] not in before]
    check(f"{n}: signing keys: the new key signs, on the page and in the database",
          len(new) == 1 and signing == new and rows[0].get("Key id") == new[0], f"page {signing} new {new}")
    b.made["kid"] = new[0] if new else None
    b.audited.append(("root", "signing-key.rotate", f"kid:{new[0] if new else '?'}"))


def jwt_kid(token):
    import base64
    try:
        head = token.split(".")[0]
        return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))).get("kid")
    except (ValueError, IndexError):
        return None


def tour_clients(b):
    """A client for alice: its secret from the show-once page gets a token (signed by the key just
    rotated in); disabled on the page, it gets none. Clients with markup in their names are text."""
    n = b.name
    name = f"reports-{n}"
    b.follow("New client")
    expect_eq(f"{n}: clients: 'New client' opens the form", "New client", b.h1())
    b.axe("new client")
    b.fill("name", name)
    b.tick("expires-7")
    pick_scope(b, "/api/")
    b.press("Create client")
    expect_eq(f"{n}: clients: created: its show-once page", "Your new client", b.h1())
    secret = b.d.find_element(By.ID, "secret").text
    client_id = b.d.find_element(By.CSS_SELECTOR, "dl.facts dd code").text
    remember(secret)
    b.axe("client show-once")
    curl_line = b.d.find_element(By.ID, "curl").text
    check(f"{n}: clients: the show-once page has the curl line for the token endpoint",
          f"-u '{client_id}:{secret}'" in curl_line and curl_line.endswith(b.mount + "/token"), curl_line[:80])
    url = b.v["token"]
    r = requests.post(url, data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=15)
    token = r.json().get("access_token", "") if r.status_code == 200 else ""
    check(f"{n}: clients: the secret from the page gets a token at {urlsplit(url).netloc}{urlsplit(url).path} (200)", bool(token), f"{r.status_code} {r.text[:120]}")
    if b.made.get("kid"):
        expect_eq(f"{n}: clients: the token is signed by the signing key rotated in on the page", b.made["kid"], jwt_kid(token))
    expect_eq(f"{n}: clients: the token works at nginx's /api/ (200)", 200, check_status(token))
    b.get(f"/admin/clients?user=alice")
    b.follow("Disable", named=f"Disable {name}")
    expect_eq(f"{n}: clients: disable asks first", f"Disable client {name}?", b.h1())
    b.axe("confirm disable client")
    b.press("Disable")
    check(f"{n}: clients: disabled on the page", b.notice().startswith("The client is disabled."), b.notice())
    row = next((r for r in b.table_rows() if r.get("Name", "").startswith(name)), {})
    expect_eq(f"{n}: clients: the list says disabled", "disabled", row.get("Status"))
    r = requests.post(url, data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=15)
    check(f"{n}: clients: disabled: the token request is refused", r.status_code in (400, 401) and "access_token" not in r.text, f"{r.status_code} {r.text[:120]}")
    expect_eq(f"{n}: clients: disabled: its token is refused at nginx (401)", 401, check_status(token))
    b.audited.append(("alice", "client.disable", "user:alice"))
    if n in HOSTILE_VARIANTS:
        for i, hostile in enumerate(HOSTILE_NAMES):
            b.get("/admin/clients/new?user=alice")
            b.fill("name", f"{hostile} {n}")
            b.tick("expires-7")
            pick_scope(b, "/api/")
            b.press("Create client")
            expect_eq(f"{n}: hostile client name {i + 1}: shown as text on the show-once page", f"{hostile} {n}",
                      b.d.find_element(By.CSS_SELECTOR, "dl.facts dd").text)
            remember(b.d.find_element(By.ID, "secret").text)
            expect_eq(f"{n}: hostile client name {i + 1}: no alert on the show-once page", None, b.no_alert())
        b.get("/admin/clients?user=alice")
        no_markup(b, "hostile client names on the clients list")
        shown = [r.get("Name", "") for r in b.table_rows()]
        for i, hostile in enumerate(HOSTILE_NAMES):
            check(f"{n}: hostile client name {i + 1} is visible literally on the clients list",
                  any(s.startswith(f"{hostile} {n}") for s in shown), shown)


def tour_sessions(b):
    """A second browser signs in; this one ends its session on the page; the second is sent to sign-in."""
    n = b.name
    b.get("/admin/sessions")
    expect_eq(f"{n}: sessions: 'Sessions' is my sessions", "My sessions", b.h1())
    b.axe("my sessions")
    before = {r.get("Session", "").split()[0] for r in b.table_rows() if r.get("Session")}
    other = Browser(second_driver(), b.v)
    other.axed = {"sign-in"}
    other.sign_in("root", label="root, in a second browser")
    b.get("/admin/sessions")
    rows = b.table_rows()
    mine = [r.get("Session", "").split()[0] for r in rows if "this session" in r.get("Session", "")]
    new = [r.get("Session", "").split()[0] for r in rows if r.get("Session") and r.get("Session", "").split()[0] not in before]
    check(f"{n}: sessions: the second browser's session is listed, and this one marked",
          len(new) == 1 and len(mine) == 1 and new != mine, f"new {new} mine {mine}")
    if len(new) != 1:
        return
    form = b.d.find_element(By.XPATH, f"//main//form[contains(@action, '/admin/sessions/{new[0]}/revoke')]")
    b.submit(form.find_element(By.TAG_NAME, "button"))
    check(f"{n}: sessions: ended on the page", b.notice() == "The session is ended."
          and all(r.get("Session", "").split()[0] != new[0] for r in b.table_rows() if r.get("Session")), b.notice())
    other.get("/admin/")
    check(f"{n}: sessions: the second browser is sent to sign-in (ended=1)",
          other.path() == other.mount + "/admin/login" and "ended=1" in other.url_query(), other.d.current_url)
    expect_eq(f"{n}: sessions: this browser is still signed in", "My keys", (b.get("/admin/"), b.h1())[1])
    b.audited.append(("root", "session.revoke", "user:root"))


def tour_requests(b):
    """The admin's view of access requests (the access request itself runs after the tour)."""
    check(f"{b.name}: requests: an admin sees what waits for a decision", "Waiting for your decision" in b.main_text(), b.main_text()[:80])


def tour_explain(b):
    """The explain form, for alice's key: allowed under its scope, refused elsewhere, with the steps."""
    n = b.name
    key = keys_named("alice", "ci-deploy")
    for path, want in (("/api/reports/1", "allowed"), ("/elsewhere/1", "denied")):
        b.fill("credential", key)
        b.fill("method", "GET")
        b.fill("path", path)
        b.press("Explain")
        decision = b.d.find_elements(By.ID, "decision")
        decision = decision[0].text if decision else ""
        steps = [li.text for li in b.d.find_elements(By.XPATH, "//main//h2[.='Steps']/following-sibling::ol[1]/li")]
        check(f"{n}: explain: GET {path} with alice's key is {want}, with the steps", decision.startswith(want) and steps,
              f"{decision!r} {len(steps)} steps")
        b.axe(f"explain ({want})")
    check(f"{n}: explain: the form keeps what was asked, in the URL (a GET form, no CSRF token)",
          "csrf" not in b.d.current_url and "path=%2Felsewhere%2F1" in b.d.current_url, b.d.current_url)


def tour_audit(b):
    """The changes just made, found with the filters by user and action; the chain verifies."""
    n = b.name
    chain = b.d.find_element(By.ID, "chain").text
    check(f"{n}: audit: the page says the hash chain verifies", chain.startswith("The hash chain verifies"), chain[:80])
    for user, action, target in b.audited:
        b.fill("user", user)
        b.fill("action", action)
        b.press("Filter")
        rows = b.table_rows()
        check(f"{n}: audit: filtered by user {user} and action {action}: the change made on the page",
              rows and all(r.get("Action") == action for r in rows) and any(r.get("Target") == target for r in rows),
              [(r.get("Action"), r.get("Target")) for r in rows[:3]])
    b.axe("audit, filtered")


@dataclass
class PageCheck:
    label: str
    path: str
    heading: str
    change: Optional[Callable[["Browser"], None]] = None


ADMIN_PAGES = [
    PageCheck("all keys", "/admin/?user=*", "All keys"),
    PageCheck("alice's keys", "/admin/?user=alice", "Keys of alice"),
    PageCheck("new key for alice", "/admin/keys/new?user=alice", "New key", change_new_key_for_alice),
    PageCheck("users", "/admin/users", "Users", tour_users),
    PageCheck("groups", "/admin/groups", "Groups", tour_groups),
    PageCheck("roles", "/admin/roles", "Roles", tour_roles),
    PageCheck("resources", "/admin/resources", "Resources", tour_resources),
    PageCheck("signing keys", "/admin/signing-keys", "Signing keys", tour_signing_keys),
    PageCheck("alice's clients", "/admin/clients?user=alice", "Clients of alice", tour_clients),
    PageCheck("all clients", "/admin/clients?user=*", "All clients"),
    PageCheck("access requests (admin)", "/admin/requests", "Access requests", tour_requests),
    PageCheck("all sessions", "/admin/sessions?user=*", "All sessions", tour_sessions),
    PageCheck("explain", "/admin/explain", "Explain a decision", tour_explain),
    PageCheck("audit", "/admin/audit", "Audit", tour_audit),
]

# Pages every signed-in user has beside My keys.
USER_PAGES = [
    PageCheck("my clients", "/admin/clients", "My clients"),
    PageCheck("access requests", "/admin/requests", "Access requests"),
    PageCheck("my sessions", "/admin/sessions", "My sessions"),
]

# Where the admin pages are opened and changed (elsewhere: the key pages only): the labels of
# ADMIN_PAGES, and "access request"; None: every page. Everything through nginx; the rest shared
# between Apache's mod_proxy_fcgi and CGI, which both also find their changes in the audit.
TOUR = {
    "nginx": None,
    "apache-fcgi": {"users", "groups", "roles", "resources", "signing keys", "explain", "audit"},
    "apache-cgi": {"alice's clients", "all sessions", "audit", "access request"},
}
# Where names with markup are tried on the users, groups, resources and clients pages.
HOSTILE_VARIANTS = {"nginx"}
# The navigation sections only admins see, each a page a non-admin gets 403 on.
ADMIN_SECTIONS = {"Users": "/admin/users", "Groups": "/admin/groups", "Roles": "/admin/roles", "Resources": "/admin/resources",
                  "Signing keys": "/admin/signing-keys", "Audit": "/admin/audit", "Explain": "/admin/explain"}


def changes(b, label):
    """Whether the tour makes the change `label` in this variant."""
    return b.name in TOUR and (TOUR[b.name] is None or label in TOUR[b.name])


def open_pages(b, pages, who):
    for page in pages:
        if who == "root" and page not in ADMIN_PAGES[:3] and not changes(b, page.label):
            continue
        started = time.time()
        b.get(page.path)
        check(f"{b.name}: {who} opens {page.label} ({page.path})", b.h1() == page.heading, f"heading {b.h1()!r}")
        b.axe(page.label)
        if page.change and (who != "root" or page in ADMIN_PAGES[:3] or changes(b, page.label)):
            try:
                page.change(b)
            except Exception as e:  # one page's broken step fails loudly; the next page still runs
                traceback.print_exc()
                notok(f"{b.name}: the change on {page.label} ran to the end", f"{type(e).__name__}: {e} at {where(e)}")
        b.made.setdefault("times", []).append(f"{page.label} {time.time() - started:.1f}")


SECOND = []


def second_driver():
    """A second browser (its own cookies), made once."""
    if not SECOND:
        SECOND.append(make_driver(os.path.join(CONFIG["tmp"], "logs")))
    return SECOND[0]


# ---------------------------------------------------------------------------------------------
# An access request, from the request to the collected key; a non-admin and the admin pages
# ---------------------------------------------------------------------------------------------
def non_admin(b):
    """A non-admin sees no admin section in the navigation and gets the 403 page on each."""
    n = b.name
    nav = b.nav()
    check(f"{n}: a non-admin's navigation has no admin section", nav and not set(nav) & set(ADMIN_SECTIONS), nav)
    for title, path in ADMIN_SECTIONS.items():
        b.get(path)
        check(f"{n}: a non-admin opening {path} gets the 403 page (forbidden)",
              b.h1() == "Not allowed" and b.error_code() == "forbidden", f"{b.h1()!r} {b.error_code()!r}")
        b.axe("the 403 page")
    r = requests.get(b.base + "/admin/users", cookies={"keyward_session": b.d.get_cookie("keyward_session")["value"]}, timeout=10)
    expect_eq(f"{n}: the 403 page's status is 403", 403, r.status_code)


def ensure_made(b, carol, password, orders, archive):
    """Where the tour did not make them on the pages: the consumer and alice's two resources, with the CLI."""
    if cli_or_none("user", "show", carol) is None:
        cli("user", "add", carol, "--email", f"{carol}@mail.example.test")
        subprocess.run([CONFIG["keyward"], "--db", CONFIG["db"], "user", "passwd", carol, "--password-stdin"], input=password + "\n",
                       capture_output=True, text=True, timeout=30, check=True)
    for name in (orders, archive):
        if cli_or_none("resource", "show", name) is None:
            cli("resource", "add", name, "--path", f"/api/{name}/", "--owner", "alice")


def request_id(notice):
    m = re.search(r"#(\d+)", notice or "")
    return m.group(1) if m else None


def access_request(b):
    """carol asks for two of alice's resources with a note; alice approves one (7 days) and rejects
    the other; carol sees both, collects the key once (a second tab's Collect gets the gone page),
    the key works through nginx, the mailed link is used up."""
    n = b.name
    carol, password = consumer(b)
    orders, archive = f"orders-{n}", f"archive-{n}"
    note_text = f"monthly reports {HOSTILE_NAMES[1]} {n}" if n in HOSTILE_VARIANTS else f"monthly reports {n}"
    mail_mark = last_mail()
    ensure_made(b, carol, password, orders, archive)

    b.sign_in((carol, password), label=carol)
    non_admin(b)
    b.get("/admin/requests")
    expect_eq(f"{n}: requests: carol opens access requests", "Access requests", b.h1())
    b.axe("access requests (consumer)")
    ids = {}
    for resource, text in ((orders, note_text), (archive, "")):
        b.tick_value("resource", resource)
        b.fill("note", text)
        b.press("Ask for access")
        ids[resource] = request_id(b.notice())
        check(f"{n}: requests: carol asks for {resource} on the page; alice (the owner) is mailed",
              ids[resource] and b.notice().startswith(f"Your request #{ids[resource]} is sent") and "Whoever decides was mailed." in b.notice(),
              b.notice())
    pending = {r["resource"]: r["status"] for r in cli("access", "list") if r.get("user") == carol}
    expect_eq(f"{n}: requests: both pending in the database", {orders: "pending", archive: "pending"}, pending)
    m = mail_to("alice@example.test", f"access request #{ids[orders]}: {carol} asks for {orders}", mail_mark)
    check(f"{n}: requests: the owner's mail names the request and carries the note", m is not None and note_text in m.get_content(),
          m and m.get("Subject"))
    box = b.d.find_element(By.XPATH, f"//main//input[@name='resource'][@value='{orders}']")
    check(f"{n}: requests: a resource asked for already cannot be asked for again", not box.is_enabled(), "enabled")
    b.sign_out(quick=True)

    # alice, the owner: approves one with an expiry, rejects the other.
    b.sign_in("alice")
    b.get("/admin/requests")
    rows = {r.get("Request"): r for r in b.table_rows()}
    row = rows.get(f"#{ids[orders]}", {})
    check(f"{n}: requests: the owner sees carol's request waiting, the note as text",
          row.get("User") == carol and row.get("Note") == note_text and "pending" in row.get("Status", ""), row)
    no_markup(b, "a note on the owner's requests page")
    b.axe("access requests (owner)")
    b.follow("Approve", named=f"Approve request #{ids[orders]}")
    expect_eq(f"{n}: requests: approve asks first, with the expiry to choose", f"Approve request #{ids[orders]}?", b.h1())
    check(f"{n}: requests: an owner is not offered 'never'", not b.d.find_elements(By.ID, "expires-never"), "offered")
    b.axe("confirm approve")
    b.tick("expires-7")
    b.press("Approve")
    check(f"{n}: requests: approved on the page; carol is mailed",
          b.notice().startswith(f"Request #{ids[orders]} is approved") and "The requester was mailed." in b.notice(), b.notice())
    b.follow("Reject", named=f"Reject request #{ids[archive]}")
    expect_eq(f"{n}: requests: reject asks first", f"Reject request #{ids[archive]}?", b.h1())
    b.axe("confirm reject")
    b.fill("reason", f"not for reports {n}")
    b.press("Reject")
    check(f"{n}: requests: rejected on the page", b.notice().startswith(f"Request #{ids[archive]} is rejected."), b.notice())
    decided = {r["resource"]: r["status"] for r in cli("access", "list") if r.get("user") == carol}
    expect_eq(f"{n}: requests: decided in the database", {orders: "approved", archive: "rejected"}, decided)
    approved = mail_to(f"{carol}@mail.example.test", f"access to {orders} approved", mail_mark)
    link = re.search(r"https?://\S+/admin/reveal/\S+", approved.get_content()) if approved else None
    check(f"{n}: requests: carol's mail has the one-time link (on nginx)", link is not None and link.group(0).startswith(CONFIG["nginx"]),
          approved and approved.get("Subject"))
    rejected = mail_to(f"{carol}@mail.example.test", f"access to {archive} rejected", mail_mark)
    check(f"{n}: requests: carol's rejection mail gives the reason", rejected is not None and f"not for reports {n}" in rejected.get_content(),
          rejected and rejected.get("Subject"))
    b.sign_out(quick=True)

    # carol: the outcomes; collects the key once.
    b.sign_in((carol, password), label=carol)
    b.get("/admin/requests")
    rows = {r.get("Request"): r for r in b.table_rows()}
    check(f"{n}: requests: carol sees one approved, one rejected",
          "approved" in rows.get(f"#{ids[orders]}", {}).get("Status", "") and "rejected" in rows.get(f"#{ids[archive]}", {}).get("Status", ""),
          {k: v.get("Status") for k, v in rows.items()})
    b.axe("access requests (approved)")
    first = b.d.current_window_handle
    b.d.switch_to.new_window("tab")
    b.get("/admin/requests")  # the same page in a second tab, its Collect button too
    second = b.d.current_window_handle
    b.d.switch_to.window(first)
    b.press("Collect your key")
    expect_eq(f"{n}: requests: collecting shows the key once", f"Your key for {orders}", b.h1())
    secret = b.d.find_element(By.ID, "secret").text
    remember(secret)
    b.axe("collected key")
    expect_eq(f"{n}: requests: the collected key works through nginx on {orders}'s path (200)", 200, nginx_status(f"/api/{orders}/x", secret))
    expect_eq(f"{n}: requests: ... and not on another resource's (403)", 403, nginx_status("/api/pages-check", secret))
    key = next((k for k in (cli("key", "list", "--user", carol) or []) if isinstance(k, dict)), {})
    try:
        days = (datetime.fromisoformat(str(key.get("expires_at")).replace("Z", "+00:00")) - datetime.now(timezone.utc)).total_seconds() / 86400
    except ValueError:
        days = (int(key.get("expires_at") or 0) - time.time()) / 86400
    check(f"{n}: requests: the key expires as chosen (7 days)", 6.9 < days <= 7.01, key.get("expires_at"))
    b.get("/admin/requests")
    check(f"{n}: requests: collected: no Collect button any more, the secret nowhere",
          not b.d.find_elements(By.XPATH, "//main//button[normalize-space()='Collect your key']") and secret not in b.everything(), "found")
    b.d.switch_to.window(second)
    b.press("Collect your key")
    check(f"{n}: requests: collecting again (a second tab) gets the gone page (410), no secret",
          b.h1() == "Nothing to collect" and secret not in b.everything(), b.h1())
    b.axe("nothing to collect")
    b.d.close()
    b.d.switch_to.window(first)
    if link:
        r = requests.get(link.group(0), timeout=10)
        expect_eq(f"{n}: requests: the mailed link is used up too (410)", 410, r.status_code)
        b.d.get(link.group(0))
        check(f"{n}: requests: the mailed link, opened in the browser, says so", "used already" in b.d.find_element(By.TAG_NAME, "body").text, b.d.title)
        b.axe("reveal link gone", links=False)
    b.get("/admin/")
    row = b.row(f"access-{orders}") or (b.rows()[0] if b.rows() else None)
    check(f"{n}: requests: carol's keys list the collected key, masked", row is not None and secret not in b.everything(), b.h1())
    b.sign_out(quick=True)


# ---------------------------------------------------------------------------------------------
# The scenario, per variant
# ---------------------------------------------------------------------------------------------
def scenario(driver, variant):
    b = Browser(driver, variant)
    n = b.name
    note(f"---- {n}: {b.base}")
    b.sign_in("alice", shots=True)
    check(f"{n}: the list is 'My keys'", b.h1() == "My keys", b.h1())
    b.axe("my keys")

    # A new key on the page, and its show-once page.
    name = f"analytics-export-{n}"
    b.click_link(b.d.find_element(By.LINK_TEXT, "New key"))
    expect_eq(f"{n}: 'New key' opens the form", b.mount + "/admin/keys/new", b.path())
    b.axe("new key")
    b.d.find_element(By.ID, "name").send_keys(name)
    b.d.find_element(By.CSS_SELECTOR, "label[for=expires-7]").click()
    pick_scope(b, "/api/")
    b.shot("new-key")
    b.submit(b.main_submit())
    check(f"{n}: creating the key shows the show-once page", b.h1() == "Your new key", b.h1())
    secret = b.d.find_element(By.ID, "secret").text
    remember(secret)
    check(f"{n}: the show-once page shows the secret", re.fullmatch(r"kwk_[0-9A-Za-z]{16}_[0-9A-Za-z_-]{20,}", secret) is not None, secret[:12])
    curl_line = b.d.find_element(By.ID, "curl").text
    check(f"{n}: the show-once page has the curl line that uses it", f"Authorization: Bearer {secret}" in curl_line, curl_line[:60])
    warn = b.d.find_element(By.CSS_SELECTOR, "main .notice").text
    check(f"{n}: the show-once page warns that it will not be shown again", "cannot be shown again" in warn, warn)
    copy = b.d.find_elements(By.CSS_SELECTOR, "button[data-copy=secret]")
    check(f"{n}: the copy button is shown (the script runs under the CSP)", bool(copy) and copy[0].is_displayed(), copy)
    b.axe("show-once")
    b.shot("show-once")
    expect_eq(f"{n}: the new key works at the nginx check (keyward-protect.conf)", 200, check_status(secret))

    # Reload (the browser may post the form again: the name is taken, no second key), back, the list.
    count = len([k for k in keys_of("alice") if k[1] == name])
    expect_eq(f"{n}: exactly one key named {name}", 1, count)
    driver.refresh()
    try:
        WebDriverWait(driver, 5).until(lambda d: d.execute_script("return document.readyState") == "complete")
    except TimeoutException:
        pass
    b.no_alert()
    check(f"{n}: reload: the secret is nowhere in the page", secret not in b.everything(), b.h1())
    expect_eq(f"{n}: reload: still exactly one key named {name}", 1, len([k for k in keys_of("alice") if k[1] == name]))
    driver.back()
    b.no_alert()
    check(f"{n}: back: the secret is nowhere in the page", secret not in b.everything(), f"{b.d.current_url} {b.h1()}")
    b.get("/admin/")
    row = b.row(name)
    check(f"{n}: the list shows the new key", row is not None, [r.text[:40] for r in b.rows()])
    check(f"{n}: the list: the secret is nowhere in the page", secret not in b.everything(), "found")
    key_id = secret.split("_")[1]
    if row is not None:
        masked = row.find_element(By.CSS_SELECTOR, "td[data-label=Key]").text
        check(f"{n}: the list shows the key masked", masked.startswith(f"kwk_{key_id}") and "•" in masked and secret not in masked, masked)
        status = row.find_element(By.CSS_SELECTOR, "td[data-label=Status]").text
        expect_eq(f"{n}: the new key is active", "active", status)
    b.shot("my-keys")

    # Renew for 90 days: the expiry moves, the secret stays.
    if b.key_action(name, "renew", expires="90"):
        row = b.row(name)
        when = row.find_element(By.CSS_SELECTOR, "td[data-label=Expires] time").get_attribute("datetime") if row else ""
        try:
            days = (datetime.fromisoformat(when.replace("Z", "+00:00")) - datetime.now(timezone.utc)).total_seconds() / 86400
        except ValueError:
            days = None
        check(f"{n}: renewed for 90 days on the page (expires in about 90 days)", days is not None and 89 < days <= 90.01, f"{when} ({days})")
        expect_eq(f"{n}: renewed: the same secret still works", 200, check_status(secret))

    # Regenerate: a new secret, shown once; the old one stops at once.
    if b.key_action(name, "regenerate"):
        check(f"{n}: regenerate shows the new secret once", b.h1() == f"New secret for {name}", b.h1())
        fresh = b.d.find_element(By.ID, "secret").text
        remember(fresh)
        b.axe("regenerated")
        check(f"{n}: the regenerated secret is new, same key id", fresh != secret and fresh.startswith(f"kwk_{key_id}_"), fresh[:12])
        expect_eq(f"{n}: the new secret works (200)", 200, check_status(fresh))
        expect_eq(f"{n}: the old secret is refused (401)", 401, check_status(secret))
        b.get("/admin/")
        page = b.everything()
        check(f"{n}: the list after regenerate has neither secret", fresh not in page and secret not in page, "found")
        secret = fresh

    # Disable -> 401. Only an admin enables a key again: the owner is not offered it.
    if b.key_action(name, "disable"):
        check(f"{n}: disabled: back on the list with the notice", "The key is disabled." in b.d.find_element(By.TAG_NAME, "main").text, b.h1())
        expect_eq(f"{n}: disabled on the page: the next request is refused (401)", 401, check_status(secret))
        row = b.row(name)
        expect_eq(f"{n}: the list says disabled", "disabled", row.find_element(By.CSS_SELECTOR, "td[data-label=Status]").text if row else None)
        links = [a.text for a in row.find_elements(By.CSS_SELECTOR, "td[data-label=Actions] a")] if row else []
        check(f"{n}: the owner is not offered Enable (an admin's to do)", "Enable" not in links and "Renew" in links, links)

    # Hostile names render as text.
    for i, hostile in enumerate(HOSTILE_NAMES):
        label = f"{hostile} {n}"
        b.get("/admin/keys/new")
        b.d.find_element(By.ID, "name").send_keys(label)
        b.d.find_element(By.CSS_SELECTOR, "label[for=expires-7]").click()
        pick_scope(b, "/api/")
        b.submit(b.main_submit())
        expect_eq(f"{n}: hostile name {i + 1}: no alert on the show-once page", None, b.no_alert())
        remember(b.d.find_element(By.ID, "secret").text)
        shown = b.d.find_element(By.CSS_SELECTOR, "dl.facts dd").text
        expect_eq(f"{n}: hostile name {i + 1}: shown as text on the show-once page", label, shown)
    b.get("/admin/")
    expect_eq(f"{n}: hostile names: no alert on the list", None, b.no_alert())
    shown = [c.text for c in b.d.find_elements(By.CSS_SELECTOR, "td[data-label=Name]")]
    for i, hostile in enumerate(HOSTILE_NAMES):
        check(f"{n}: hostile name {i + 1} is visible literally in the list", f"{hostile} {n}" in shown, shown)
    check(f"{n}: no element came out of a name (no <img>, no inline <script>)",
          not b.d.find_elements(By.CSS_SELECTOR, "main img, main script, body > script:not([src])"), "found")
    source = b.d.page_source
    check(f"{n}: the source has the names escaped", "&lt;script&gt;alert(1)&lt;/script&gt;" in source and "&lt;img src=x" in source, "not escaped")
    if b.key_action(f"{HOSTILE_NAMES[1]} {n}", "disable"):
        expect_eq(f"{n}: a hostile name in a confirmation title: no alert", None, b.no_alert())
    b.get(f"/admin/keys/{keys_named('alice', HOSTILE_NAMES[0] + ' ' + n)}/delete")
    check(f"{n}: a hostile name in the <title> and heading is text",
          b.h1() == f"Delete key {HOSTILE_NAMES[0]} {n}?" and HOSTILE_NAMES[0] in b.d.title and b.no_alert() is None, f"{b.h1()!r} {b.d.title!r}")

    # User pages of other areas, then sign-out ends the session on the server.
    open_pages(b, USER_PAGES, "alice")
    if n in TOUR and not changes(b, "access request"):
        non_admin(b)  # alice is no admin either (elsewhere the access request's consumer is checked)
    b.sign_out()

    # An admin: enables alice's key again (200), deletes it (401); the admin pages and a change on each.
    b.sign_in("root", label="root")
    b.list_path = "/admin/?user=alice"
    if b.key_action(name, "enable"):
        check(f"{n}: an admin enables it: back on alice's list with the notice", b.h1() == "Keys of alice" and "The key is enabled." in b.d.find_element(By.TAG_NAME, "main").text, b.h1())
        expect_eq(f"{n}: enabled on the page: the key works again (200)", 200, check_status(secret))
    if b.key_action(name, "delete"):
        check(f"{n}: deleted: the row is gone", b.row(name) is None, "still listed")
        expect_eq(f"{n}: deleted on the page: refused (401)", 401, check_status(secret))
        expect_eq(f"{n}: deleted: gone from the database too", [], [k for k in keys_of("alice") if k[1] == name])
    b.list_path = "/admin/"
    open_pages(b, ADMIN_PAGES if n in TOUR else ADMIN_PAGES[:3], "root")
    b.sign_out()

    if changes(b, "access request"):
        started = time.time()
        access_request(b)
        b.made.setdefault("times", []).append(f"access request {time.time() - started:.1f}")
    note(f"{n}: seconds per page: {', '.join(b.made.get('times', []))}")
    forged_and_bad_input(b)


def keys_named(user, name):
    rows = cli("key", "list", "--user", user)
    if isinstance(rows, dict):
        rows = rows.get("keys", [])
    return next((r["id"] for r in rows if r.get("name") == name), "none")


# ---------------------------------------------------------------------------------------------
# Forged requests and bad input (requests): refused, a readable page with a stable code, nothing written
# ---------------------------------------------------------------------------------------------
class FieldError(html.parser.HTMLParser):
    """Finds, in the new-key form, the `name` input and the error shown in the same field."""

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.field_depth = None
        self.in_field = False
        self.input = None
        self.error_in_field = None
        self.error_text = ""
        self.capture = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("input", "meta", "link", "br"):
            if tag == "input" and a.get("id") == "name":
                self.input = a
                self.in_field = self.field_depth is not None
            return
        self.depth += 1
        if tag == "div" and "field" in (a.get("class") or "").split():
            self.field_depth = self.depth
            self.in_field = False
        if tag == "span" and a.get("id") == "name-error":
            self.error_in_field = self.in_field
            self.capture = True

    def handle_endtag(self, tag):
        if tag in ("input", "meta", "link", "br"):
            return
        if self.capture and tag == "span":
            self.capture = False
        if self.field_depth == self.depth:
            self.field_depth = None
            self.in_field = False
        self.depth -= 1

    def handle_data(self, data):
        if self.capture:
            self.error_text += data


def page_code(r):
    m = re.search(r"Error code: <code>([a-z_]+)</code>", r.text)
    return m.group(1) if m else None


def forged_and_bad_input(b):
    n = b.name
    s = requests.Session()
    user, password = CONFIG["alice"]
    r = s.post(b.base + "/admin/login", data={"user": user, "password": password}, allow_redirects=False, timeout=15)
    if not check(f"{n}: requests signs in with the form (303)", r.status_code == 303 and "keyward_session" in s.cookies, r.status_code):
        return
    form = s.get(b.base + "/admin/keys/new", timeout=10).text
    m = re.search(r'name="csrf_token" value="([^"]+)"', form)
    token = m.group(1) if m else ""
    check(f"{n}: the form carries a CSRF token", bool(token), form[:80])
    url = b.base + "/admin/keys/new"
    good = {"user": "alice", "name": f"forged-{n}", "expires": "7d", "scope": "/api/"}
    before = keys_of("alice")

    def refused(label, status, code, response, *, html_page=True):
        got = (response.status_code, page_code(response) if html_page else None)
        expect_eq(f"{n}: {label}: {status} {code}", (status, code if html_page else None), got)
        if html_page:
            check(f"{n}: {label}: a readable HTML page", response.headers.get("Content-Type", "").startswith("text/html")
                  and "<h1>" in response.text, response.headers.get("Content-Type"))
        expect_eq(f"{n}: {label}: nothing written (alice's keys unchanged)", before, keys_of("alice"))

    refused("POST without the CSRF token", 403, "csrf_failed", s.post(url, data=good, timeout=10))
    wrong = ("y" if token[:1] == "x" else "x") + token[1:]  # (a token may start with x: then "x" + token[1:] is the token)
    refused("POST with a wrong CSRF token", 403, "csrf_failed", s.post(url, data={**good, "csrf_token": wrong}, timeout=10))
    refused("POST with the token from a foreign Origin", 403, "csrf_failed",
            s.post(url, data={**good, "csrf_token": token}, headers={"Origin": "http://evil.example"}, timeout=10))
    refused("POST with the token, Sec-Fetch-Site: cross-site", 403, "csrf_failed",
            s.post(url, data={**good, "csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"}, timeout=10))
    refused("sign-out without the CSRF token", 403, "csrf_failed", s.post(b.base + "/admin/logout", data={"x": ""}, timeout=10))
    refused("sign-out, an empty POST", 403, "csrf_failed", s.post(b.base + "/admin/logout", timeout=10))
    refused("a key change without the CSRF token", 403, "csrf_failed",
            s.post(b.base + f"/admin/keys/{before[0][0]}/disable", data={"csrf_token": ""}, timeout=10))
    refused("a key change with the CSRF token twice", 403, "csrf_failed",
            s.post(b.base + f"/admin/keys/{before[0][0]}/disable", data=[("csrf_token", token), ("csrf_token", token)], timeout=10))

    # Item 9: bad input, with a valid token and the right Origin.
    same = {"Origin": b.origin}
    form_type = {"Content-Type": "application/x-www-form-urlencoded", **same}
    prefix = f"csrf_token={token}&user=alice&expires=7d&scope=%2Fapi%2F"
    big = (prefix + "&name=" + "a" * (70 * 1024)).encode()
    refused("an oversized form (70 KiB)", 413, "body_too_large", s.post(url, data=big, headers=form_type, timeout=20))
    r = s.post(url, data=(prefix + "&name=" + "a" * (2 << 20)).encode(), headers=form_type, timeout=20)
    expect_eq(f"{n}: a form far past the limit (2 MiB): the server refuses it (413)", 413, r.status_code)
    expect_eq(f"{n}: a form far past the limit: nothing written", before, keys_of("alice"))
    refused("a form with invalid UTF-8 (%FF)", 400, "invalid_argument",
            s.post(url, data=(prefix + "&name=caf%FF").encode(), headers=form_type, timeout=10))
    refused("a form with raw invalid UTF-8 bytes", 400, "invalid_argument",
            s.post(url, data=prefix.encode() + b"&name=caf\xff\xfe", headers=form_type, timeout=10))
    refused("a form with a duplicate field (name twice)", 400, "invalid_argument",
            s.post(url, data=(prefix + "&name=a&name=b").encode(), headers=form_type, timeout=10))
    refused("a form with an unknown field", 400, "invalid_argument",
            s.post(url, data=(prefix + "&name=c&admin=1").encode(), headers=form_type, timeout=10))
    r = s.post(url, data=prefix.encode(), headers=form_type, timeout=10)
    expect_eq(f"{n}: a form without its name: 400", 400, r.status_code)
    parser = FieldError()
    parser.feed(r.text)
    check(f"{n}: missing name: the error is next to the field", parser.error_in_field and parser.error_text.strip() == "Give the key a name.",
          f"in field: {parser.error_in_field}, text: {parser.error_text!r}")
    described = (parser.input or {}).get("aria-describedby") or ""
    check(f"{n}: missing name: the input is marked invalid and described by the error",
          (parser.input or {}).get("aria-invalid") == "true" and "name-error" in described.split(), parser.input)
    expect_eq(f"{n}: missing name: nothing written", before, keys_of("alice"))
    refused("a multipart form", 415, "unsupported_media_type",
            s.post(url, files={"csrf_token": (None, token), "name": (None, "m")}, headers=same, timeout=10))
    refused("a JSON body", 415, "unsupported_media_type",
            s.post(url, data=json.dumps({"csrf_token": token, "name": "j"}), headers={"Content-Type": "application/json", **same}, timeout=10))
    refused("a text/plain body", 415, "unsupported_media_type",
            s.post(url, data=f"csrf_token={token}&name=t", headers={"Content-Type": "text/plain", **same}, timeout=10))
    refused("an unknown route", 404, "not_found", s.get(b.base + "/admin/no-such-page", timeout=10))
    refused("an unknown route, signed out", 404, "not_found", requests.get(b.base + "/admin/no/such/page", timeout=10))
    refused("an unknown key", 404, "not_found", s.get(b.base + "/admin/keys/kwk_0000000000000000/disable", timeout=10))
    refused("a method a page does not take", 405, "method_not_allowed", s.delete(b.base + "/admin/keys/new", headers=same, timeout=10))

    # The same form, well formed, is accepted: the refusals above were for their reasons.
    r = s.post(url, data={**good, "csrf_token": token}, headers=same, timeout=10)
    m = re.search(r'id="secret"[^>]*>([^<]+)<', r.text)
    if m:
        remember(m.group(1))
    check(f"{n}: the well-formed form is accepted (control)", r.status_code == 200 and m is not None, r.status_code)
    check(f"{n}: the show-once answer is never cached", r.headers.get("Cache-Control") == "no-store", r.headers.get("Cache-Control"))
    s.post(b.base + "/admin/logout", data={"csrf_token": token}, headers=same, timeout=10)


# ---------------------------------------------------------------------------------------------
# An expired session is sent to sign-in
# ---------------------------------------------------------------------------------------------
def expired_session(driver, variant):
    b = Browser(driver, variant)
    note(f"---- {b.name}: sessions last {variant['lifetime']} s")
    cookie = b.sign_in("alice")
    time.sleep(variant["lifetime"] + 1.5)
    b.get("/admin/")
    expect_eq(f"{b.name}: after the session's lifetime the browser is sent to sign-in", b.mount + "/admin/login", b.path())
    r = requests.get(b.base + "/admin/", cookies={"keyward_session": cookie}, allow_redirects=False, timeout=10)
    location = r.headers.get("Location", "")
    check(f"{b.name}: the expired cookie, replayed, is sent to sign-in with ended=1 (server-side expiry)",
          r.status_code == 303 and location.startswith(b.mount + "/admin/login?") and "ended=1" in location, f"{r.status_code} {location}")
    b.d.get(b.origin + location)
    check(f"{b.name}: the sign-in page says the session ended", "Your session has ended" in b.d.find_element(By.TAG_NAME, "main").text, b.h1())
    b.axe("session ended")
    r = requests.post(b.base + "/admin/keys/new", cookies={"keyward_session": cookie}, data={"name": "late"}, allow_redirects=False, timeout=10)
    check(f"{b.name}: a POST with the expired session changes nothing (303 to sign-in)",
          r.status_code == 303 and "/admin/login" in r.headers.get("Location", ""), r.status_code)


def where(e):
    """The innermost line of this file an exception passed through."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == __file__]
    return f"line {frames[-1].lineno} ({frames[-1].line})" if frames else "?"


def main():
    only = set(CONFIG.get("only", "").split())
    driver = make_driver(os.path.join(CONFIG["tmp"], "logs"))
    try:
        note(f"chromium {driver.capabilities.get('browserVersion')}, chromedriver "
             f"{driver.capabilities.get('chrome', {}).get('chromedriverVersion', '?').split(' ')[0]}")
        for variant in CONFIG["variants"]:
            if only and variant["name"] not in only:
                continue
            started = time.time()
            try:
                scenario(driver, variant)
            except Exception as e:  # a broken step fails loudly and the next variant still runs
                traceback.print_exc()
                notok(f"{variant['name']}: the scenario ran to the end", f"{type(e).__name__}: {e} at {where(e)}")
                driver.save_screenshot(os.path.join(CONFIG["tmp"], "logs", f"failure-{variant['name']}.png"))
            note(f"{variant['name']}: {time.time() - started:.1f} s")
        short = CONFIG.get("short")
        if short and (not only or short["name"] in only or "nginx" in only):
            try:
                expired_session(driver, short)
            except Exception as e:
                traceback.print_exc()
                notok(f"{short['name']}: the expiry scenario ran to the end", f"{type(e).__name__}: {e} at {where(e)}")
    finally:
        driver.quit()
        for other in SECOND:
            other.quit()
    note(f"axe-core {', '.join(sorted(AXE_SEEN))} ({AXE_SCRIPT}): {AXE_TIME[1]} pages, {AXE_TIME[0]:.1f} s")
    finish("pages_browser.py", STARTED)


main()
