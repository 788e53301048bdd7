"""The admin pages in headless Chromium (selenium), run by 12-pages.sh: one scenario through every
server the pages run behind (nginx, Apache mod_proxy_fcgi, Apache CGI, lighttpd), axe-core on every
page, bad input with requests, an expired session, and the screenshots for the README.

    python3 pages_browser.py CONFIG.json

CONFIG (written by 12-pages.sh): keyward (the binary), db, check (a URL behind nginx's
keyward-protect.conf), alice and root ([user, password]), screenshots (a directory), tmp, variants
([{name, base, screenshots?}], base = the mount's URL, e.g. http://127.0.0.1:PORT/keyward), only
(space-separated variant names, or empty for all), short ({name, base, lifetime}: a Keyward with a
session lifetime of `lifetime` seconds).

Pages added by other areas (users, groups, roles, resources, signing keys, audit, explain,
clients, access requests, sessions) join ADMIN_PAGES / USER_PAGES below: a path to open, what its
heading says, and the one change to make on it.
"""

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
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import check, expect_eq, finish, note, notok  # noqa: E402

STARTED = time.time()
# axe-core itself: the 4.x that axe-playwright-python ships (installed without its dependencies,
# for this file only), run by axe-selenium-python, whose own copy is axe-core 3.1 (2018).
AXE_SCRIPT = os.path.join(importlib.util.find_spec("axe_playwright_python").submodule_search_locations[0], "axe.min.js")
CONFIG = json.load(open(sys.argv[1]))
SECRETS_FILE = os.path.join(CONFIG["tmp"], "new-secrets.txt")
WIDTHS = (1440, 360)
AXE_SEEN = set()
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


# ---------------------------------------------------------------------------------------------
# The browser
# ---------------------------------------------------------------------------------------------
def make_driver():
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root, in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-sync",
        "--disable-features=Translate,PasswordLeakDetection,AutofillServerCommunication",
        "--password-store=basic",
        "--lang=en-US",
        "--force-device-scale-factor=1",
        "--hide-scrollbars",
        "--window-size=1440,900",
    ):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"credentials_enable_service": False, "profile.password_manager_enabled": False})
    service = Service(executable_path="/usr/bin/chromedriver", log_output=os.path.join(CONFIG["tmp"], "logs", "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(20)
    return driver


class Browser:
    """One variant's session in the shared browser: navigation, axe, screenshots, assertions."""

    def __init__(self, driver, variant):
        self.d = driver
        self.v = variant
        self.name = variant["name"]
        self.base = variant["base"]
        self.mount = urlsplit(self.base).path
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.base))
        self.axed = set()
        self.list_path = "/admin/"

    # -- navigation ---------------------------------------------------------------------------
    def get(self, path):
        self.d.get(self.base + path)

    def path(self):
        return urlsplit(self.d.current_url).path

    def url_query(self):
        return urlsplit(self.d.current_url).query

    def h1(self):
        found = self.d.find_elements(By.CSS_SELECTOR, "main h1")
        return found[0].text if found else ""

    def submit(self, button):
        """Clicks a submit button (or a link) and waits for the next page to load."""
        page = self.d.find_element(By.TAG_NAME, "html")
        button.click()

        def replaced(driver):
            try:
                page.is_enabled()
                return False
            except WebDriverException:  # stale, or "node ... does not belong to the document" mid-navigation
                return True

        WebDriverWait(self.d, 15).until(replaced)
        WebDriverWait(self.d, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")

    click_link = submit

    def main_submit(self):
        return self.d.find_element(By.CSS_SELECTOR, "main form button[type=submit]")

    def no_alert(self):
        try:
            text = self.d.switch_to.alert.text
            self.d.switch_to.alert.dismiss()
            return f"an alert: {text!r}"
        except NoAlertPresentException:
            return None

    def everything(self):
        """The page as served and as it is now: source, DOM, visible text, form values, title."""
        return self.d.execute_script(
            "return [document.documentElement.outerHTML, document.body ? document.body.innerText : '', document.title,"
            " Array.from(document.querySelectorAll('input,textarea,select')).map(function (e) { return e.value; }).join(' '),"
            " Array.from(document.querySelectorAll('[data-copy]')).map(function (e) { return e.getAttribute('data-copy'); }).join(' ')"
            "].join('\\n')"
        ) + "\n" + self.d.page_source

    # -- signing in and out ---------------------------------------------------------------------
    def sign_in(self, who, *, shots=False, label="alice"):
        user, password = CONFIG[who]
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

    def sign_out(self):
        cookie = (self.d.get_cookie("keyward_session") or {}).get("value", "")
        self.get("/admin/")
        button = self.d.find_element(By.XPATH, "//header//form//button[normalize-space()='Sign out']")
        self.submit(button)
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
    def axe(self, label):
        """axe-core on the current page: no serious or critical violation (each page once per variant)."""
        if label in self.axed:
            return
        self.axed.add(label)
        axe = Axe(self.d, script_url=AXE_SCRIPT)
        axe.inject()
        results = axe.run(options="{resultTypes: ['violations']}")
        AXE_SEEN.add(results.get("testEngine", {}).get("version", "?"))
        bad = [v for v in results.get("violations", []) if v.get("impact") in ("serious", "critical")]
        minor = [v["id"] for v in results.get("violations", []) if v not in bad]
        detail = "; ".join(
            f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(str(n.get('target')) for n in v.get('nodes', [])[:3])}" for v in bad
        )
        check(f"{self.name}: axe finds no serious or critical violation on {label}", not bad, detail)
        if minor:
            note(f"{self.name}: axe, minor or moderate on {label}: {', '.join(sorted(set(minor)))}")
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
@dataclass
class PageCheck:
    label: str
    path: str
    heading: str
    change: Optional[Callable[["Browser"], None]] = None


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


ADMIN_PAGES = [
    PageCheck("all keys", "/admin/?user=*", "All keys"),
    PageCheck("alice's keys", "/admin/?user=alice", "Keys of alice"),
    PageCheck("new key for alice", "/admin/keys/new?user=alice", "New key", change_new_key_for_alice),
]

# Pages every signed-in user has beside My keys (clients, access requests, sessions when they land).
USER_PAGES: list = []


def open_pages(b, pages, who):
    for page in pages:
        b.get(page.path)
        check(f"{b.name}: {who} opens {page.label} ({page.path})", b.h1() == page.heading, f"heading {b.h1()!r}")
        b.axe(page.label)
        if page.change:
            page.change(b)


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
    open_pages(b, ADMIN_PAGES, "root")
    b.sign_out()

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
    refused("POST with a wrong CSRF token", 403, "csrf_failed", s.post(url, data={**good, "csrf_token": "x" + token[1:]}, timeout=10))
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
    driver = make_driver()
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
    note(f"axe-core {', '.join(sorted(AXE_SEEN))} ({AXE_SCRIPT})")
    finish("pages_browser.py", STARTED)


main()
