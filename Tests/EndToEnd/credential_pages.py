"""The service pages in headless Chromium (selenium), run by 15-credential-pages.sh: a service made,
rotated, revealed and deleted on the pages, its credentials used through nginx at each step,
axe-core and the 360 px check on every new page, and the service page's screenshots.

    python3 credential_pages.py CONFIG.json

CONFIG (written by 15-credential-pages.sh): keyward (the binary), db, base (the mount's URL through
nginx, e.g. http://127.0.0.1:PORT/keyward), nginx (the site's URL: /api/ is behind
keyward-protect.conf), alice and carol ([user, password]), screenshots (a directory), tmp.

The browser is browser_kit.py's, as for pages_browser.py (12-pages.sh).
"""

import base64
import hashlib
import hmac
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import traceback

import jwt
import requests
from axe_selenium_python import Axe
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser_kit import PageBrowser, make_driver, xpath_literal  # noqa: E402
from tap import check, expect_eq, finish, note, notok  # noqa: E402

STARTED = time.time()
AXE_SCRIPT = os.path.join(importlib.util.find_spec("axe_playwright_python").submodule_search_locations[0], "axe.min.js")
CONFIG = json.load(open(sys.argv[1]))
SECRETS_FILE = os.path.join(CONFIG["tmp"], "new-secrets.txt")
SERVICE = "billing-e2e"
KEY = re.compile(r"kws_([0-9A-Za-z]{16})_[0-9A-Za-z]{38}")


# ---------------------------------------------------------------------------------------------
# Helpers: the CLI (the ground truth), nginx's check, the secrets seen
# ---------------------------------------------------------------------------------------------
def cli(*args):
    out = subprocess.run([CONFIG["keyward"], "--db", CONFIG["db"], "--json", *args], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"keyward {' '.join(args)}: {out.stderr.strip()}")
    return json.loads(out.stdout) if out.stdout.strip() else None


def credentials(type_):
    """The service's credentials of one type as stored: [(id, status)], oldest first."""
    row = cli("service", "show", SERVICE)
    return [(c["id"], c["status"]) for c in row.get("credentials", []) if c["type"] == type_]


def through_nginx(secret):
    """nginx's answer on /api/ for a Bearer secret: (status, what the backend saw)."""
    try:
        r = requests.get(CONFIG["nginx"] + "/api/credential-pages", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    except requests.RequestException as e:
        return f"error {e}", {}
    try:
        seen = r.json()["headers"] if r.status_code == 200 else {}
    except ValueError:
        seen = {}
    return r.status_code, seen


def status_of(secret):
    return through_nginx(secret)[0]


def signed_status(kid, secret):
    """nginx's answer on /api/ for a GET signed (RFC 9421, hmac-sha256) for credential `kid` with
    the base64 `secret`: a bodiless request, which nginx's auth_request check verifies."""
    url = CONFIG["nginx"] + "/api/credential-pages"
    params = f'("@method" "@target-uri");created={int(time.time())};keyid="{kid}";alg="hmac-sha256"'
    base = f'"@method": GET\n"@target-uri": {url}\n"@signature-params": {params}'
    mac = base64.b64encode(hmac.new(base64.b64decode(secret), base.encode(), hashlib.sha256).digest()).decode()
    try:
        r = requests.get(url, headers={"Signature-Input": f"sig1={params}", "Signature": f"sig1=:{mac}:"}, timeout=10)
    except requests.RequestException as e:
        return f"error {e}"
    return r.status_code


def remember(secret):
    with open(SECRETS_FILE, "a") as f:
        f.write(secret + "\n")


class Browser(PageBrowser):
    def __init__(self, driver):
        super().__init__(driver, CONFIG["base"])

    def reload_and_back(self, label, secret):
        """Reload (the browser sends the POST again) and back: the secret is nowhere, nor in a URL."""
        self.d.refresh()
        try:
            WebDriverWait(self.d, 5).until(lambda d: d.execute_script("return document.readyState") == "complete")
        except TimeoutException:
            pass
        self.no_alert()
        check(f"{label}: reload: the secret is nowhere in the page", secret not in self.everything(), self.h1())
        self.d.back()
        self.no_alert()
        check(f"{label}: back: the secret is nowhere in the page", secret not in self.everything(), f"{self.d.current_url} {self.h1()}")
        history = self.d.execute_script("return window.history.length")
        check(f"{label}: no URL carries the secret", secret not in self.d.current_url, f"{history} entries")

    def sign_in(self, who):
        user, password = CONFIG[who]
        self.get("/admin/login")
        self.d.delete_all_cookies()
        self.get("/admin/login")
        self.d.find_element(By.ID, "user").send_keys(user)
        self.d.find_element(By.ID, "password").send_keys(password)
        self.submit(self.d.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
        expect_eq(f"{who} signs in and lands on /admin/", self.mount + "/admin/", self.path())
        self.cookie = {"keyward_session": (self.d.get_cookie("keyward_session") or {}).get("value", "")}

    # -- axe and the 360 px check ----------------------------------------------------------------
    def axe(self, label):
        """axe-core on the current page: no serious or critical violation; the page fits 360 px;
        every link, form and asset stays under the mount."""
        if label in self.axed:
            return
        self.axed.add(label)
        axe = Axe(self.d, script_url=AXE_SCRIPT)
        axe.inject()
        results = axe.run(options="{resultTypes: ['violations']}")
        bad = [v for v in results.get("violations", []) if v.get("impact") in ("serious", "critical")]
        minor = [v["id"] for v in results.get("violations", []) if v not in bad]
        detail = "; ".join(f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(str(n.get('target')) for n in v.get('nodes', [])[:3])}" for v in bad)
        check(f"axe finds no serious or critical violation on {label}", not bad, detail)
        if minor:
            note(f"axe, minor or moderate on {label}: {', '.join(sorted(set(minor)))}")
        self.fits(360, label)
        targets = self.d.execute_script(
            "return Array.from(document.querySelectorAll('a[href],form[action],link[href],script[src]'))"
            ".map(function (e) { return e.getAttribute('href') || e.getAttribute('action') || e.getAttribute('src'); })"
        )
        outside = [t for t in targets if not (t.startswith(self.mount + "/admin/") or t.startswith("#"))]
        check(f"every link, form and asset on {label} is under {self.mount}/admin/", not outside and targets, outside or "none")

    def fits(self, width, label):
        overflow, wide = self.overflow(width)
        check(f"{label} fits {width} px without sideways scrolling", overflow <= 0, f"{overflow} px too wide: {', '.join(wide)}")

    def shot(self, label):
        for width in (1440, 360):
            metrics = {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600}
            self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
            height = self.d.execute_script("return Math.ceil(document.body.getBoundingClientRect().height) + 24")
            self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": max(480, min(int(height), 4000))})
            path = os.path.join(CONFIG["screenshots"], f"{label}-{width}.png")
            check(f"screenshot {os.path.basename(path)}", self.d.save_screenshot(path), path)
        self.d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    # -- the service page ------------------------------------------------------------------------
    def service_page(self):
        self.get(f"/admin/services/{SERVICE}")

    def rule_button(self, label, credential):
        found = self.d.find_elements(By.XPATH, f"//main//button[@aria-label={xpath_literal(label + ' ' + credential)}]")
        return found[0] if found else None

    def disabled_with_reason(self, what, button, words):
        """The button is disabled, and the reason its aria-describedby names is shown and says `words`."""
        if button is None:
            notok(f"{what}: the button is there", "none")
            return
        reason_id = button.get_attribute("aria-describedby") or ""
        reason = self.d.find_elements(By.ID, reason_id) if reason_id else []
        text = reason[0].text if reason else ""
        check(
            f"{what}: disabled, its reason shown beside it and tied by aria-describedby",
            not button.is_enabled() and reason and reason[0].is_displayed() and words in text,
            f"enabled={button.is_enabled()} describedby={reason_id!r} reason={text!r}",
        )

    def masked_cells(self):
        return [c.text for c in self.d.find_elements(By.CSS_SELECTOR, "main td[data-label=Credential] code")]


# ---------------------------------------------------------------------------------------------
# The scenario
# ---------------------------------------------------------------------------------------------
def scenario(b):
    d = b.d
    b.sign_in("alice")
    check("alice's navigation has Services", "Services" in b.nav(), b.nav())
    b.submit(d.find_element(By.XPATH, "//header//nav//a[normalize-space()='Services']"))
    expect_eq("Services opens /admin/services", b.mount + "/admin/services", b.path())
    b.axe("the service list")

    # A hostile name: refused next to the field, as text.
    b.fill("service_name", "<script>alert(1)</script>")
    d.find_element(By.CSS_SELECTOR, "input[name=scope][value='/api/']").click()
    b.press("Create service")
    check("a name with markup is refused next to the field", b.field_error("service_name") is not None, b.h1())
    expect_eq("a name with markup: no script ran", None, b.no_alert())
    expect_eq("a name with markup comes back as text", "<script>alert(1)</script>", d.find_element(By.ID, "service_name").get_attribute("value"))

    # A new service: its two secrets on the show-once page.
    b.fill("service_name", SERVICE)
    box = d.find_element(By.CSS_SELECTOR, "input[name=scope][value='/api/']")
    if not box.is_selected():
        box.click()
    b.press("Create service")
    expect_eq("creating the service shows the show-once page", f"Your new service {SERVICE}", b.h1())
    key = d.find_element(By.ID, "service-key").text
    secret = d.find_element(By.ID, "jwt-secret").text
    remember(key)
    remember(secret)
    match = KEY.fullmatch(key)
    check("the show-once page shows a kws_ service key", match is not None, key[:12])
    check("the show-once page shows a 32-byte base64 JWT secret", len(base64.b64decode(secret or "x===")) == 32, len(secret))
    copies = d.find_elements(By.CSS_SELECTOR, "button[data-copy]")
    check("both secrets have a copy button, shown (the script runs under the CSP)", len(copies) == 2 and all(c.is_displayed() for c in copies), len(copies))
    warn = d.find_element(By.CSS_SELECTOR, "main .notice").text
    check("the show-once page warns to copy them now", "Copy the secrets now." in warn, warn)
    curl_line = d.find_element(By.ID, "curl").text
    check("the show-once page has a curl line with the key", f"Authorization: Bearer {key}" in curl_line, curl_line[:50])
    check("the show-once page has a JWT example with the secret", secret in d.find_element(By.ID, "jwt-example").text, "")
    b.axe("the new service's show-once page")
    k1 = f"kws_{match.group(1)}" if match else ""

    status, seen = through_nginx(key)
    expect_eq("the service key passes nginx's check on /api/", 200, status)
    expect_eq("the backend sees X-Auth-Service", SERVICE, seen.get("x-auth-service"))
    expect_eq("the backend sees X-Auth-Method service-key", "service-key", seen.get("x-auth-method"))
    now = int(time.time())
    token = jwt.encode({"iss": SERVICE, "iat": now, "exp": now + 300}, base64.b64decode(secret), algorithm="HS256")
    status, seen = through_nginx(token)
    expect_eq("a JWT minted with the secret passes (service-jwt)", (200, "service-jwt"), (status, seen.get("x-auth-method")))
    b.reload_and_back("the new service", key)
    b.reload_and_back("the new service (JWT secret)", secret)
    expect_eq("one service after the reload (its name is taken)", 1, len(cli_services()))

    # The service page: masked, Discard disabled on the only active key.
    b.service_page()
    expect_eq("the service page", f"Service {SERVICE}", b.h1())
    masked = b.masked_cells()
    check("the service page shows the key masked (kws_<id>_••••)", f"{k1}_••••" in masked, masked)
    check("the service page shows no secret", key not in b.everything() and secret not in b.everything(), "")
    b.axe("the service page")
    b.disabled_with_reason("Discard on the only active key", b.rule_button("Discard", k1), "is the only active credential")

    # A second key: shown once; Add is then disabled (two active).
    b.press("Add service key")
    expect_eq("Add service key shows the new key once", f"New service key for {SERVICE}", b.h1())
    second = d.find_element(By.ID, "secret").text
    remember(second)
    match2 = KEY.fullmatch(second)
    k2 = f"kws_{match2.group(1)}" if match2 else ""
    check("the second key is a new kws_ key", match2 is not None and second != key, second[:12])
    b.axe("the added key's show-once page")
    expect_eq("the second key passes nginx's check", 200, status_of(second))
    b.reload_and_back("the added key", second)
    b.service_page()
    add = d.find_element(By.XPATH, "//main//button[normalize-space()='Add service key']")
    b.disabled_with_reason("Add service key with two active", add, "are active already")
    expect_eq("two active service keys", [(k1, "active"), (k2, "active")], credentials("service-key"))

    # Discard the first: refused from the next request on; Discard is disabled on the second.
    b.press("Discard", named=f"Discard {k1}")
    check("discard: back on the service page with a notice", "discarded" in b.notice(), b.notice())
    expect_eq("discarded: the first key is refused (401)", 401, status_of(key))
    expect_eq("discarded: the second key still passes", 200, status_of(second))
    b.disabled_with_reason("Discard on the now only active key", b.rule_button("Discard", k2), "is the only active credential")
    b.shot("service")

    # Reactivate it, then discard it again and delete it with the password.
    b.press("Reactivate", named=f"Reactivate {k1}")
    expect_eq("reactivated: the first key passes again", 200, status_of(key))
    b.press("Discard", named=f"Discard {k1}")
    expect_eq("discarded again: refused", 401, status_of(key))
    b.follow("Delete", named=f"Delete {k1}")
    check("delete asks for the password on a page of its own", b.h1().startswith(f"Delete service key {k1}"), b.h1())
    field = d.find_element(By.ID, "password")
    label = d.find_elements(By.CSS_SELECTOR, "label[for=password]")
    check(
        "the password field: type=password, autocomplete=current-password, labelled",
        field.get_attribute("type") == "password" and field.get_attribute("autocomplete") == "current-password" and label,
        field.get_attribute("outerHTML"),
    )
    b.axe("the delete confirmation")
    b.fill("password", "not the password")
    b.press("Delete")
    check("a wrong password: refused next to the field", (b.field_error("password") or "").startswith("The password did not match"), b.field_error("password"))
    expect_eq("a wrong password: the key is still there", [(k1, "inactive"), (k2, "active")], credentials("service-key"))
    b.fill("password", CONFIG["alice"][1])
    b.press("Delete")
    check("deleted: back on the service page with a notice", "deleted" in b.notice(), b.notice())
    expect_eq("deleted: one key left", [(k2, "active")], credentials("service-key"))

    # Reveal the second after the password again: on the answer to that POST only.
    b.follow("Reveal", named=f"Reveal {k2}")
    check("reveal asks for the password on a page of its own", b.h1().startswith(f"Reveal service key {k2}"), b.h1())
    check("the reveal page shows no secret", second not in b.everything(), "")
    b.axe("the reveal confirmation")
    b.fill("password", "not the password either")
    b.press("Show the secret")
    check("reveal with a wrong password: refused next to the field", b.field_error("password") is not None, b.h1())
    check("reveal with a wrong password: no secret", second not in b.everything(), "")
    b.fill("password", CONFIG["alice"][1])
    b.press("Show the secret")
    shown = d.find_elements(By.ID, "secret")
    expect_eq("reveal with the password shows the secret", second, shown[0].text if shown else None)
    b.axe("the revealed secret")
    b.reload_and_back("the revealed secret", second)
    r = requests.get(b.base + f"/admin/services/{SERVICE}", cookies=b.cookie, timeout=10)
    expect_eq("the pages are sent with Cache-Control: no-store", "no-store", r.headers.get("Cache-Control"))

    # A POST without the token, or from another site: refused, nothing changes.
    cookie = b.cookie
    action = f"{b.base}/admin/services/{SERVICE}/credentials"
    r = requests.post(action, data={"type": "service-key"}, cookies=cookie, headers={"Origin": CONFIG["nginx"]}, allow_redirects=False, timeout=10)
    check("a POST without the CSRF token: 403 csrf_failed", r.status_code == 403 and "csrf_failed" in r.text, r.status_code)
    r = requests.post(action, data={"type": "service-key"}, cookies=cookie, headers={"Origin": "https://evil.example"}, allow_redirects=False, timeout=10)
    check("a POST from another Origin: 403 csrf_failed", r.status_code == 403 and "csrf_failed" in r.text, r.status_code)
    expect_eq("after the refused POSTs: still one key", [(k2, "active")], credentials("service-key"))

    # Delete the service with the password.
    b.service_page()
    b.follow(f"Delete service {SERVICE}")
    expect_eq("delete service asks first", f"Delete service {SERVICE}?", b.h1())
    b.axe("the service delete confirmation")
    b.fill("password", "wrong again")
    b.press("Delete service")
    check("delete service with a wrong password: refused next to the field", b.field_error("password") is not None, b.h1())
    expect_eq("delete service with a wrong password: still there", 1, len(cli_services()))
    b.fill("password", CONFIG["alice"][1])
    b.press("Delete service")
    check("the service is deleted (back on the list, with a notice)", b.path() == b.mount + "/admin/services" and "deleted" in b.notice(), b.notice())
    expect_eq("deleted: no service left", 0, len(cli_services()))
    expect_eq("deleted: its key is refused", 401, status_of(second))

    hmac_scenario(b)

    # carol holds no privilege: no Services in her navigation.
    b.sign_in("carol")
    check("carol (no manage-own-keys) has no Services in the navigation", "Services" not in b.nav(), b.nav())


def hmac_scenario(b):
    """A signed-request credential made on the pages, its secrets rotated, revealed and deleted
    there, each step's effect checked with a request signed through nginx."""
    d = b.d
    check("alice's navigation has Signed requests", "Signed requests" in b.nav(), b.nav())
    b.submit(d.find_element(By.XPATH, "//header//nav//a[normalize-space()='Signed requests']"))
    expect_eq("Signed requests opens /admin/hmac", b.mount + "/admin/hmac", b.path())
    b.axe("the signed-request list")
    b.follow("New credential")
    b.axe("the new signed-request credential form")
    b.fill("name", "orders-e2e")
    d.find_element(By.CSS_SELECTOR, "input[name=scope][value='/api/']").click()
    b.press("Create credential")
    expect_eq("creating a signed-request credential shows the show-once page", "Your new credential", b.h1())
    first = d.find_element(By.ID, "secret").text
    remember(first)
    rows = cli("hmac", "list", "--user", "alice")
    kid = rows[0]["id"] if rows else ""
    check("the credential is stored for alice with its scope", rows and rows[0]["scopes"] == ["/api/"], rows)
    check("the show-once page names the keyid and shows a 32-byte secret", kid in b.everything() and len(base64.b64decode(first or "x===")) == 32, kid)
    check("the show-once page shows how to sign with it", "Authorization: HMAC " + kid in d.find_element(By.ID, "curl").text, "")
    b.axe("the signed-request show-once page")
    b.shot("hmac-show-once")
    expect_eq("a GET signed with the secret passes nginx's check", 200, signed_status(kid, first))
    b.reload_and_back("the new signed-request credential", first)

    def secrets():
        return [(s["serial"], s["state"]) for s in cli("hmac", "show", kid)["secrets"]]

    b.get(f"/admin/hmac/{kid}/secrets")
    expect_eq("the secrets page", "Secrets of orders-e2e", b.h1())
    check("the secrets page shows no secret", first not in b.everything(), "")
    b.axe("the secrets page")
    b.disabled_with_reason("Discard on the only active secret", b.rule_button("Discard", "secret 1"), "is the only active credential")

    b.press("Add secret")
    expect_eq("Add secret shows the new secret once", "New secret for orders-e2e", b.h1())
    second = d.find_element(By.ID, "secret").text
    remember(second)
    check("the second secret is new", second and second != first, "")
    expect_eq("both secrets sign", (200, 200), (signed_status(kid, first), signed_status(kid, second)))
    b.reload_and_back("the added secret", second)
    b.get(f"/admin/hmac/{kid}/secrets")
    add = d.find_element(By.XPATH, "//main//button[normalize-space()='Add secret']")
    b.disabled_with_reason("Add secret with two active", add, "are active already")

    b.press("Discard", named="Discard secret 1")
    check("discard: back on the secrets page with a notice", "discarded" in b.notice(), b.notice())
    expect_eq("discarded: the first secret's signatures are refused (401)", 401, signed_status(kid, first))
    expect_eq("discarded: the second still signs", 200, signed_status(kid, second))
    b.press("Reactivate", named="Reactivate secret 1")
    expect_eq("reactivated: the first signs again", 200, signed_status(kid, first))
    b.press("Discard", named="Discard secret 1")
    b.shot("hmac-secrets")
    b.follow("Delete", named="Delete secret 1")
    check("delete asks for the password", b.h1().startswith("Delete secret 1"), b.h1())
    b.axe("the secret's delete confirmation")
    b.fill("password", "not the password")
    b.press("Delete")
    check("a wrong password: refused next to the field", (b.field_error("password") or "").startswith("The password did not match"), b.field_error("password"))
    b.fill("password", CONFIG["alice"][1])
    b.press("Delete")
    check("deleted: a notice", "deleted" in b.notice(), b.notice())
    expect_eq("deleted: one secret left", [(2, "active")], secrets())

    b.follow("Reveal", named="Reveal secret 2")
    check("reveal asks for the password", b.h1().startswith("Reveal secret 2"), b.h1())
    b.fill("password", CONFIG["alice"][1])
    b.press("Show the secret")
    shown = d.find_elements(By.ID, "secret")
    expect_eq("reveal with the password shows the secret", second, shown[0].text if shown else None)
    b.axe("the revealed HMAC secret")
    b.reload_and_back("the revealed HMAC secret", second)

    b.get(f"/admin/hmac/{kid}/secrets")
    d.find_element(By.ID, "grace-2").click()  # retire the current one after 24 hours
    b.press("Add secret")
    third = d.find_element(By.ID, "secret").text
    remember(third)
    expect_eq("a roll: the old secret retires, the new one is active", [(2, "retiring"), (3, "active")], secrets())
    expect_eq("a roll: both sign during the grace", (200, 200), (signed_status(kid, second), signed_status(kid, third)))


def cli_services():
    rows = cli("service", "list")
    if isinstance(rows, dict):
        rows = rows.get("services", rows.get("items", []))
    return rows or []


def where(e):
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == __file__]
    return f"line {frames[-1].lineno} ({frames[-1].line})" if frames else "?"


def main():
    driver = make_driver(os.path.join(CONFIG["tmp"], "logs"))
    try:
        note(f"chromium {driver.capabilities.get('browserVersion')}")
        try:
            scenario(Browser(driver))
        except Exception as e:
            traceback.print_exc()
            notok("the scenario ran to the end", f"{type(e).__name__}: {e} at {where(e)}")
            driver.save_screenshot(os.path.join(CONFIG["tmp"], "logs", "failure.png"))
    finally:
        driver.quit()
    finish("credential_pages.py", STARTED)


main()
